"""Which local cloud the in-process handlers see, when several run in one process.

The handlers read their AWS clients from process-wide state, as in Lambda
(``wardlink.cloudapi.services.use_services``, ``telemetry_writer.use_store``).
One process may still run several ``LocalCloud`` instances (a test session's
shared cloud and a test module's own, say): each invocation happens under
``INVOCATION_LOCK`` with the invoking cloud's services installed, and between
invocations the earliest running cloud's services stay installed, so code that
calls a handler directly keeps seeing the cloud it started first.

Only ``LocalCloud`` installs services, so this registry always knows what is
installed and can put it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from wardlink.cloudapi.handlers import telemetry_writer
from wardlink.cloudapi.services import Services, use_services
from wardlink.cloudapi.telemetry.store import TelemetryStore
from wardlink.localcloud.invoker import INVOCATION_LOCK


class HandlerOwner(Protocol):
    """What a cloud provides to the handlers while they run on its behalf."""

    @property
    def handler_services(self) -> Services | None: ...

    @property
    def handler_store(self) -> TelemetryStore | None: ...


class HandlerEnvironment:
    """Registry of running clouds; installs one cloud's services at a time."""

    def __init__(self) -> None:
        self._running: list[HandlerOwner] = []
        self._installed: HandlerOwner | None = None

    def register(self, owner: HandlerOwner) -> None:
        """A cloud is ready; the first one's services become the process default."""
        with INVOCATION_LOCK:
            if owner not in self._running:
                self._running.append(owner)
            if self._installed is None:
                self._install(owner)

    def unregister(self, owner: HandlerOwner) -> None:
        """A cloud stopped; if it was installed, the next running one (or nothing) is."""
        with INVOCATION_LOCK:
            if owner in self._running:
                self._running.remove(owner)
            if self._installed is owner:
                self._install(self._running[0] if self._running else None)

    @contextmanager
    def serving(self, owner: HandlerOwner) -> Iterator[None]:
        """Install ``owner``'s services for one invocation, then restore the default."""
        with INVOCATION_LOCK:
            previous = self._installed
            if previous is owner:
                yield
                return
            self._install(owner)
            try:
                yield
            finally:
                self._install(previous if previous in self._running else None)

    def _install(self, owner: HandlerOwner | None) -> None:
        use_services(owner.handler_services if owner is not None else None)
        telemetry_writer.use_store(owner.handler_store if owner is not None else None)
        self._installed = owner


HANDLERS = HandlerEnvironment()
