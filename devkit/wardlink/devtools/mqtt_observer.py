"""Records every message a broker delivers: what "the broker saw".

The demo and the tests use it to count deliveries by ``seq`` and to prove that no
PHI canary value ever reached the broker. It re-subscribes after every reconnect,
because a restarted broker has forgotten our subscription.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from wardlink.devtools.pki import DevPki


@dataclass
class Captured:
    topic: str
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class MqttObserver:
    host: str
    port: int
    pki: DevPki | None
    topic_filter: str = "#"
    client_id: str = ""
    persistent_session: bool = False  # broker keeps our subscription and queue while we are away
    messages: list[Captured] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: Any = None
    _connected: threading.Event = field(default_factory=threading.Event)
    _subscribed_once: bool = False

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        with self._lock:
            self.messages.append(Captured(packet.topic, bytes(packet.payload or b"")))

    def _on_success(self, _data: Any) -> None:
        self._connected.set()
        if self._subscribed_once:
            threading.Thread(target=self._subscribe_quietly, daemon=True).start()

    def _subscribe_quietly(self) -> None:
        try:
            self.resubscribe(5.0)
        except Exception:  # noqa: S110 - the next reconnect tries again
            pass

    def start(self, timeout: float = 10.0) -> None:
        client_id = self.client_id or f"observer-{time.monotonic_ns()}"
        session: dict[str, Any] = {}
        if self.persistent_session:
            session = {"session_behavior": mqtt5.ClientSessionBehaviorType.REJOIN_ALWAYS}
        if self.pki is not None:
            self._client = mqtt5_client_builder.mtls_from_path(
                endpoint=self.host,
                port=self.port,
                cert_filepath=str(self.pki.client_cert),
                pri_key_filepath=str(self.pki.client_key),
                ca_filepath=str(self.pki.ca_cert),
                client_id=client_id,
                on_publish_received=self._on_publish,
                on_lifecycle_connection_success=self._on_success,
                min_reconnect_delay_ms=100,
                max_reconnect_delay_ms=1000,
            )
        else:
            self._client = mqtt5.Client(
                mqtt5.ClientOptions(
                    host_name=self.host,
                    port=self.port,
                    connect_options=mqtt5.ConnectPacket(
                        client_id=client_id,
                        session_expiry_interval_sec=3600 if self.persistent_session else 0,
                    ),
                    **session,
                    on_publish_callback_fn=self._on_publish,
                    on_lifecycle_event_connection_success_fn=self._on_success,
                    min_reconnect_delay_ms=100,
                    max_reconnect_delay_ms=1000,
                )
            )
        self._client.start()
        if not self._connected.wait(timeout):
            raise RuntimeError("capture client could not connect")
        self.resubscribe(timeout)

    def resubscribe(self, timeout: float = 10.0) -> None:
        """Subscribe again (needed after the broker restarted and lost its sessions)."""
        self._connected.wait(timeout)
        future: Future[Any] = self._client.subscribe(
            mqtt5.SubscribePacket([mqtt5.Subscription(self.topic_filter, mqtt5.QoS.AT_LEAST_ONCE)])
        )
        future.result(timeout)
        self._subscribed_once = True

    def snapshot(self) -> list[Captured]:
        with self._lock:
            return list(self.messages)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def stop(self) -> None:
        if self._client is not None:
            self._client.stop()
            self._client = None
