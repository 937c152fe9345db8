"""The codec interface: pure, streaming-safe decoders from bytes to observations.

A codec knows a wire protocol and nothing else: no I/O, no clocks of its own, no
redaction. Two shapes exist because devices speak in two ways:

* ``StreamCodec`` - a byte stream (serial, TCP). ``feed`` takes any chunk, keeps
  partial frames, resynchronises after garbage, and may ask the transport to write
  a ``reply`` (ACK/NAK handshakes). It never raises on bad input: a bad frame
  becomes a ``FrameError`` event and decoding continues.
* ``ValueCodec`` - one complete value at a time (a BLE characteristic
  notification). ``decode`` raises ``CodecError`` on a malformed value.

Patient data found in a message is split off into ``PatientContext`` here, at
the first point it exists, so that later stages can treat it as radioactive.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from wardlink.model import DeviceStatus, Observation, PatientContext, WardlinkError


class CodecError(WardlinkError):
    """A value or frame does not follow the protocol."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DecodeContext:
    """What a codec needs from its surroundings."""

    device_id: str
    now: Callable[[], datetime] = utc_now
    # Optional overrides from the device profile: protocol metric key -> (mdc_code, mdc_name, ucum)
    metric_map: Mapping[str, tuple[int, str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decoded:
    """One protocol message decoded: what it measured and whom it was about."""

    observations: tuple[Observation, ...] = ()
    patient: PatientContext | None = None
    status: DeviceStatus | None = None


@dataclass(frozen=True)
class FrameError:
    """A frame that could not be decoded. Decoding goes on after it."""

    reason: str
    raw: bytes = b""


@dataclass(frozen=True)
class Reply:
    """Bytes the transport must write back to the device (ACK, NAK, ...)."""

    data: bytes


CodecEvent = Decoded | FrameError | Reply


class StreamCodec(ABC):
    """Decoder for a byte-stream protocol. One instance per device connection."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, context: DecodeContext) -> None:
        self.context = context

    @abstractmethod
    def feed(self, data: bytes) -> list[CodecEvent]:
        """Consume a chunk of bytes and return whatever it completed."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget partial state, e.g. after the link dropped."""


class ValueCodec(ABC):
    """Decoder for complete values, e.g. BLE characteristic notifications."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, context: DecodeContext) -> None:
        self.context = context

    @abstractmethod
    def decode(self, value: bytes) -> Decoded:
        """Decode one value. Raises CodecError if it is malformed."""
