"""The embedded broker against the real awscrt MQTT 5 client the uplink uses."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from awscrt import mqtt5

from tests.devtools.mqtt_peers import CrtClient
from wardlink.devtools.mqtt_broker import EmbeddedBroker, ReceivedMessage

pytestmark = pytest.mark.integration


async def test_connack_advertises_iot_core_like_limits(
    crt_client: Callable[..., CrtClient],
) -> None:
    client = crt_client("limits")
    data = await client.connect()
    settings = data.negotiated_settings
    assert settings.maximum_qos == mqtt5.QoS.AT_LEAST_ONCE
    assert settings.retain_available is False
    assert settings.topic_alias_maximum_to_server == 0
    assert settings.maximum_packet_size_to_server == 146 * 1024
    assert settings.receive_maximum_from_server == 100
    assert settings.shared_subscriptions_available is False
    assert settings.rejoined_session is False
    assert settings.client_id == "limits"


async def test_publish_qos1_is_acked_and_forwarded(
    broker: EmbeddedBroker, crt_client: Callable[..., CrtClient]
) -> None:
    subscriber, publisher = crt_client("sub"), crt_client("pub")
    await subscriber.connect()
    await publisher.connect()
    suback = await subscriber.subscribe("wardlink/v1/+/telemetry", qos=1)
    assert suback.reason_codes == [mqtt5.SubackReasonCode.GRANTED_QOS_1]

    result = await publisher.publish("wardlink/v1/gw-1/telemetry", b'{"items":[]}', qos=1)
    assert result.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS

    received = await subscriber.next_message()
    assert (received.topic, received.payload, received.qos) == (
        "wardlink/v1/gw-1/telemetry",
        b'{"items":[]}',
        mqtt5.QoS.AT_LEAST_ONCE,
    )
    assert broker.stats.messages == 1
    assert broker.stats.bytes == len(b'{"items":[]}')


async def test_forwarded_qos_is_min_of_publish_and_subscription(
    crt_client: Callable[..., CrtClient],
) -> None:
    sub0, sub1, publisher = crt_client("sub0"), crt_client("sub1"), crt_client("pub")
    for client in (sub0, sub1, publisher):
        await client.connect()
    await sub0.subscribe("site/#", qos=0)
    await sub1.subscribe("site/#", qos=1)

    await publisher.publish("site/a", b"one", qos=1)
    await publisher.publish("site/b", b"zero", qos=0)

    assert [(m.payload, m.qos) for m in (await sub0.next_message(), await sub0.next_message())] == [
        (b"one", mqtt5.QoS.AT_MOST_ONCE),
        (b"zero", mqtt5.QoS.AT_MOST_ONCE),
    ]
    assert [(m.payload, m.qos) for m in (await sub1.next_message(), await sub1.next_message())] == [
        (b"one", mqtt5.QoS.AT_LEAST_ONCE),
        (b"zero", mqtt5.QoS.AT_MOST_ONCE),
    ]


async def test_many_qos1_forwards_respect_client_receive_maximum(
    broker: EmbeddedBroker, crt_client: Callable[..., CrtClient]
) -> None:
    subscriber, publisher = crt_client("many-sub"), crt_client("many-pub")
    await subscriber.connect()
    await publisher.connect()
    await subscriber.subscribe("bulk/+")
    count = 300
    results = await asyncio.gather(
        *(publisher.publish(f"bulk/{i % 7}", str(i).encode()) for i in range(count))
    )
    assert all(r.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS for r in results)
    payloads = {int((await subscriber.next_message()).payload) for _ in range(count)}
    assert payloads == set(range(count))
    assert broker.stats.delivered == count


async def test_payload_over_128_kib_disconnects_with_packet_too_large(
    broker: EmbeddedBroker, crt_client: Callable[..., CrtClient]
) -> None:
    client = crt_client("big")
    await client.connect()
    ok = await client.publish("big/ok", b"x" * (128 * 1024), qos=1)
    assert ok.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS

    client.client.publish(
        mqtt5.PublishPacket(topic="big/no", payload=b"x" * (128 * 1024 + 1), qos=mqtt5.QoS(1))
    )
    _, data = await client.next_event("disconnect")
    assert data.disconnect_packet.reason_code == mqtt5.DisconnectReasonCode.PACKET_TOO_LARGE
    await client.stop()
    assert (broker.stats.messages, broker.stats.rejected) == (1, 1)


async def test_invalid_topics_get_puback_topic_name_invalid(
    broker: EmbeddedBroker, crt_client: Callable[..., CrtClient]
) -> None:
    client = crt_client("topics")
    await client.connect()
    for topic in ("a/b/c/d/e/f/g/h/i", "t" * 257):
        result = await client.publish(topic, b"p", qos=1)
        assert result.puback.reason_code == mqtt5.PubackReasonCode.TOPIC_NAME_INVALID
    seven = await client.publish("a/b/c/d/e/f/g/h", b"p", qos=1)
    assert seven.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
    assert broker.stats.rejected == 2


def drain(queue: asyncio.Queue[ReceivedMessage]) -> list[ReceivedMessage]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_tap_listener_and_recording_see_every_accepted_publish(
    tmp_path: Path, broker: EmbeddedBroker, crt_client: Callable[..., CrtClient]
) -> None:
    record = tmp_path / "received.jsonl"
    broker.record_to(record)
    tap = broker.tap()
    seen: list[ReceivedMessage] = []
    remove = broker.add_listener(seen.append)
    everything = broker.tap(include_rejected=True)

    def failing(_message: ReceivedMessage) -> None:
        raise RuntimeError("a failing listener must not matter")

    broker.add_listener(failing)

    client = crt_client("tapped")
    await client.connect()
    await client.publish("wardlink/v1/gw/health", b"\x00\xffbinary", qos=1)
    await client.publish("wardlink/v1/gw/status", b"second", qos=0)
    await client.publish("bad/1/2/3/4/5/6/7/8", b"rejected", qos=1)
    first = await asyncio.wait_for(tap.get(), 5)
    second = await asyncio.wait_for(tap.get(), 5)
    remove()
    await client.publish("wardlink/v1/gw/alert", b"third", qos=1)

    assert (first.topic, first.payload, first.qos, first.client_id) == (
        "wardlink/v1/gw/health",
        b"\x00\xffbinary",
        1,
        "tapped",
    )
    assert second.payload == b"second"
    assert [m.payload for m in seen] == [b"\x00\xffbinary", b"second"]
    assert [(m.payload, m.rejected is None) for m in drain(everything)] == [
        (b"\x00\xffbinary", True),
        (b"second", True),
        (b"rejected", False),  # a PHI check must see refused bytes too
        (b"third", True),
    ]
    await broker.stop()  # flushes and closes the recording
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(line["topic"], base64.b64decode(line["payload_b64"])) for line in lines] == [
        ("wardlink/v1/gw/health", b"\x00\xffbinary"),
        ("wardlink/v1/gw/status", b"second"),
        ("wardlink/v1/gw/alert", b"third"),
    ]


async def test_same_client_id_takes_over_the_older_connection(
    broker: EmbeddedBroker, crt_client: Callable[..., CrtClient]
) -> None:
    first = crt_client("twin")
    await first.connect()
    second = crt_client("twin")
    await second.connect()
    _, data = await first.next_event("disconnect")
    assert data.disconnect_packet.reason_code == mqtt5.DisconnectReasonCode.SESSION_TAKEN_OVER
    await first.stop()
    assert list(broker.subscriptions()) == ["twin"]


async def test_stop_disconnects_clients_with_server_shutting_down(
    broker: EmbeddedBroker, crt_client: Callable[..., CrtClient]
) -> None:
    client = crt_client("bye")
    await client.connect()
    await broker.stop()
    _, data = await client.next_event("disconnect")
    assert data.disconnect_packet.reason_code == mqtt5.DisconnectReasonCode.SERVER_SHUTTING_DOWN
