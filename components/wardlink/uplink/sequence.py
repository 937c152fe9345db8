"""Anchor a spool that started from nothing above the last ``seq`` the cloud stored.

``seq`` is how the cloud tells a re-delivery from a new record and sees gaps, so it
must never go backwards. The spool keeps it increasing across crashes and damage
with its high-water mark; only when the database *and* that side file are gone
(a replaced disk, a wiped data directory) does numbering restart from nothing, and
then only the cloud knows how far the gateway had got. Such a spool is
*unanchored*: the Uplink asks the API (``GET /gateways/{id}/sequence``) before it
publishes anything, and the spool renumbers what it holds to follow the answer.

Until the answer comes nothing is published and nothing is lost: devices keep
spooling. Without an API configured there is no one to ask; the spool is anchored
where it stands, with a warning, as before this existed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from wardlink.spool import Spool

log = logging.getLogger(__name__)

MAX_DELAY_S = 60.0


async def anchor_spool(
    spool: Spool,
    last_acknowledged: Callable[[], int] | None,
    stop: asyncio.Event,
    *,
    first_delay_s: float = 1.0,
) -> bool:
    """Anchor ``spool`` if it needs it; True once anchored, False if ``stop`` came first.

    ``last_acknowledged`` asks the cloud (blocking; run in a thread) and is retried
    with capped, jittered back-off for as long as it fails.
    """
    if spool.sequence_anchored:
        return True
    if last_acknowledged is None:
        log.warning(
            "the spool starts numbering from nothing and no API is configured to ask for the "
            "last seq the cloud stored; seq restarts where the spool stands"
        )
        spool.anchor_sequence(0)
        return True
    log.warning("the spool starts from nothing: asking the cloud for the last seq it stored")
    delay = first_delay_s
    while not stop.is_set():
        try:
            floor = await asyncio.to_thread(last_acknowledged)
        except Exception as exc:  # the client already retried; keep asking, publish nothing
            wait = delay * random.uniform(0.5, 1.0)
            log.warning(
                "could not ask the cloud for the last seq it stored; publishing waits",
                extra={"error": type(exc).__name__, "retry_in_s": round(wait, 1)},
            )
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass
            delay = min(MAX_DELAY_S, delay * 2)
            continue
        await asyncio.to_thread(spool.anchor_sequence, floor)
        return True
    return False
