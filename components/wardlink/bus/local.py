"""In-process pub/sub, the local bus when there is no Greengrass nucleus."""

from __future__ import annotations

import asyncio
import logging

from wardlink.bus.port import LocalHandler, LocalMessage
from wardlink.bus.topics import topic_matches

log = logging.getLogger(__name__)


class LocalPubSub:
    """Delivers each message to every matching subscriber; a failing handler is logged."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, LocalHandler]] = []

    def subscribe(self, topic_filter: str, handler: LocalHandler) -> None:
        self._subscribers.append((topic_filter, handler))

    async def publish(self, topic: str, payload: bytes) -> None:
        message = LocalMessage(topic, payload)
        for topic_filter, handler in list(self._subscribers):
            if topic_matches(topic_filter, topic):
                try:
                    await handler(message)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("local subscriber failed", extra={"topic": topic})
