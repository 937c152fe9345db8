"""Give the C heap's free pages back to the system, so the UI's resident set stays small.

The UI's steady RSS is budgeted (50 devices at 1 Hz and 5 browsers,
``benchmarks/bench_ui.py``). After start-up - configuration, imports, the first
templates - and after a burst such as sign-ins, glibc keeps the memory Python freed
in its heap, where it still counts as resident until it is reused. ``malloc_trim(0)``
returns every free page (not only the top of the heap) with ``madvise``; it takes
well under a millisecond here. Elsewhere than glibc this does nothing.

``small_tls_buffers`` lowers asyncio's per-connection TLS read buffer from 256 KiB
(allocated and zeroed for every connection, so resident) to 32 KiB: two TLS records
of plaintext a read. Each open browser holds an event stream, so five browsers held
1.25 MiB of buffers. Only the read size changes, never what is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)

TRIM_PERIOD_S = 30.0
TLS_READ_BUFFER = 32 * 1024


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_free_heap() -> None:
    """Return the C heap's free pages to the system (glibc), or nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


async def keep_trimmed(stop: asyncio.Event, period_s: float = TRIM_PERIOD_S) -> None:
    """``release_free_heap`` now and every ``period_s`` seconds until ``stop``."""
    while not stop.is_set():
        release_free_heap()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period_s)


def small_tls_buffers(size: int = TLS_READ_BUFFER) -> None:
    """Make asyncio's TLS connections in this process read through ``size``-byte buffers."""
    from asyncio import sslproto

    if isinstance(getattr(sslproto.SSLProtocol, "max_size", None), int):
        sslproto.SSLProtocol.max_size = size
