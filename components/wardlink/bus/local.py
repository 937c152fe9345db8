"""In-process pub/sub, the local bus when there is no Greengrass nucleus."""

from __future__ import annotations

import asyncio
import logging

from wardlink.bus.port import LocalHandler, LocalMessage

log = logging.getLogger(__name__)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT-style matching (``+`` one level, ``#`` the rest), as Greengrass pub/sub does."""
    f_parts = topic_filter.split("/")
    t_parts = topic.split("/")
    for index, part in enumerate(f_parts):
        if part == "#":
            return True
        if index >= len(t_parts):
            return False
        if part not in ("+", t_parts[index]):
            return False
    return len(f_parts) == len(t_parts)


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
