"""``serial:astm-e1381`` - ASTM E1381 (CLSI LIS1-A) low-level protocol, receiver side.

How a point-of-care or lab analyzer sends results (E1381-95/-02 section 6, "Data
Link Layer"; the same rules are restated in analyzer host-interface manuals such as
Roche cobas c111 and Siemens CLINITEK):

* Establishment: the instrument sends ENQ (0x05); the receiver answers ACK (0x06),
  or NAK (0x15) when it cannot receive now (the sender retries later).
* Transfer: frames ``STX FN text ETB|ETX C1 C2 CR LF``. FN is the ASCII digit of
  the frame number modulo 8: the first frame is ``1``, then ``2`` .. ``7``, ``0``,
  ``1`` ... The checksum is the sum of the bytes from FN through ETX/ETB inclusive,
  modulo 256, as two uppercase hex characters. ETB ends an intermediate frame of a
  record that is continued in the next frame; ETX ends the last one. The receiver
  ACKs a good frame and NAKs a defective one (bad checksum or frame number), after
  which the sender retransmits it. A frame carrying the number of the previously
  accepted frame is a retransmission whose ACK was lost: it is ACKed and ignored.
* Termination: EOT (0x04) ends the transmission.
* Timeouts (15 s for a reply, 30 s between frames) are the transport's concern:
  the codec has no clock.

Above the frames, the records are ASTM E1394 (CLSI LIS2-A2); see ``_astm_records``.

The decoder never raises on input bytes: a defective frame gives ``Reply(NAK)``
plus a ``FrameError``; bytes outside a transmission are counted and reported; a
new ENQ always starts over, which is how it resynchronises after garbage.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from enum import Enum, auto
from typing import ClassVar, Final

from wardlink.codecs._astm_records import (
    MAX_RECORDS_PER_MESSAGE,
    Delimiters,
    Record,
    RecordError,
    interpret_message,
    parse_record,
)
from wardlink.codecs._unmapped import UnmappedMetric
from wardlink.codecs.base import CodecEvent, DecodeContext, FrameError, Reply, StreamCodec
from wardlink.codecs.registry import register

__all__ = [
    "ACK",
    "ENQ",
    "EOT",
    "ETB",
    "ETX",
    "NAK",
    "STX",
    "AstmE1381Codec",
    "UnmappedMetric",
    "checksum",
    "encode_frame",
    "encode_records",
]

log = logging.getLogger(__name__)

STX: Final = 0x02
ETX: Final = 0x03
EOT: Final = 0x04
ENQ: Final = 0x05
ACK: Final = 0x06
NAK: Final = 0x15
ETB: Final = 0x17
CR: Final = 0x0D
LF: Final = 0x0A

MAX_FRAME_TEXT: Final = 247  # E1381: a frame is at most 247 characters ...
MAX_TEXT_PER_FRAME: Final = 240  # ... of which 240 are text
# Some instruments send longer frames (LIS1-A allows 64 000 over TCP); accept them
# up to a bound that keeps memory in check instead of NAKing them forever.
MAX_ACCEPTED_FRAME_TEXT: Final = 64_000
MAX_RECORD_TEXT: Final = 1_000_000

_FRAME_NUMBERS: Final = b"01234567"
_TEXT_STOP: Final = re.compile(rb"[\x02\x03\x04\x05\x17]")  # STX ETX EOT ENQ ETB
_CONTROL_RESTART: Final = frozenset({STX, ENQ, EOT})


def checksum(body: bytes) -> bytes:
    """Two uppercase hex digits of sum(FN .. ETX/ETB) mod 256."""
    return f"{sum(body) & 0xFF:02X}".encode()


def encode_frame(number: int, text: bytes, final: bool) -> bytes:
    """One frame; ``number`` is taken modulo 8 (the first frame of a transfer is 1)."""
    body = bytes([_FRAME_NUMBERS[number % 8]]) + text + bytes([ETX if final else ETB])
    return bytes([STX]) + body + checksum(body) + bytes([CR, LF])


def encode_records(
    records: Sequence[str], first_number: int = 1, encoding: str = "latin-1"
) -> list[bytes]:
    """Frames for a message: each record in its own frame(s), split at 240 characters.

    The record's terminating CR belongs to the text of its last frame.
    """
    frames: list[bytes] = []
    number = first_number
    for record in records:
        data = record.encode(encoding, errors="replace") + b"\r"
        chunks = [data[i : i + MAX_TEXT_PER_FRAME] for i in range(0, len(data), MAX_TEXT_PER_FRAME)]
        for index, chunk in enumerate(chunks):
            frames.append(encode_frame(number, chunk, final=index == len(chunks) - 1))
            number += 1
    return frames


class _State(Enum):
    IDLE = auto()  # no transmission: waiting for ENQ
    LINK = auto()  # between frames: waiting for STX or EOT
    FRAME_NUMBER = auto()
    FRAME_TEXT = auto()
    FRAME_CHECKSUM = auto()


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@register
class AstmE1381Codec(StreamCodec):
    """Receiver for ASTM E1381 framing carrying E1394 records."""

    name: ClassVar[str] = "serial:astm-e1381"
    description: ClassVar[str] = (
        "ASTM E1381/LIS1-A framing (ENQ/ACK, frame numbers, checksums) with E1394/LIS2-A2 "
        "records: results with units, P record as patient data"
    )

    def __init__(self, context: DecodeContext) -> None:
        super().__init__(context)
        self.busy = False
        self._reset_all()

    # -- public controls -------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        """While busy, an ENQ is answered NAK so that the instrument keeps its data."""
        self.busy = busy

    def reset(self) -> None:
        """The link dropped: forget the transmission in progress (the sender repeats it)."""
        self._reset_all()

    # -- state ------------------------------------------------------------------------

    def _reset_all(self) -> None:
        self._state = _State.IDLE
        self._frame = bytearray()  # FN + text + ETX/ETB, for the checksum
        self._check = bytearray()
        self._last_number: int | None = None
        self._expected = ord("1")
        self._pending = bytearray()  # text of a record continued with ETB
        self._records: list[Record] = []
        self._delimiters: Delimiters | None = None
        self._noise = 0

    def _start_transmission(self, events: list[CodecEvent]) -> None:
        if self._pending or self._records:
            events.append(FrameError("new transmission started; incomplete message discarded"))
        self._pending.clear()
        self._records.clear()
        self._delimiters = None
        self._last_number = None
        self._expected = ord("1")
        self._frame.clear()
        self._check.clear()

    def _end_transmission(self, events: list[CodecEvent]) -> None:
        if self._pending or self._records:
            events.append(
                FrameError("transmission ended before the message terminator; message discarded")
            )
        self._pending.clear()
        self._records.clear()
        self._delimiters = None
        self._state = _State.IDLE

    # -- bytes in ---------------------------------------------------------------------

    def feed(self, data: bytes) -> list[CodecEvent]:
        events: list[CodecEvent] = []
        index, end = 0, len(data)
        while index < end:
            if self._state is _State.FRAME_TEXT:
                # Frame text is most of the traffic: copy it up to the next control
                # character in one slice instead of byte by byte.
                found = _TEXT_STOP.search(data, index)
                stop = found.start() if found else end
                if stop > index:
                    self._frame += data[index:stop]
                    index = stop
                    if len(self._frame) > MAX_ACCEPTED_FRAME_TEXT:
                        self._abandon_frame("frame too long", events)
                        events.append(Reply(bytes([NAK])))
                    continue
            self._step(data[index], events)
            index += 1
        if self._noise:
            events.append(FrameError(f"ignored {self._noise} bytes outside a frame"))
            self._noise = 0
        return events

    def _step(self, byte: int, events: list[CodecEvent]) -> None:
        state = self._state
        if state is _State.FRAME_TEXT:
            if byte in (ETX, ETB):
                self._frame.append(byte)
                self._state = _State.FRAME_CHECKSUM
            elif byte in _CONTROL_RESTART:
                self._abandon_frame("frame interrupted by a control character", events)
                self._step(byte, events)
            else:
                self._frame.append(byte)
            return
        if state is _State.FRAME_CHECKSUM:
            if byte < 0x20:  # hex digits are never control characters: the frame was cut
                self._abandon_frame("frame truncated before its checksum", events)
                self._step(byte, events)
                return
            self._check.append(byte)
            if len(self._check) == 2:
                self._finish_frame(events)
            return
        if state is _State.FRAME_NUMBER:
            if byte < 0x20:
                self._abandon_frame("frame truncated after STX", events)
                self._step(byte, events)
                return
            self._frame.append(byte)
            self._state = _State.FRAME_TEXT
            return
        # IDLE or LINK
        if byte == ENQ:
            if self.busy:
                events.append(Reply(bytes([NAK])))
                self._state = _State.IDLE
                return
            self._start_transmission(events)
            self._state = _State.LINK
            events.append(Reply(bytes([ACK])))
        elif state is _State.LINK and byte == STX:
            self._frame.clear()
            self._check.clear()
            self._state = _State.FRAME_NUMBER
        elif state is _State.LINK and byte == EOT:
            self._end_transmission(events)
        elif byte in (CR, LF) and state is _State.LINK:
            pass  # the CR LF that closes every frame
        elif byte == EOT:
            pass  # a stray EOT while idle is harmless
        else:
            self._noise += 1

    def _abandon_frame(self, reason: str, events: list[CodecEvent]) -> None:
        events.append(FrameError(reason, bytes([STX]) + bytes(self._frame) + bytes(self._check)))
        self._frame.clear()
        self._check.clear()
        self._state = _State.LINK

    def _finish_frame(self, events: list[CodecEvent]) -> None:
        frame = bytes(self._frame)
        received = bytes(self._check).upper()
        self._frame.clear()
        self._check.clear()
        self._state = _State.LINK
        raw = bytes([STX]) + frame + received
        number = frame[0]
        if number not in _FRAME_NUMBERS:
            events.append(Reply(bytes([NAK])))
            events.append(FrameError("invalid frame number", raw))
            return
        if received != checksum(frame):
            events.append(Reply(bytes([NAK])))
            events.append(FrameError("checksum mismatch", raw))
            return
        if number == self._last_number:
            events.append(Reply(bytes([ACK])))  # retransmission of an accepted frame
            return
        if number != self._expected:
            events.append(Reply(bytes([NAK])))
            events.append(
                FrameError(
                    f"frame number {chr(number)} out of sequence, expected {chr(self._expected)}",
                    raw,
                )
            )
            return
        self._last_number = number
        self._expected = _FRAME_NUMBERS[(number - ord("0") + 1) % 8]
        self._pending += frame[1:-1]
        if len(self._pending) > MAX_RECORD_TEXT:
            events.append(FrameError("record too long; discarded"))
            self._pending.clear()
        elif frame[-1] == ETX:
            text = _decode_text(bytes(self._pending))
            self._pending.clear()
            for piece in text.replace("\n", "\r").split("\r"):
                if piece.strip():
                    self._on_record(piece, events)
        # ACK last: a pipeline that handles events in order stores the results first,
        # so an instrument never deletes data the gateway has not kept.
        events.append(Reply(bytes([ACK])))

    # -- records ----------------------------------------------------------------------

    def _on_record(self, text: str, events: list[CodecEvent]) -> None:
        kind = text[:1].upper()
        if kind == "H":
            if self._records:
                events.append(FrameError("header before the previous message ended; discarded"))
                self._records.clear()
            try:
                self._delimiters = Delimiters.from_header(text)
                self._records.append(parse_record(text, self._delimiters))
            except RecordError as exc:
                self._delimiters = None
                events.append(FrameError(f"bad header record: {exc}"))
            return
        if self._delimiters is None:
            events.append(FrameError("record outside a message (no header)"))
            return
        try:
            record = parse_record(text, self._delimiters)
        except RecordError as exc:
            events.append(FrameError(f"bad record: {exc}"))
            return
        if record.type == "L":
            records, self._records = self._records, []
            self._delimiters = None
            events.extend(interpret_message(records, self.context))
            return
        if len(self._records) >= MAX_RECORDS_PER_MESSAGE:
            events.append(FrameError("message has too many records; discarded"))
            self._records.clear()
            self._delimiters = None
            return
        self._records.append(record)
