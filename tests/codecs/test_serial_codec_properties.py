"""Property tests for every serial/TCP stream codec (hypothesis, bounded).

For each codec: arbitrary bytes in any chunking raise nothing and return only
codec events; a valid message after arbitrary garbage still decodes (the
decoder resynchronises); a truncated message never produces a wrong result;
and chunking never changes what is decoded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wardlink.codecs.astm_e1381 import ENQ, EOT, AstmE1381Codec, encode_records
from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError, Reply, StreamCodec
from wardlink.codecs.hl7_mllp import Hl7MllpCodec, Hl7MllpTcpCodec, wrap
from wardlink.codecs.nonin2 import Nonin2Codec, encode_packet

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
CTX = DecodeContext(device_id="prop-1", now=lambda: NOW)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ASTM_MESSAGE = (
    bytes([ENQ])
    + b"".join(
        encode_records(
            [
                "H|\\^&|||Sim|||||||P|LIS2-A2|20261105101500",
                "P|1|PID-1||||Doe^Jane||19700101|F",
                "O|1|S1||^^^GLU",
                "R|1|^^^GLU|123|mg/dL||N||F||||20261105101000",
                "L|1|N",
            ]
        )
    )
    + bytes([EOT])
)
HL7_MESSAGE = wrap(
    b"MSH|^~\\&|Sim||||20261105101500+0000||ORU^R01^ORU_R01|P-1|P|2.6\r"
    b"PID|||MRN-1^^^H^MR||Doe^Jane\r"
    b"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|96|262688^MDC_DIM_PERCENT^MDC|||||R\r"
)


@dataclass(frozen=True)
class Case:
    codec: Callable[[DecodeContext], StreamCodec]
    message: bytes
    values: tuple[float | None, ...]


CASES = {
    "serial:nonin-2": Case(Nonin2Codec, encode_packet(75, 98), (75.0, 98.0)),
    "serial:astm-e1381": Case(AstmE1381Codec, ASTM_MESSAGE, (123.0,)),
    "serial:hl7-mllp": Case(Hl7MllpCodec, HL7_MESSAGE, (96.0,)),
    "tcp:hl7-mllp": Case(Hl7MllpTcpCodec, HL7_MESSAGE, (96.0,)),
}
NAMES = sorted(CASES)


def feed_chunks(codec: StreamCodec, data: bytes, cuts: list[int]) -> list[CodecEvent]:
    events: list[CodecEvent] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(points):
        out = codec.feed(data[start:end])
        assert isinstance(out, list)
        events.extend(out)
    return events


def values_of(events: list[CodecEvent]) -> list[tuple[float | None, ...]]:
    return [tuple(o.value for o in e.observations) for e in events if isinstance(e, Decoded)]


def test_every_case_decodes_on_its_own() -> None:
    for name in NAMES:
        case = CASES[name]
        assert values_of(case.codec(CTX).feed(case.message)) == [case.values], name


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_random_bytes_raise_nothing(name: str, data: bytes, cuts: list[int]) -> None:
    codec = CASES[name].codec(CTX)
    events = feed_chunks(codec, data, cuts)
    assert all(isinstance(e, Decoded | FrameError | Reply) for e in events)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(garbage=st.binary(max_size=300), cuts=st.lists(st.integers(0, 1000), max_size=6))
def test_valid_message_after_garbage_still_decodes(
    name: str, garbage: bytes, cuts: list[int]
) -> None:
    case = CASES[name]
    codec = case.codec(CTX)
    events = feed_chunks(codec, garbage + case.message, cuts)
    decoded = values_of(events)
    assert decoded, "the valid message after the garbage was lost"
    assert decoded[-1] == case.values


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(cut=st.integers(0, 10_000), then_garbage=st.binary(max_size=100))
def test_truncated_message_never_decodes_wrongly_and_the_next_one_decodes(
    name: str, cut: int, then_garbage: bytes
) -> None:
    case = CASES[name]
    codec = case.codec(CTX)
    truncated = case.message[: cut % len(case.message)]
    events = codec.feed(truncated) + codec.feed(then_garbage)
    for values in values_of(events):
        assert values == case.values  # a partial message is dropped, never misread
    assert values_of(codec.feed(case.message))[-1:] == [case.values]


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(cuts=st.lists(st.integers(0, 2000), max_size=20), repeat=st.integers(1, 3))
def test_chunking_never_changes_the_result(name: str, cuts: list[int], repeat: int) -> None:
    case = CASES[name]
    stream = case.message * repeat
    events = feed_chunks(case.codec(CTX), stream, cuts)
    assert values_of(events) == [case.values] * repeat
    assert not [e for e in events if isinstance(e, FrameError)]


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(flip=st.integers(0, 10_000), mask=st.integers(1, 255))
def test_a_corrupted_byte_is_detected_or_harmless(name: str, flip: int, mask: int) -> None:
    case = CASES[name]
    data = bytearray(case.message)
    data[flip % len(data)] ^= mask
    events = case.codec(CTX).feed(bytes(data))
    assert all(isinstance(e, Decoded | FrameError | Reply) for e in events)
