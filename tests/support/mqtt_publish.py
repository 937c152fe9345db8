"""Publish a few QoS 1 messages to a plain loopback broker, as a gateway would."""

from __future__ import annotations

import threading
import uuid

from awscrt import mqtt5


def publish_messages(port: int, messages: list[tuple[str, bytes]], timeout_s: float = 10.0) -> None:
    connected = threading.Event()
    options = mqtt5.ClientOptions(host_name="127.0.0.1", port=port)
    options.connect_options = mqtt5.ConnectPacket(client_id=f"test-pub-{uuid.uuid4().hex[:6]}")
    options.on_lifecycle_event_connection_success_fn = lambda _: connected.set()
    client = mqtt5.Client(options)
    client.start()
    try:
        assert connected.wait(timeout_s)
        for topic, payload in messages:
            client.publish(
                mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)
            ).result(timeout_s)
    finally:
        client.stop()
