"""Direct MQTT 5 adapter: IoT Core (or a stand-in broker) without a Greengrass nucleus.

Used on gateways that do not run Greengrass, on developer machines, and by the
demo. The connection goes through awsiotsdk's ``mqtt5_client_builder`` with
mutual TLS, exactly as a device certificate connects to AWS IoT Core; a plain
``mqtt://`` URL is accepted for loopback development brokers only. That rule is
checked when an endpoint is made and again when the client is built, so code that
builds its own ``MqttEndpoint`` (not through the validated configuration) cannot
send telemetry in the clear over the network either.

Configuration and secrets come from local files (see ``wardlink.runtime.config``),
the local bus is in-process, and ``update_state`` is logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from awscrt import mqtt5

from wardlink.bus.local import LocalPubSub
from wardlink.bus.port import (
    BusError,
    ComponentState,
    ConfigHandler,
    EdgeBus,
    LocalHandler,
    NotConnected,
)
from wardlink.contract.endpoints import require_tls

log = logging.getLogger(__name__)

_KEEP_QOS1_WHILE_OFFLINE = (
    mqtt5.ClientOperationQueueBehaviorType.FAIL_NON_QOS1_PUBLISH_ON_DISCONNECT
)
#: AWS IoT Core's limit on an MQTT client id (UTF-8 bytes).
MAX_CLIENT_ID_BYTES = 128


@dataclass(frozen=True)
class MqttEndpoint:
    """Where to connect and with which credentials.

    ``mqtts://host:port`` requires ``cert``, ``key`` and ``ca`` (mutual TLS, like
    IoT Core). ``mqtt://host:port`` is plain TCP, accepted only to a loopback host
    (``PlaintextEndpointError`` otherwise). ``client_id`` must be unique on the
    broker: a second connection with the same id takes the session over and the
    broker disconnects the first.
    """

    url: str
    client_id: str
    cert: str | None = None
    key: str | None = None
    ca: str | None = None

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ``ValueError`` unless this endpoint may be connected to as it is."""
        _ = self.tls  # a supported scheme
        require_tls(self.url, secure="mqtts", plain="mqtt", default_port=8883)
        size = len(self.client_id.encode("utf-8"))
        if not 0 < size <= MAX_CLIENT_ID_BYTES:
            raise ValueError(
                f"MQTT client id {self.client_id!r} is {size} bytes; "
                f"AWS IoT Core accepts 1..{MAX_CLIENT_ID_BYTES}"
            )

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parsed = urlparse(self.url)
        return parsed.port or (8883 if parsed.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        scheme = urlparse(self.url).scheme
        if scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"unsupported broker URL scheme {scheme!r}: use mqtt:// or mqtts://")
        return scheme == "mqtts"


class DirectMqttBus(EdgeBus):
    """EdgeBus over one awscrt MQTT 5 client."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        configuration: dict[str, Any] | None = None,
        secrets_file: Path | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._configuration = configuration or {}
        self._secrets_file = secrets_file
        self._local = LocalPubSub()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt5.Client | None = None
        self._connected = False
        self._stopped: asyncio.Event | None = None

    @property
    def uplink_connected(self) -> bool:
        return self._connected

    def _build_client(self) -> mqtt5.Client:
        ep = self.endpoint
        ep.check()  # again, where the connection is made
        connect = mqtt5.ConnectPacket(client_id=ep.client_id, keep_alive_interval_sec=30)
        common: dict[str, Any] = {
            "on_lifecycle_connection_success": self._on_success,
            "on_lifecycle_connection_failure": self._on_failure,
            "on_lifecycle_disconnection": self._on_disconnect,
            "on_lifecycle_stopped": self._on_stopped,
            "min_reconnect_delay_ms": 250,
            "max_reconnect_delay_ms": 15_000,
            "ack_timeout_sec": 30,
            # Keep QoS 1 publishes across a disconnect; they complete after reconnecting.
            "offline_queue_behavior": _KEEP_QOS1_WHILE_OFFLINE,
        }
        if ep.tls:
            if not (ep.cert and ep.key and ep.ca):
                raise BusError("mqtts:// needs a client certificate, key and CA (mutual TLS)")
            # Imported here: the builder pulls in awscrt's HTTP/auth stack (~4 MB RSS),
            # which plain loopback development connections do not need.
            from awsiot import mqtt5_client_builder

            return mqtt5_client_builder.mtls_from_path(
                endpoint=ep.host,
                port=ep.port,
                cert_filepath=ep.cert,
                pri_key_filepath=ep.key,
                ca_filepath=ep.ca,
                client_id=ep.client_id,
                **common,
            )
        options = mqtt5.ClientOptions(
            host_name=ep.host,
            port=ep.port,
            connect_options=connect,
            min_reconnect_delay_ms=common["min_reconnect_delay_ms"],
            max_reconnect_delay_ms=common["max_reconnect_delay_ms"],
            ack_timeout_sec=common["ack_timeout_sec"],
            offline_queue_behavior=common["offline_queue_behavior"],
            on_lifecycle_event_connection_success_fn=self._on_success,
            on_lifecycle_event_connection_failure_fn=self._on_failure,
            on_lifecycle_event_disconnection_fn=self._on_disconnect,
            on_lifecycle_event_stopped_fn=self._on_stopped,
        )
        return mqtt5.Client(options)

    # CRT callbacks run on CRT threads; hop to the event loop.
    def _set_connected(self, value: bool) -> None:
        if self._connected != value:
            self._connected = value
            log.info("uplink connected" if value else "uplink disconnected")
            self._notify_connection(value)

    def _call(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_success(self, _data: Any) -> None:
        self._call(self._set_connected, True)

    def _on_failure(self, data: Any) -> None:
        self._call(
            log.warning, "uplink connection attempt failed: %s", getattr(data, "exception", "")
        )

    def _on_disconnect(self, _data: Any) -> None:
        self._call(self._set_connected, False)

    def _on_stopped(self, _data: Any) -> None:
        if self._stopped is not None:
            self._call(self._stopped.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._client = self._build_client()
        self._client.start()

    async def wait_connected(self, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._connected and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self._connected

    async def close(self) -> None:
        if self._client is not None:
            self._client.stop()
            if self._stopped is not None:
                try:
                    await asyncio.wait_for(self._stopped.wait(), timeout=5)
                except TimeoutError:
                    log.warning("MQTT client did not stop within 5 s")
            self._client = None
        self._connected = False

    async def publish_to_iot_core(self, topic: str, payload: bytes, timeout: float = 30.0) -> None:
        if self._client is None:
            raise NotConnected("bus not started")
        if not self._connected:
            raise NotConnected("uplink is down")
        future: concurrent.futures.Future[Any] = self._client.publish(
            mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)
        )
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), timeout=timeout)
        except TimeoutError as exc:
            future.cancel()
            raise NotConnected(f"no PUBACK within {timeout} s") from exc
        except Exception as exc:  # CRT raises AwsCrtError on disconnect / ack timeout
            raise NotConnected(f"publish failed: {exc}") from exc
        puback = getattr(result, "puback", None)
        code = getattr(puback, "reason_code", mqtt5.PubackReasonCode.SUCCESS)
        if code not in (
            mqtt5.PubackReasonCode.SUCCESS,
            mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS,
        ):
            raise BusError(f"broker refused the publish: {code!r}")

    async def publish_local(self, topic: str, payload: bytes) -> None:
        await self._local.publish(topic, payload)

    async def subscribe_local(self, topic: str, handler: LocalHandler) -> None:
        self._local.subscribe(topic, handler)

    async def get_configuration(self) -> dict[str, Any]:
        return dict(self._configuration)

    async def watch_configuration(self, handler: ConfigHandler) -> None:
        """File configuration does not change at run time; restart to apply edits."""

    async def update_state(self, state: ComponentState) -> None:
        log.info("component state", extra={"state": state.value})

    async def get_secret(self, secret_id: str) -> bytes:
        if self._secrets_file is None:
            raise BusError("no secrets file configured")
        secrets = json.loads(self._secrets_file.read_text())
        entry = secrets.get(secret_id)
        if entry is None:
            raise BusError(f"secret {secret_id!r} not found")
        if isinstance(entry, dict):
            entry = entry.get("secretString", entry.get("SecretString", ""))
        return str(entry).encode()


def new_client_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
