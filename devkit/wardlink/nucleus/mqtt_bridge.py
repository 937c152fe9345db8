"""The emulator's stand-in for the nucleus's AWS IoT Core connection.

One awscrt MQTT 5 client connects to the broker given by ``--mqtt``
(``mqtt://host:port`` in the clear, ``mqtts://host:port`` with a CA and,
for mutual TLS, a client certificate and key - which is what IoT Core needs).
PublishToIoTCore and SubscribeToIoTCore from every component share it:

* A publish is answered once the broker acknowledged it (QoS 1) or the client
  wrote it (QoS 0), bounded by ``publish_timeout``; a broker that is down or
  refuses it turns into a ServiceError for the component. (A real nucleus
  spools offline QoS 1 publishes instead; the emulator reports failures so
  that the component's own store-and-forward is exercised.)
* Each distinct topic filter is subscribed once on the broker, with its own
  MQTT 5 subscription identifier so that overlapping filters do not deliver
  a message twice; IPC subscribers of the same filter share it, and the broker
  subscription goes away with the last of them. Subscriptions are re-sent after
  every reconnect.

awscrt calls back on its own threads; ``Deliver`` callbacks must be thread-safe.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from awscrt import io, mqtt5

from wardlink.bus.topics import topic_matches as mqtt_matches
from wardlink.nucleus.errors import ServiceError

log = logging.getLogger(__name__)


class BrokerConfigError(ValueError):
    """An --mqtt URL or TLS setting that cannot work."""


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool
    client_id: str
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        client_id: str,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> BrokerSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise BrokerConfigError(
                f"--mqtt must be mqtt://host:port or mqtts://host:port, not {url!r}"
            )
        if not parts.hostname:
            raise BrokerConfigError(f"--mqtt {url!r} has no host")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise BrokerConfigError(f"--mqtt {url!r} has an invalid port") from exc
        if (cert_file is None) != (key_file is None):
            raise BrokerConfigError("--mqtt-cert and --mqtt-key go together")
        if not tls and (ca_file or cert_file):
            raise BrokerConfigError("TLS files were given but the URL is mqtt://; use mqtts://")
        for label, path in (("CA", ca_file), ("certificate", cert_file), ("key", key_file)):
            if path is not None and not path.is_file():
                raise BrokerConfigError(f"MQTT {label} file {path} does not exist")
        return cls(parts.hostname, port, tls, client_id, ca_file, cert_file, key_file)


@dataclass(frozen=True)
class InboundMessage:
    """A message from the broker, in the fields the IPC MQTTMessage carries."""

    topic: str
    payload: bytes
    retain: bool = False
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    message_expiry_interval_seconds: int | None = None
    payload_format: str | None = None


Deliver = Callable[[InboundMessage], None]


@dataclass
class _Filter:
    topic_filter: str
    identifier: int
    qos: mqtt5.QoS
    listeners: dict[int, Deliver] = field(default_factory=dict)
    subscribed: asyncio.Future[None] | None = None


def _wrap(future: Future[Any]) -> asyncio.Future[Any]:
    return asyncio.wrap_future(future)


class MqttBridge:
    """A shared MQTT 5 connection for the IoT Core IPC operations."""

    def __init__(self, settings: BrokerSettings, publish_timeout: float = 10.0) -> None:
        self.settings = settings
        self.publish_timeout = publish_timeout
        self._client: mqtt5.Client | None = None
        self._filters: dict[str, _Filter] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._listener_ids = itertools.count(1)
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self._connections = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        tls_ctx = None
        if self.settings.tls:
            if self.settings.cert_file and self.settings.key_file:
                options = io.TlsContextOptions.create_client_with_mtls_from_path(
                    str(self.settings.cert_file), str(self.settings.key_file)
                )
            else:
                options = io.TlsContextOptions()
            if self.settings.ca_file:
                options.override_default_trust_store_from_path(None, str(self.settings.ca_file))
            tls_ctx = io.ClientTlsContext(options)
        self._client = mqtt5.Client(
            mqtt5.ClientOptions(
                host_name=self.settings.host,
                port=self.settings.port,
                tls_ctx=tls_ctx,
                connect_options=mqtt5.ConnectPacket(
                    client_id=self.settings.client_id, keep_alive_interval_sec=30
                ),
                session_behavior=mqtt5.ClientSessionBehaviorType.CLEAN,
                min_reconnect_delay_ms=500,
                max_reconnect_delay_ms=10_000,
                ack_timeout_sec=int(max(1, self.publish_timeout)),
                on_publish_callback_fn=self._on_publish,
                on_lifecycle_event_connection_success_fn=self._on_connected,
                on_lifecycle_event_connection_failure_fn=self._on_connection_failure,
                on_lifecycle_event_disconnection_fn=self._on_disconnected,
                on_lifecycle_event_stopped_fn=lambda _data: self._stopped.set(),
                disable_metrics=True,
            )
        )
        self._client.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._client is None:
            return
        self._client.stop()
        self._stopped.wait(timeout)
        self._client = None
        self._connected.clear()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # ------------------------------------------------------------ callbacks
    def _on_connected(self, _data: mqtt5.LifecycleConnectSuccessData) -> None:
        self._connections += 1
        self._connected.set()
        log.info("connected to MQTT broker %s:%d", self.settings.host, self.settings.port)
        if self._connections > 1:
            with self._lock:
                filters = list(self._filters.values())
            for item in filters:
                self._send_subscribe(item)

    def _on_connection_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        log.warning(
            "MQTT broker %s:%d unreachable: %s",
            self.settings.host,
            self.settings.port,
            data.exception,
        )

    def _on_disconnected(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self._connected.clear()
        log.warning("disconnected from MQTT broker: %s", data.exception)

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        payload = packet.payload
        if isinstance(payload, str):
            payload = payload.encode()
        correlation = packet.correlation_data_bytes
        if isinstance(correlation, str):
            correlation = correlation.encode()
        message = InboundMessage(
            topic=packet.topic,
            payload=bytes(payload or b""),
            retain=bool(packet.retain),
            content_type=packet.content_type,
            response_topic=packet.response_topic,
            correlation_data=bytes(correlation) if correlation else None,
            user_properties=tuple((p.name, p.value) for p in packet.user_properties or ()),
            message_expiry_interval_seconds=packet.message_expiry_interval_sec,
            payload_format=(
                None
                if packet.payload_format_indicator is None
                else str(int(packet.payload_format_indicator))
            ),
        )
        identifiers = set(packet.subscription_identifiers or ())
        with self._lock:
            if identifiers:
                matching = [f for f in self._filters.values() if f.identifier in identifiers]
            else:
                matching = [
                    f for f in self._filters.values() if mqtt_matches(f.topic_filter, packet.topic)
                ]
            listeners = [listener for f in matching for listener in f.listeners.values()]
        for listener in listeners:
            try:
                listener(message)
            except Exception:
                log.exception("delivering MQTT message on %s failed", packet.topic)

    # ------------------------------------------------------------ operations
    def _require_client(self) -> mqtt5.Client:
        if self._client is None:
            raise ServiceError("the emulator's MQTT connection is not running")
        return self._client

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        *,
        retain: bool = False,
        user_properties: Sequence[tuple[str, str]] = (),
        content_type: str | None = None,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
        message_expiry_interval_seconds: int | None = None,
        payload_format: str | None = None,
    ) -> None:
        client = self._require_client()
        packet = mqtt5.PublishPacket(
            payload=payload,
            qos=mqtt5.QoS.AT_LEAST_ONCE if qos == 1 else mqtt5.QoS.AT_MOST_ONCE,
            retain=retain,
            topic=topic,
            content_type=content_type,
            response_topic=response_topic,
            correlation_data_bytes=correlation_data,
            message_expiry_interval_sec=message_expiry_interval_seconds,
            user_properties=[mqtt5.UserProperty(k, v) for k, v in user_properties] or None,
            payload_format_indicator=(
                None
                if payload_format is None
                else mqtt5.PayloadFormatIndicator(int(payload_format))
            ),
        )
        try:
            result = await asyncio.wait_for(_wrap(client.publish(packet)), self.publish_timeout)
        except TimeoutError as exc:
            raise ServiceError(
                f"the MQTT broker did not acknowledge the publish to {topic} "
                f"within {self.publish_timeout:g}s"
            ) from exc
        except Exception as exc:
            raise ServiceError(f"publish to {topic} failed: {exc}") from exc
        puback = getattr(result, "puback", None)
        code = getattr(puback, "reason_code", None)
        if qos == 1 and code is not None and int(code) >= 128:
            raise ServiceError(f"the MQTT broker refused the publish to {topic}: {code!r}")

    def _send_subscribe(self, item: _Filter) -> Future[Any]:
        client = self._require_client()
        future: Future[Any] = client.subscribe(
            mqtt5.SubscribePacket(
                subscriptions=[mqtt5.Subscription(topic_filter=item.topic_filter, qos=item.qos)],
                subscription_identifier=item.identifier,
            )
        )
        return future

    async def subscribe(self, topic_filter: str, qos: int, deliver: Deliver) -> Callable[[], None]:
        """Subscribe ``deliver`` to ``topic_filter``; returns a synchronous unsubscribe."""
        self._require_client()
        loop = asyncio.get_running_loop()
        with self._lock:
            item = self._filters.get(topic_filter)
            created = item is None
            if item is None:
                item = _Filter(
                    topic_filter,
                    next(self._ids),
                    mqtt5.QoS.AT_LEAST_ONCE if qos == 1 else mqtt5.QoS.AT_MOST_ONCE,
                )
                item.subscribed = loop.create_future()
                self._filters[topic_filter] = item
            listener_id = next(self._listener_ids)
        assert item.subscribed is not None
        if created:
            try:
                suback = await asyncio.wait_for(
                    _wrap(self._send_subscribe(item)), self.publish_timeout
                )
                codes = list(getattr(suback, "reason_codes", []) or [])
                if not codes or any(int(code) >= 128 for code in codes):
                    raise ServiceError(
                        f"the MQTT broker refused the subscription to {topic_filter}"
                    )
            except Exception as exc:
                with self._lock:
                    self._filters.pop(topic_filter, None)
                error = (
                    exc
                    if isinstance(exc, ServiceError)
                    else ServiceError(
                        f"subscribing to {topic_filter} failed: {exc or type(exc).__name__}"
                    )
                )
                item.subscribed.set_exception(error)
                item.subscribed.exception()  # mark retrieved
                raise error from exc
            item.subscribed.set_result(None)
        else:
            await asyncio.shield(item.subscribed)
        with self._lock:
            item.listeners[listener_id] = deliver

        def unsubscribe() -> None:
            with self._lock:
                item.listeners.pop(listener_id, None)
                last = not item.listeners and self._filters.get(topic_filter) is item
                if last:
                    self._filters.pop(topic_filter, None)
            if last and self._client is not None:
                try:
                    self._client.unsubscribe(mqtt5.UnsubscribePacket(topic_filters=[topic_filter]))
                except Exception:
                    log.warning("unsubscribing from %s failed", topic_filter)

        return unsubscribe
