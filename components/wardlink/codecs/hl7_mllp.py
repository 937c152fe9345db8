"""``serial:hl7-mllp`` and ``tcp:hl7-mllp`` - HL7 v2 over MLLP, IHE PCD-01 content.

One codec, two names: the bytes are the same whether the device writes them to an
RS-232 port or to a TCP socket (the gateway is then usually the MLLP *listener*
the device connects to, see ``transports.tcp``).

Every complete MLLP block gets exactly one acknowledgement, emitted after the
message's other events, HL7 "original mode"
(HL7 v2.6 chapter 2, MSA segment; MSA-1 values from table 0008):

* ``AA`` application accept: the ORU^R01 was read (results whose codes we cannot
  map are reported as ``UnmappedMetric`` events but do not fail the message);
* ``AE`` application error: an ORU^R01 whose content could not be processed, or
  that stops inside a segment (every segment, the last one too, ends with CR);
* ``AR`` application reject: not HL7, no usable MSH, or not an ORU^R01.

MSA-2 echoes the sender's MSH-10 so it can match the ACK to its message. A
malformed message yields its ACK/NAK plus a ``FrameError`` - never an exception,
because the parser is third-party code fed by a device we do not control.

Nothing raw is logged here, and the ``hl7`` library logs nothing either (escape
sequences are undone by ``_hl7_pcd01.unescape``; the library's loggers are
silenced there). Escape sequences we do not understand are dropped and the message
accepted; the log says which fields (``PID-5``), once per field per connection at
WARNING, then at DEBUG.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Final

import hl7

from wardlink.codecs._hl7_pcd01 import decode_oru
from wardlink.codecs._mllp import END_BLOCK, START_BLOCK, MllpFramer, wrap
from wardlink.codecs._unmapped import UnmappedMetric
from wardlink.codecs.base import CodecEvent, DecodeContext, FrameError, Reply, StreamCodec
from wardlink.codecs.registry import register

__all__ = [
    "END_BLOCK",
    "START_BLOCK",
    "Hl7MllpCodec",
    "Hl7MllpTcpCodec",
    "MshSummary",
    "UnmappedMetric",
    "build_ack",
    "read_msh",
    "wrap",
]

log = logging.getLogger(__name__)
_BLANK_SEGMENTS = re.compile(r"\r[\s\x00]*\r")

ACCEPT: Final = "AA"
ERROR: Final = "AE"
REJECT: Final = "AR"
# HL7 table 0357 (message error condition codes)
ERR_SEGMENT_SEQUENCE: Final = ("100", "Segment sequence error")
ERR_UNSUPPORTED_TYPE: Final = ("200", "Unsupported message type")
ERR_UNSUPPORTED_EVENT: Final = ("201", "Unsupported event code")
ERR_INTERNAL: Final = ("207", "Application internal error")
ERR_TRUNCATED: Final = ("100", "Segment sequence error: last segment not terminated")


@dataclass(frozen=True)
class MshSummary:
    """The MSH fields an acknowledgement needs, read without the full parser."""

    encoding_chars: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_type: str
    trigger_event: str
    control_id: str
    processing_id: str
    version: str


def _normalise(text: str) -> str:
    # Segments end with CR; tolerate senders that use LF or CR LF, or blank lines.
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r \t\x00")
    return _BLANK_SEGMENTS.sub("\r", text)


def read_msh(text: str) -> MshSummary | None:
    """Read MSH by hand: it must work even when the rest of the message is garbage."""
    if len(text) < 8 or not text.startswith("MSH"):
        return None
    sep = text[3]
    if sep.isalnum() or sep in "\r\n":
        return None
    first = text.split("\r", 1)[0]
    fields = first.split(sep)  # fields[n] is MSH-(n+1); fields[1] is MSH-2
    encoding = fields[1] if len(fields) > 1 else ""
    comp = encoding[0] if encoding else "^"

    def get(n: int) -> str:
        return fields[n - 1] if len(fields) >= n else ""

    msg_type = get(9).split(comp)
    return MshSummary(
        encoding_chars=encoding,
        sending_application=get(3),
        sending_facility=get(4),
        receiving_application=get(5),
        receiving_facility=get(6),
        message_type=msg_type[0].strip().upper(),
        trigger_event=msg_type[1].strip().upper() if len(msg_type) > 1 else "",
        control_id=get(10).strip(),
        processing_id=get(11).strip(),
        version=get(12).strip(),
    )


def _field(value: str) -> str:
    """An echoed MSH/MSA value: components stay as sent, only field and segment
    separators are neutralised so the ACK's structure cannot be broken."""
    return value.replace("|", "\\F\\").replace("\r", " ").replace("\n", " ")


def build_ack(
    msh: MshSummary | None,
    code: str,
    now: datetime,
    error: tuple[str, str] | None = None,
    control_id: str | None = None,
) -> bytes:
    """An ACK message (without MLLP framing) answering ``msh`` with MSA-1 ``code``."""
    stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    own_id = control_id or uuid.uuid4().hex[:20]
    trigger = msh.trigger_event if msh and msh.trigger_event else "R01"
    segments = [
        "|".join(
            [
                "MSH",
                "^~\\&",
                _field(msh.receiving_application if msh else "") or "WARDLINK",
                _field(msh.receiving_facility if msh else ""),
                _field(msh.sending_application if msh else ""),
                _field(msh.sending_facility if msh else ""),
                stamp,
                "",
                f"ACK^{_field(trigger)}^ACK",
                own_id,
                _field(msh.processing_id if msh and msh.processing_id else "P"),
                _field(msh.version if msh and msh.version else "2.6"),
            ]
        ),
        "|".join(
            ["MSA", code, _field(msh.control_id if msh else "")] + ([error[1]] if error else [])
        ),
    ]
    if error:
        segments.append(f"ERR|||{error[0]}^{error[1]}^HL70357|E")
    return ("\r".join(segments) + "\r").encode("ascii", errors="replace")


def _decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@register
class Hl7MllpCodec(StreamCodec):
    """HL7 v2 ORU^R01 (IHE PCD-01) in MLLP blocks, answered with ACK^R01."""

    name: ClassVar[str] = "serial:hl7-mllp"
    description: ClassVar[str] = (
        "HL7 v2 over MLLP with ACK/NAK; IHE PCD-01 ORU^R01 OBX rows (MDC codes and units) "
        "as observations, PID/NK1/PV1 as patient data"
    )

    def __init__(
        self, context: DecodeContext, control_ids: Callable[[], str] | None = None
    ) -> None:
        super().__init__(context)
        self._framer = MllpFramer()
        self._control_ids = control_ids
        self._escape_fields_reported: set[str] = set()

    def reset(self) -> None:
        self._framer.reset()

    def feed(self, data: bytes) -> list[CodecEvent]:
        events: list[CodecEvent] = []
        for framed in self._framer.feed(data):
            if framed.message is None:
                events.append(FrameError(f"{framed.reason}: {framed.discarded} bytes ignored"))
                continue
            events.extend(self._on_message(framed.message))
        return events

    def _ack(self, msh: MshSummary | None, code: str, error: tuple[str, str] | None) -> Reply:
        control_id = self._control_ids() if self._control_ids else None
        return Reply(wrap(build_ack(msh, code, self.context.now(), error, control_id)))

    def _on_message(self, raw: bytes) -> list[CodecEvent]:
        text = _normalise(_decode_text(raw))
        msh = read_msh(text)
        if msh is None:
            return [
                self._ack(None, REJECT, ERR_SEGMENT_SEQUENCE),
                FrameError("MLLP block is not an HL7 message (no MSH segment)", raw),
            ]
        if not raw.rstrip(b"\x00 \t").endswith((b"\r", b"\n")):
            # Every segment, the last included, ends with CR. A block whose text stops
            # mid-segment is a cut message that happened to meet an end block (line
            # noise, a restarted sender): reading it would misread the cut field.
            return [
                self._ack(msh, ERROR, ERR_TRUNCATED),
                FrameError("HL7 message truncated: last segment not terminated", raw),
            ]
        if msh.message_type != "ORU":
            return [
                self._ack(msh, REJECT, ERR_UNSUPPORTED_TYPE),
                FrameError(f"unsupported HL7 message type {msh.message_type[:8]!r}", raw),
            ]
        if msh.trigger_event not in {"R01", ""}:
            return [
                self._ack(msh, REJECT, ERR_UNSUPPORTED_EVENT),
                FrameError(f"unsupported ORU trigger event {msh.trigger_event[:8]!r}", raw),
            ]
        bad_escapes: list[str] = []
        try:
            message = hl7.parse(text)
            decoded = decode_oru(message, self.context, bad_escapes)
        except Exception as exc:
            # The exception text may quote the message (PHI): log and report its type only.
            log.warning("HL7 message could not be processed: %s", type(exc).__name__)
            return [
                self._ack(msh, ERROR, ERR_INTERNAL),
                FrameError(f"HL7 message could not be processed ({type(exc).__name__})", raw),
            ]
        if bad_escapes:
            self._report_escapes(bad_escapes)
        # ACK last: a pipeline that handles events in order keeps the data before the
        # device is told it may forget it.
        return [*decoded, self._ack(msh, ACCEPT, None)]

    def _report_escapes(self, fields: list[str]) -> None:
        """Say where escape sequences were dropped: field positions and a count, no text."""
        positions = sorted(set(fields))
        new = not self._escape_fields_reported.issuperset(positions)
        self._escape_fields_reported.update(positions)
        log.log(
            logging.WARNING if new else logging.DEBUG,
            "HL7 escape sequences not understood, dropped: %d in %s",
            len(fields),
            ", ".join(positions),
            extra={"device_id": self.context.device_id, "codec": self.name},
        )


@register
class Hl7MllpTcpCodec(Hl7MllpCodec):
    """The same protocol on a TCP connection (MLLP over TCP/IP)."""

    name: ClassVar[str] = "tcp:hl7-mllp"
    description: ClassVar[str] = (
        "HL7 v2 over MLLP on TCP (gateway as MLLP listener or client); IHE PCD-01 ORU^R01"
    )
