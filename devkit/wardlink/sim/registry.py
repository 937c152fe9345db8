"""Registry of device simulators, so ``wardlink sim NAME`` needs no edit per device.

A simulator module registers a factory under a stable name::

    @register_simulator("nonin-2", "Nonin OEM III pulse oximeter on a pty")
    class NoninSimulator(Simulator): ...

A factory is anything callable with a ``SimOptions`` that returns an object with
the ``RunnableSimulator`` methods - a ``Simulator`` subclass, or a small adapter
around a simulator with its own constructor (the Bumble peripherals).
Simulator-specific settings travel in ``SimOptions.settings`` (``--set key=value``
on the command line). Each simulator declares the settings it reads, with a line
of help each (``wardlink sim NAME --settings`` lists them), so a mistyped key is an
error rather than silently ignored: a fault test that injects nothing passes for
the wrong reason.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable


@dataclass(frozen=True)
class SimOptions:
    """Common simulator options; which of them apply depends on the simulator."""

    pty_link: Path | None = None  # serial sims: symlink to the pty's device end
    host: str = "127.0.0.1"  # TCP sims: where to listen (with ``port``)
    port: int | None = None  # TCP sims: listen port (0 = any free port)
    connect: tuple[str, int] | None = None  # TCP sims: connect to a gateway listener
    rate_hz: float | None = None  # messages per second; None = the device's own rate
    seed: int = 0  # makes the simulated patient and values reproducible
    settings: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class RunnableSimulator(Protocol):
    """What the CLI and tests need from a simulator."""

    async def start(self) -> str:
        """Open the device end (pty, socket, radio); return where it can be reached."""
        ...

    async def run(self, stop: asyncio.Event) -> None:
        """Produce data until ``stop`` is set."""
        ...

    async def close(self) -> None:
        """Release everything ``start`` opened."""
        ...

    def phi_canaries(self) -> tuple[str, ...]:
        """Identifying strings of the simulated patient, for leak tests."""
        ...


SimulatorFactory = Callable[[SimOptions], RunnableSimulator]
F = TypeVar("F", bound=SimulatorFactory)

#: The scheduled faults every ``Simulator`` subclass understands.
FAULT_SETTINGS: Mapping[str, str] = {
    "garbage_every": "write random bytes after every N messages (0 = never)",
    "disconnect_every": "drop the link and bring it back after every N messages (0 = never)",
    "silence_after": "go silent this many seconds after start (0 = never)",
    "silence_for": "stay silent this many seconds (default 3600)",
}


class UnknownSettingError(ValueError):
    """A ``--set`` key the simulator does not read."""


@dataclass(frozen=True)
class SimulatorEntry:
    name: str
    description: str
    factory: SimulatorFactory
    settings: Mapping[str, str] = field(default_factory=dict)  # key -> help

    def check_settings(self, settings: Mapping[str, str]) -> None:
        """Raise UnknownSettingError naming the keys this simulator does not read."""
        unknown = sorted(set(settings) - set(self.settings))
        if unknown:
            known = ", ".join(sorted(self.settings)) or "none"
            raise UnknownSettingError(
                f"simulator {self.name!r} has no setting {', '.join(map(repr, unknown))}; "
                f"its settings: {known} (wardlink sim {self.name} --settings)"
            )


log = logging.getLogger(__name__)
_SIMULATORS: dict[str, SimulatorEntry] = {}
_NOT_SIMULATORS = frozenset({"base", "registry", "patients"})


def register_simulator(
    name: str, description: str = "", settings: Mapping[str, str] | None = None
) -> Callable[[F], F]:
    """Decorator: make a simulator factory available as ``wardlink sim NAME``.

    ``settings`` (key -> help) are the ``--set`` keys it reads; a ``Simulator``
    subclass may declare them as its ``settings_help`` class attribute instead.
    """

    def decorate(factory: F) -> F:
        known = _SIMULATORS.get(name)
        if known is not None and known.factory is not factory:
            raise ValueError(f"simulator name {name!r} registered twice")
        doc_lines = (factory.__doc__ or "").strip().splitlines()
        text = description or (doc_lines[0] if doc_lines else "")
        declared = settings if settings is not None else getattr(factory, "settings_help", {})
        _SIMULATORS[name] = SimulatorEntry(
            name=name, description=text, factory=factory, settings=dict(declared)
        )
        return factory

    return decorate


def _load_builtin() -> None:
    import wardlink.sim as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_SIMULATORS or info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"wardlink.sim.{info.name}")
        except ModuleNotFoundError as exc:
            # An optional extra (e.g. bumble for the BLE sims) is not installed:
            # those simulators are unavailable, the others still work.
            if exc.name and exc.name.startswith("wardlink"):
                raise
            log.info("simulator module %s unavailable: %s missing", info.name, exc.name)


def all_simulators() -> dict[str, SimulatorEntry]:
    _load_builtin()
    return dict(sorted(_SIMULATORS.items()))


def get_simulator(name: str) -> SimulatorEntry:
    _load_builtin()
    try:
        return _SIMULATORS[name]
    except KeyError:
        known = ", ".join(sorted(_SIMULATORS))
        raise KeyError(f"unknown simulator {name!r}; known: {known}") from None


def create_simulator(name: str, options: SimOptions | None = None) -> RunnableSimulator:
    """A simulator by name; raises UnknownSettingError for a setting it does not read."""
    entry = get_simulator(name)
    chosen = options or SimOptions()
    entry.check_settings(chosen.settings)
    return entry.factory(chosen)
