"""Registry of codecs by their stable public names (``serial:nonin-2`` ...)."""

from __future__ import annotations

from wardlink.codecs.base import StreamCodec, ValueCodec

CodecClass = type[StreamCodec] | type[ValueCodec]
_CODECS: dict[str, CodecClass] = {}


def register(cls: CodecClass) -> CodecClass:
    """Class decorator: make a codec available under ``cls.name``."""
    if cls.name in _CODECS and _CODECS[cls.name] is not cls:
        raise ValueError(f"codec name {cls.name!r} registered twice")
    _CODECS[cls.name] = cls
    return cls


def _load_builtin() -> None:
    # Imported for their @register side effect; kept lazy so importing the registry is cheap.
    import importlib
    import pkgutil

    import wardlink.codecs as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in {"base", "registry"} and not info.name.startswith("_"):
            importlib.import_module(f"wardlink.codecs.{info.name}")


def get_codec(name: str) -> CodecClass:
    _load_builtin()
    try:
        return _CODECS[name]
    except KeyError:
        known = ", ".join(sorted(_CODECS))
        raise KeyError(f"unknown codec {name!r}; known: {known}") from None


def all_codecs() -> dict[str, CodecClass]:
    _load_builtin()
    return dict(sorted(_CODECS.items()))
