"""Wire-format and topic rules of the embedded broker, without sockets."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardlink.bus.topics import topic_matches
from wardlink.devtools.mqtt_codec import (
    MQTT_5,
    MQTT_311,
    Prop,
    ProtocolViolation,
    Reader,
    Reason,
    decode_connect,
    decode_puback,
    decode_publish,
    decode_subscribe,
    decode_unsubscribe,
    encode_properties,
    encode_publish_header,
    encode_utf8,
    encode_varint,
)
from wardlink.devtools.mqtt_topics import topic_filter_problem, topic_name_problem


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_byte_integer_round_trip(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert Reader(encoded).varint() == value


def test_variable_byte_integer_limits() -> None:
    with pytest.raises(ValueError):
        encode_varint(268_435_456)
    with pytest.raises(ProtocolViolation):
        Reader(b"\xff\xff\xff\xff\x01").varint()


def test_properties_round_trip_and_duplicate_rules() -> None:
    block = encode_properties({Prop.RECEIVE_MAXIMUM: 10, Prop.REASON_STRING: "why"})
    props = Reader(block).properties()
    assert props.integer(Prop.RECEIVE_MAXIMUM) == 10
    assert props.values[Prop.REASON_STRING] == "why"
    assert props.raw == block[1:]

    user = b"\x26" + encode_utf8("k") + encode_utf8("v")
    assert Reader(encode_varint(2 * len(user)) + 2 * user).properties().user == [("k", "v")] * 2
    twice = b"\x21\x00\x01\x21\x00\x02"
    with pytest.raises(ProtocolViolation) as caught:
        Reader(encode_varint(len(twice)) + twice).properties()
    assert caught.value.reason == Reason.PROTOCOL_ERROR


def test_utf8_strings_reject_nul_and_invalid_bytes() -> None:
    assert Reader(encode_utf8("héllo")).utf8() == "héllo"
    for bad in (b"\x00\x01\x00", b"\x00\x02\xc3\x28", b"\x00\x05ab"):
        with pytest.raises(ProtocolViolation):
            Reader(bad).utf8()


def test_publish_header_frames_the_payload() -> None:
    header = encode_publish_header(MQTT_5, "a/b", 1, 9, b"", 3)
    assert header == b"\x32\x0b\x00\x03a/b\x00\x09\x00"
    publish = decode_publish(0x02, header[2:] + b"xyz", MQTT_5)
    assert (publish.topic, publish.payload, publish.qos, publish.packet_id) == ("a/b", b"xyz", 1, 9)
    assert encode_publish_header(MQTT_311, "a/b", 0, 0, b"", 3) == b"\x30\x08\x00\x03a/b"


def test_connect_parses_will_and_credentials() -> None:
    body = (
        encode_utf8("MQTT")
        + bytes([5, 0b1100_0110])  # username, password, will QoS 0, will, clean start
        + b"\x00\x1e"
        + encode_properties({Prop.SESSION_EXPIRY_INTERVAL: 3600})
        + encode_utf8("gw")
        + b"\x00"  # will properties
        + encode_utf8("will/topic")
        + encode_utf8("gone")
        + encode_utf8("user")
        + encode_utf8("secret")
    )
    connect = decode_connect(body)
    assert (connect.version, connect.client_id, connect.clean_start, connect.keep_alive) == (
        5,
        "gw",
        True,
        30,
    )
    assert (connect.username, connect.will_topic) == ("user", "will/topic")
    assert connect.properties.integer(Prop.SESSION_EXPIRY_INTERVAL) == 3600
    with pytest.raises(ProtocolViolation):
        decode_connect(body + b"\x00")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=80), flags=st.integers(0, 15), version=st.sampled_from([4, 5]))
def test_decoders_only_ever_raise_protocol_violation(data: bytes, flags: int, version: int) -> None:
    for decode in (
        decode_connect,
        lambda b: decode_publish(flags, b, version),
        lambda b: decode_subscribe(b, version),
        lambda b: decode_unsubscribe(b, version),
        lambda b: decode_puback(b, version),
    ):
        with contextlib.suppress(ProtocolViolation):
            decode(data)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/+", "/x", True),
        ("+", "/x", False),
        ("#", "$aws/things", False),
        ("+/things", "$aws/things", False),
        ("$aws/#", "$aws/things", True),
        ("a/b", "a/b/", False),
    ],
)
def test_topic_matching(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


def test_iot_core_topic_limits() -> None:
    assert topic_name_problem("a/b/c/d/e/f/g/h") is None
    assert topic_name_problem("a/b/c/d/e/f/g/h/i") is not None
    assert topic_name_problem("$aws/rules/r/a/b/c/d/e/f/g/h") is None  # Basic Ingest prefix
    assert topic_name_problem("x" * 256) is None
    assert topic_name_problem("x" * 257) is not None
    assert topic_name_problem("é" * 129) is not None  # bytes, not characters
    assert topic_name_problem("") is not None
    assert topic_filter_problem("a/#") is None
    assert topic_filter_problem("a/#/b") is not None
    assert topic_filter_problem("a/b+") is not None
