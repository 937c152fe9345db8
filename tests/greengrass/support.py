"""Test helpers: the emulator on a background loop, IPC clients, a broker peer.

The real ``GreengrassCoreIPCClientV2`` is synchronous and runs its own threads,
so the emulator gets an asyncio loop of its own in a thread. Every wait is
bounded by ``TIMEOUT``: the tests use the ``*_async`` client calls and
``future.result(TIMEOUT)`` instead of the blocking helpers, which never time out.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awsiot.greengrasscoreipc
from awscrt import mqtt5
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from wardlink.nucleus.emulator import EmulatorSettings, NucleusEmulator

TIMEOUT = 10.0
REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_RECIPES = REPO_ROOT / "recipes"


@dataclass
class RunningEmulator:
    emulator: NucleusEmulator
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    clients: list[GreengrassCoreIPCClientV2] = field(default_factory=list)

    @property
    def socket_path(self) -> Path:
        return self.emulator.settings.socket_path

    def client(self, component: str, token: str | None = None) -> GreengrassCoreIPCClientV2:
        """A real IPC client connected as ``component`` (or with a raw token)."""
        connection = awsiot.greengrasscoreipc.connect(
            ipc_socket=str(self.socket_path),
            authtoken=token if token is not None else self.emulator.tokens[component],
            timeout=TIMEOUT,
        )
        client = GreengrassCoreIPCClientV2(client=connection)
        self.clients.append(client)
        return client

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT)

    def stop(self) -> None:
        for client in self.clients:
            client.close(executor_wait=False).result(TIMEOUT)
        self.clients.clear()
        self.call(self.emulator.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


def start_emulator(
    tmp: Path,
    *,
    recipes: Path = REPO_RECIPES,
    mqtt_url: str | None = None,
    config: Path | None = None,
    secrets: Path | None = None,
    thing_name: str = "wardlink-dev-gateway",
    **extra: Any,
) -> RunningEmulator:
    root = tmp / "gg"
    settings = EmulatorSettings(
        recipes_dir=recipes,
        socket_path=root / "ipc.sock",
        tokens_out=root / "tokens.json",
        root_dir=root,
        mqtt_url=mqtt_url,
        mqtt_client_id=f"emulator-{uuid.uuid4().hex[:8]}",
        thing_name=thing_name,
        config_file=config,
        secrets_file=secrets,
        publish_timeout=5.0,
        **extra,
    )
    emulator = NucleusEmulator(settings)
    loop = asyncio.new_event_loop()
    ready: Future[None] = Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(emulator.start())
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        loop.run_forever()

    thread = threading.Thread(target=run, name="nucleus-emulator", daemon=True)
    thread.start()
    ready.result(TIMEOUT)
    if emulator.bridge is not None:
        assert emulator.bridge.wait_connected(TIMEOUT), "emulator did not reach the broker"
    return RunningEmulator(emulator, loop, thread)


class BrokerPeer:
    """A plain MQTT 5 client on the test broker: the 'cloud side' of IoT Core."""

    def __init__(self, port: int) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._connected = threading.Event()
        self._client = mqtt5.Client(
            mqtt5.ClientOptions(
                host_name="127.0.0.1",
                port=port,
                connect_options=mqtt5.ConnectPacket(client_id=f"peer-{uuid.uuid4().hex[:8]}"),
                on_publish_callback_fn=self._on_publish,
                on_lifecycle_event_connection_success_fn=lambda _d: self._connected.set(),
                disable_metrics=True,
            )
        )
        self._client.start()
        if not self._connected.wait(TIMEOUT):
            raise RuntimeError("broker peer could not connect")

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        self.messages.put((packet.topic, bytes(packet.payload or b"")))

    def subscribe(self, topic_filter: str) -> None:
        future: Future[Any] = self._client.subscribe(
            mqtt5.SubscribePacket([mqtt5.Subscription(topic_filter, mqtt5.QoS.AT_LEAST_ONCE)])
        )
        future.result(TIMEOUT)

    def publish(self, topic: str, payload: bytes) -> None:
        future: Future[Any] = self._client.publish(
            mqtt5.PublishPacket(payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE, topic=topic)
        )
        future.result(TIMEOUT)

    def next_message(self, timeout: float = TIMEOUT) -> tuple[str, bytes]:
        return self.messages.get(timeout=timeout)

    def stop(self) -> None:
        self._client.stop()


class Events:
    """Collects stream events from client callbacks; ``get`` waits boundedly."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()

    def __call__(self, event: Any) -> None:
        self._queue.put(event)

    def get(self, timeout: float = TIMEOUT) -> Any:
        return self._queue.get(timeout=timeout)

    def pending(self) -> list[Any]:
        """Events already received and not yet taken (no waiting)."""
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items


def result(future: Future[Any]) -> Any:
    return future.result(TIMEOUT)
