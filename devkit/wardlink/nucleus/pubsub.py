"""Local publish/subscribe between components (PublishToTopic/SubscribeToTopic).

Subscriptions may use MQTT wildcards (nucleus >= 2.6). The receive mode
decides whether a component gets its own messages: by default it does for an
exact topic and does not for a wildcard filter, as the IPC documentation says.
Messages are delivered in publish order to each subscriber; delivery is a
callback so that the RPC layer decides how to queue it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wardlink.bus.topics import topic_matches as mqtt_matches
from wardlink.nucleus.topics import has_wildcards

RECEIVE_ALL = "RECEIVE_ALL_MESSAGES"
RECEIVE_FROM_OTHERS = "RECEIVE_MESSAGES_FROM_OTHERS"
RECEIVE_MODES = (RECEIVE_ALL, RECEIVE_FROM_OTHERS)


@dataclass(frozen=True)
class LocalMessage:
    """A published message: exactly one of ``json`` or ``binary`` is set."""

    topic: str
    publisher: str
    json: Any = None
    binary: bytes | None = None


Deliver = Callable[[LocalMessage], None]


@dataclass(frozen=True)
class _Subscriber:
    component: str
    topic_filter: str
    receive_mode: str
    deliver: Deliver


def default_receive_mode(topic_filter: str) -> str:
    return RECEIVE_FROM_OTHERS if has_wildcards(topic_filter) else RECEIVE_ALL


class LocalPubSub:
    """In-memory topic router shared by all IPC connections."""

    def __init__(self) -> None:
        self._subscribers: dict[int, _Subscriber] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def subscribe(
        self, component: str, topic_filter: str, receive_mode: str | None, deliver: Deliver
    ) -> Callable[[], None]:
        mode = receive_mode or default_receive_mode(topic_filter)
        with self._lock:
            key = next(self._ids)
            self._subscribers[key] = _Subscriber(component, topic_filter, mode, deliver)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)

        return unsubscribe

    def publish(self, message: LocalMessage) -> int:
        """Deliver to every matching subscriber; returns how many got it."""
        with self._lock:
            targets = [
                s
                for s in self._subscribers.values()
                if mqtt_matches(s.topic_filter, message.topic)
                and not (s.receive_mode == RECEIVE_FROM_OTHERS and s.component == message.publisher)
            ]
        for target in targets:
            target.deliver(message)
        return len(targets)
