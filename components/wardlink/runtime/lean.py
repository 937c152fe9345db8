"""Start a gateway component without pydantic's plugin discovery: about 4 MB less resident memory.

The first time pydantic builds a validator it looks for plugins: its
``pydantic.plugin._loader`` imports ``importlib.metadata`` and walks the entry points
of every installed distribution. ``importlib.metadata`` brings ``email``, ``zipfile``
and ``csv`` with it, and their code stays resident for the component's whole life,
for a search that finds nothing: a gateway installs a pinned set of distributions
(``components/requirements.lock``), none of which is a pydantic plugin.

``keep_pydantic_plugins_out`` installs, before pydantic is imported, a loader that
reports no plugins, which is what pydantic does when ``PYDANTIC_DISABLE_PLUGINS`` is
set (an environment variable alone would not help: the module is imported before the
variable is read). It is the import system's documented hook, an entry in
``sys.modules``, and it changes nothing when pydantic is already loaded.
``tests/runtime/test_lean.py`` checks that the real loader still offers what pydantic
calls, and that a running component holds no ``importlib.metadata``; the
``wardlink`` command finds its sub-commands without it (``wardlink.cli.entry_points``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable

#: The module pydantic imports to discover its plugins.
LOADER = "pydantic.plugin._loader"


def _no_plugins() -> Iterable[object]:
    """Pydantic plugins on a gateway: none (as with ``PYDANTIC_DISABLE_PLUGINS=__all__``)."""
    return ()


def keep_pydantic_plugins_out() -> bool:
    """Make pydantic's plugin discovery find nothing without importing ``importlib.metadata``.

    Call it before anything imports pydantic. Returns False if it did nothing
    (pydantic or its loader already imported).
    """
    if LOADER in sys.modules or "pydantic" in sys.modules:
        return False
    loader = types.ModuleType(LOADER, "Pydantic plugins on a Wardlink gateway: none.")
    loader.PYDANTIC_ENTRY_POINT_GROUP = "pydantic"  # type: ignore[attr-defined]
    loader.get_plugins = _no_plugins  # type: ignore[attr-defined]
    sys.modules[LOADER] = loader
    return True
