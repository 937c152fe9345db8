"""uvicorn's server without uvicorn's command line: about 1.5 MB less resident memory.

The UI runs uvicorn's ``Server`` with a ``Config`` in its own event loop; it never
uses uvicorn's command line. Yet ``import uvicorn`` runs the package's
``__init__``, which imports ``uvicorn.main`` - click, the reload and multi-worker
supervisors, multiprocessing - and all of it would stay resident in a component
that runs for weeks under a memory budget (``benchmarks/bench_ui.py``).

So the package module is created from its spec without running ``__init__`` (the
import system's documented ``module_from_spec``), ``Config`` and ``Server`` are
imported from their own modules and set on it, which is all uvicorn's submodules
take from the package (``from uvicorn import Config``). Any other name - ``run``,
``main``, ``__version__`` - runs the real ``__init__`` on first use (a module
``__getattr__``, PEP 562), so code elsewhere that uses uvicorn as documented still
works. If uvicorn is already imported this changes nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any


def _package_without_cli() -> None:
    spec = importlib.util.find_spec("uvicorn")
    if spec is None or spec.loader is None:
        raise ImportError("uvicorn is not installed")
    package = importlib.util.module_from_spec(spec)
    completed = False

    def complete(name: str) -> Any:
        nonlocal completed
        if completed:
            raise AttributeError(f"module 'uvicorn' has no attribute {name!r}")
        completed = True
        assert spec.loader is not None
        spec.loader.exec_module(package)  # the real __init__: imports uvicorn.main
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules["uvicorn"] = package


def _load() -> ModuleType:
    if "uvicorn" not in sys.modules:
        _package_without_cli()
    package = sys.modules["uvicorn"]
    from uvicorn.config import Config as config_class

    if "Config" not in package.__dict__:
        package.__dict__["Config"] = config_class
    from uvicorn.server import Server as server_class

    if "Server" not in package.__dict__:
        package.__dict__["Server"] = server_class
    return package


_load()

from uvicorn.config import Config  # noqa: E402 - after the package is prepared
from uvicorn.server import Server  # noqa: E402

__all__ = ["Config", "Server"]
