"""Protocol edges and hostile input, over raw sockets: what client libraries never send."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.devtools.mqtt_peers import (
    RawClient,
    connect_packet,
    expect_disconnect,
    publish_packet,
    subscribe_packet,
    wait_until,
)
from wardlink.devtools.mqtt_broker import BrokerLimits, EmbeddedBroker
from wardlink.devtools.mqtt_codec import encode_utf8, packet

pytestmark = pytest.mark.integration


async def assert_broker_alive(broker: EmbeddedBroker) -> None:
    client = await RawClient.open(broker.port)
    await client.connect("alive-check")
    await client.send(b"\xc0\x00")  # PINGREQ
    assert await client.read_packet() == (0xD0, b"")
    await client.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x10\xff\xff\xff\xff\x01",  # remaining length over 4 bytes
        b"\xc0\x00",  # PINGREQ before CONNECT
        b"\x00\x00",  # packet type 0
        packet(0x10, b"\x00\x04MQTT\x05"),  # truncated CONNECT
        packet(0x10, encode_utf8("HTTP") + b"\x05\x02\x00\x3c\x00\x00\x00"),
        packet(0x10, encode_utf8("MQTT") + b"\x05\x03\x00\x3c\x00\x00\x00"),  # reserved flag
        packet(0x10, encode_utf8("MQTT") + b"\x05\x02\x00\x3c\x03\x7f\x00\x00\x00\x00"),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
async def test_malformed_connect_closes_only_that_connection(
    broker: EmbeddedBroker, garbage: bytes
) -> None:
    client = await RawClient.open(broker.port)
    await client.send(garbage)
    assert await client.read_eof() == b""
    await assert_broker_alive(broker)


async def test_unsupported_protocol_level_gets_311_connack_refusal(broker: EmbeddedBroker) -> None:
    client = await RawClient.open(broker.port)
    await client.send(connect_packet(version=3))
    assert await client.read_eof() == b"\x20\x02\x00\x01"


@pytest.mark.parametrize(
    ("bad_packet", "reason"),
    [
        (b"\x30\x01\x00", 0x81),  # topic length cut short
        (packet(0x30, b"\x00\x02\xff\xfe\x00"), 0x81),  # topic not UTF-8
        (publish_packet("a/b", b"x", qos=3), 0x81),
        (publish_packet("a/b", b"x", qos=2), 0x9B),  # QoS 2 not supported
        (publish_packet("a/b", b"x", flags=0x01), 0x9A),  # retain not supported
        (publish_packet("a/b", b"x", properties=b"\x23\x00\x01"), 0x94),  # topic alias
        (publish_packet("a/b", b"x", properties=b"\x7f\x00"), 0x81),  # unknown property
        (publish_packet("a/+", b"x"), 0x90),  # QoS 0: no PUBACK to carry the reason
        (publish_packet("a", b"x" * (128 * 1024 + 1), qos=1), 0x95),
        (b"\x30\xff\xff\x7f", 0x95),  # over Maximum Packet Size: body never read
        (b"\xf0\x00", 0x82),  # AUTH
        (b"\x62\x02\x00\x01", 0x82),  # PUBREL: no QoS 2 here
        (b"\x10\x00", 0x82),  # second CONNECT
        (packet(0x82, b"\x00\x01\x00"), 0x82),  # SUBSCRIBE without filters
        (packet(0x82, b"\x00\x01\x02\x0b\x01" + encode_utf8("a") + b"\x01"), 0xA1),
    ],
)
async def test_protocol_violation_gets_disconnect_reason(
    broker: EmbeddedBroker, bad_packet: bytes, reason: int
) -> None:
    client = await RawClient.open(broker.port)
    await client.connect()
    await client.send(bad_packet)
    assert await expect_disconnect(client) == reason
    await assert_broker_alive(broker)


async def test_random_bytes_after_connect_never_hurt_the_broker(broker: EmbeddedBroker) -> None:
    rng = random.Random(20261121)
    for _ in range(60):
        client = await RawClient.open(broker.port)
        await client.connect()
        await client.send(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
        await client.close()
    await assert_broker_alive(broker)
    await wait_until(lambda: broker.subscriptions() == {})  # nothing leaked


async def test_subscribe_grants_and_refusals(broker: EmbeddedBroker) -> None:
    client = await RawClient.open(broker.port)
    await client.connect()
    entries = [("a/+/c", 0), ("a/#", 1), ("b/#", 2), ("a/#/b", 1), ("$share/g/a", 1), ("x+", 0)]
    await client.send(subscribe_packet(7, entries))
    assert await client.read_packet() == (
        0x90,
        b"\x00\x07\x00" + bytes([0, 1, 1, 0x8F, 0x9E, 0x8F]),
    )
    assert broker.subscriptions() == {"raw": ["a/#", "a/+/c", "b/#"]}

    await client.send(packet(0xA2, b"\x00\x08\x00" + encode_utf8("a/#") + encode_utf8("zz")))
    assert await client.read_packet() == (0xB0, b"\x00\x08\x00\x00\x11")


async def test_dollar_topics_are_not_matched_by_leading_wildcards(broker: EmbeddedBroker) -> None:
    subscriber = await RawClient.open(broker.port)
    await subscriber.connect("sub")
    await subscriber.send(subscribe_packet(1, [("#", 0), ("+/rules/x", 0), ("$aws/#", 0)]))
    await subscriber.read_packet()
    publisher = await RawClient.open(broker.port)
    await publisher.connect("pub")
    await publisher.send(publish_packet("$aws/rules/x", b"one"))
    await publisher.send(publish_packet("plain", b"two"))

    received = [await subscriber.read_packet() for _ in range(2)]
    assert [body.endswith(b"one") for _, body in received] == [True, False]
    assert broker.stats.delivered == 2  # "$aws/rules/x" went out once, via "$aws/#" only


async def test_v5_publish_reaches_v311_subscriber_without_properties(
    broker: EmbeddedBroker,
) -> None:
    subscriber = await RawClient.open(broker.port)
    await subscriber.connect("old", version=4)
    await subscriber.send(subscribe_packet(1, [("t/#", 1)], version=4))
    assert await subscriber.read_packet() == (0x90, b"\x00\x01\x01")
    publisher = await RawClient.open(broker.port)
    await publisher.connect("new")
    user_property = b"\x26" + encode_utf8("k") + encode_utf8("v")
    await publisher.send(publish_packet("t/1", b"data", qos=1, properties=user_property))
    assert await publisher.read_packet() == (0x40, b"\x00\x01")

    first, body = await subscriber.read_packet()
    assert first == 0x32  # PUBLISH, QoS 1
    assert body == encode_utf8("t/1") + b"\x00\x01" + b"data"


async def test_forwarding_respects_the_subscribers_receive_maximum(broker: EmbeddedBroker) -> None:
    subscriber = await RawClient.open(broker.port)
    await subscriber.connect("slow-acker", properties=b"\x21\x00\x02")  # Receive Maximum 2
    await subscriber.send(subscribe_packet(1, [("q/#", 1)]))
    await subscriber.read_packet()
    publisher = await RawClient.open(broker.port)
    await publisher.connect("pub")
    for n in range(3):
        await publisher.send(publish_packet("q/x", str(n).encode(), qos=1, packet_id=n + 1))
        await publisher.read_packet()  # PUBACK

    first = await subscriber.read_packet()
    second = await subscriber.read_packet()
    with pytest.raises(TimeoutError):  # the third waits for a PUBACK
        await asyncio.wait_for(subscriber.reader.readexactly(1), 0.3)
    packet_id = first[1][5:7]
    await subscriber.send(b"\x40\x02" + packet_id)
    third = await subscriber.read_packet()
    assert [p[1][-1:] for p in (first, second, third)] == [b"0", b"1", b"2"]
    assert len({p[1][5:7] for p in (first, second, third)} - {packet_id}) == 2


async def test_keep_alive_expiry_disconnects(broker: EmbeddedBroker) -> None:
    client = await RawClient.open(broker.port)
    await client.connect(keep_alive=1)
    assert await expect_disconnect(client) == 0x8D


async def test_slow_consumers_lose_qos0_and_get_disconnected_on_qos1() -> None:
    limits = BrokerLimits(outbox_max_messages=4, outbox_max_bytes=1024 * 1024)
    async with EmbeddedBroker(limits) as broker:
        lazy0 = await RawClient.open(broker.port)
        await lazy0.connect("lazy0")
        await lazy0.send(subscribe_packet(1, [("flood/0", 0)]))
        lazy1 = await RawClient.open(broker.port)
        await lazy1.connect("lazy1")
        await lazy1.send(subscribe_packet(1, [("flood/1", 1)]))
        publisher = await RawClient.open(broker.port)
        await publisher.connect("flooder")
        payload = b"p" * 100_000
        for n in range(300):  # 30 MB each: more than loopback buffers hold
            await publisher.send(publish_packet("flood/0", payload))
            await publisher.send(publish_packet("flood/1", payload, qos=1, packet_id=n + 1))
            if broker.stats.slow_consumers_disconnected and broker.stats.dropped:
                break
        assert broker.stats.dropped > 0
        assert broker.stats.slow_consumers_disconnected == 1
        await wait_until(lambda: "lazy1" not in broker.subscriptions())
        assert "lazy0" in broker.subscriptions()
        await publisher.send(b"\xc0\x00")  # the publisher itself is unaffected
        while (await publisher.read_packet())[0] != 0xD0:
            pass


async def test_empty_client_id_is_assigned_one(broker: EmbeddedBroker) -> None:
    client = await RawClient.open(broker.port)
    connack = await client.connect("")
    assigned = broker.subscriptions()
    assert len(assigned) == 1
    (client_id,) = assigned
    assert client_id.startswith("wardlink-auto-")
    assert encode_utf8(client_id) in connack
