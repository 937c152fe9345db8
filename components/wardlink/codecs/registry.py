"""Registry of codecs by their stable public names (``serial:nonin-2`` ...).

A codec module registers its classes when it is imported (``@register``). The
DeviceProxy asks for the few codecs its devices use, so ``get_codec`` imports only
the module that defines the name asked for: a gateway with a pulse oximeter must
not load the HL7 parser or the BLE codecs. Which module that is, it learns without
importing anything, from the ``name: ClassVar[str] = "..."`` line each codec class
carries (the one place a codec's name is written). If that finds nothing - a name
computed at run time, a module shipped without source - every built-in module is
imported, as ``all_codecs`` does, so the answer never depends on the shortcut.

A registered name is also handed to the log filter (``keep_readable``): the text
scrubber would read ``serial:nonin-2`` as a labelled serial number, and a technician
needs to see which codec a log line is about.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from wardlink.codecs.base import StreamCodec, ValueCodec
from wardlink.phi.logfilter import keep_readable

CodecClass = type[StreamCodec] | type[ValueCodec]
_CODECS: dict[str, CodecClass] = {}
_NAME_LINE = re.compile(r"""^\s+name\s*(?::\s*ClassVar\[str\])?\s*=\s*["']([^"']+)["']""", re.M)


def register(cls: CodecClass) -> CodecClass:
    """Class decorator: make a codec available under ``cls.name``."""
    if cls.name in _CODECS and _CODECS[cls.name] is not cls:
        raise ValueError(f"codec name {cls.name!r} registered twice")
    _CODECS[cls.name] = cls
    keep_readable(cls.name)
    return cls


def _builtin_modules() -> list[str]:
    import wardlink.codecs as package

    return [
        f"wardlink.codecs.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if info.name not in {"base", "registry"} and not info.name.startswith("_")
    ]


def _load_builtin() -> None:
    # Imported for their @register side effect.
    for module in _builtin_modules():
        importlib.import_module(module)


@cache
def builtin_index() -> dict[str, str]:
    """Codec name -> the built-in module declaring it, read from source, importing nothing."""
    index: dict[str, str] = {}
    for module in _builtin_modules():
        spec = find_spec(module)
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(".py"):
            continue
        try:
            source = Path(origin).read_text(encoding="utf-8")
        except OSError:
            continue
        for name in _NAME_LINE.findall(source):
            index.setdefault(name, module)
    return index


def get_codec(name: str) -> CodecClass:
    if name not in _CODECS and name in builtin_index():
        importlib.import_module(builtin_index()[name])
    if name not in _CODECS:
        _load_builtin()
    try:
        return _CODECS[name]
    except KeyError:
        known = ", ".join(sorted(_CODECS))
        raise KeyError(f"unknown codec {name!r}; known: {known}") from None


def all_codecs() -> dict[str, CodecClass]:
    _load_builtin()
    return dict(sorted(_CODECS.items()))
