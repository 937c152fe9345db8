"""The seal that makes outbound types unforgeable outside the redaction policy.

Outbound types (``RedactedObservation``, ``RedactedDeviceStatus``, ``SpooledRecord``)
refuse to be constructed unless the current context holds the seal. Only a short
allow-list of modules may take the seal: the redaction policy, which is the only
place raw data becomes outbound data, and the spool, which restores records that
were sealed when they were written. Everything else - including tests - gets a
``PHIBoundaryError``. Python cannot make this unbreakable, but it turns an
accidental leak into an immediate, loud failure, which is what we need.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from wardlink.model.errors import PHIBoundaryError

_SEAL_HOLDERS: tuple[str, ...] = ("wardlink.phi", "wardlink.spool")
_sealed: ContextVar[bool] = ContextVar("wardlink_sealed", default=False)


def _caller_module(depth: int) -> str:
    frame = sys._getframe(depth)
    return str(frame.f_globals.get("__name__", ""))


@contextmanager
def sealing() -> Iterator[None]:
    """Allow outbound types to be built inside this block.

    Raises PHIBoundaryError unless called from the redaction policy or the spool.
    """
    # depth 3: _caller_module -> sealing (generator body) -> contextmanager __enter__ -> caller
    caller = _caller_module(3)
    if not any(caller == holder or caller.startswith(holder + ".") for holder in _SEAL_HOLDERS):
        raise PHIBoundaryError(f"module {caller!r} may not mint outbound (redacted) types")
    token = _sealed.set(True)
    try:
        yield
    finally:
        _sealed.reset(token)


def require_seal(type_name: str) -> None:
    """Raise unless the caller is inside ``sealing()``."""
    if not _sealed.get():
        raise PHIBoundaryError(
            f"{type_name} can only be built by the redaction policy (wardlink.phi)"
        )
