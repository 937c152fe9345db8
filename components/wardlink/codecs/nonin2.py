"""``serial:nonin-2`` - Nonin OEM III pulse oximetry module, serial data format #2.

Wire format (Nonin OEM III specification, "Serial Data Format #2"; 9600 8N1):

* Frames of 5 bytes: ``0x01 STATUS PLETH DATA CHK``; ``CHK = sum(first four) & 0xFF``.
* STATUS: bit 7 always 1; bit 6 SNSD sensor disconnected; bit 5 ARTF artifact;
  bit 4 OOT out of track; bit 3 SNSA sensor alarm; bits 2/1 RPRF/GPRF perfusion
  (both set = yellow); bit 0 SYNC, set only on the first frame of a packet.
* 25 frames make a packet (75 frames/s, so 3 packets/s). DATA in frame 1 is the HR
  high bits (HR bits 7..8 in bits 0..1), frame 2 the HR low 7 bits, frame 3 SpO2.
* Missing data: HR 511, SpO2 127.

The decoder is a small state machine over a byte buffer: it hunts for a frame that
starts with 0x01, checks the checksum and status bit 7, and only trusts a packet
that begins with SYNC and has 25 good frames in a row. Anything else is reported
as a FrameError and the hunt restarts one byte later, so garbage on the line
costs at most one packet.
"""

from __future__ import annotations

from typing import ClassVar

from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError, StreamCodec
from wardlink.codecs.registry import register
from wardlink.model import Connectivity, DeviceStatus, Metric, Observation, Quality
from wardlink.model import nomenclature as mdc

FRAME_LEN = 5
FRAMES_PER_PACKET = 25
START = 0x01
HR_MISSING = 511
SPO2_MISSING = 127
MAX_BUFFER = 4 * FRAME_LEN * FRAMES_PER_PACKET

STATUS_ALWAYS = 0x80
STATUS_FLAGS: tuple[tuple[int, str], ...] = (
    (0x40, "sensor-disconnected"),
    (0x20, "artifact"),
    (0x10, "out-of-track"),
    (0x08, "sensor-alarm"),
)
SYNC = 0x01
# Status bits that mean the device needs attention, as device error codes.
FAULT_CODES: tuple[tuple[int, str], ...] = (
    (0x40, "NONIN-SNSD"),  # sensor disconnected from the module
    (0x08, "NONIN-SNSA"),  # sensor alarm: the sensor is faulty or not usable
)


def frame_ok(frame: bytes | bytearray) -> bool:
    return (
        len(frame) == FRAME_LEN
        and frame[0] == START
        and frame[1] & STATUS_ALWAYS != 0
        and (frame[0] + frame[1] + frame[2] + frame[3]) & 0xFF == frame[4]
    )


def _perfusion_flag(status: int) -> str | None:
    red, green = status & 0x04, status & 0x02
    if red and green:
        return "perfusion-low"  # yellow: marginal
    if red:
        return "perfusion-very-low"
    return None


@register
class Nonin2Codec(StreamCodec):
    name: ClassVar[str] = "serial:nonin-2"
    description: ClassVar[str] = "Nonin OEM III serial data format #2 (SpO2, pulse rate)"

    def __init__(self, context: DecodeContext) -> None:
        super().__init__(context)
        self._buf = bytearray()
        self._faults: tuple[str, ...] = ()

    def reset(self) -> None:
        self._buf.clear()
        self._faults = ()

    def feed(self, data: bytes) -> list[CodecEvent]:
        self._buf += data
        events: list[CodecEvent] = []
        buf = self._buf
        packet_len = FRAME_LEN * FRAMES_PER_PACKET
        pos = 0
        skipped = 0
        while len(buf) - pos >= FRAME_LEN:
            first = buf[pos : pos + FRAME_LEN]
            if not (frame_ok(first) and first[1] & SYNC):
                pos += 1
                skipped += 1
                continue
            if len(buf) - pos < packet_len:
                break  # wait for the rest of the packet
            packet = bytes(buf[pos : pos + packet_len])
            bad = self._first_bad_frame(packet)
            if bad is not None:
                events.append(FrameError(f"bad frame {bad + 1} of 25 in packet", packet))
                # Hunt again from the next byte, not the next frame: a frame that only
                # looked like SYNC (noise) may sit a few bytes before the real packet.
                pos += 1
                continue
            if skipped:
                events.append(FrameError(f"skipped {skipped} bytes of noise"))
                skipped = 0
            events.append(self._decode_packet(packet))
            pos += packet_len
        if skipped:
            events.append(FrameError(f"skipped {skipped} bytes of noise"))
        del buf[:pos]
        if len(buf) > MAX_BUFFER:  # cannot happen with the hunt above; a hard bound anyway
            del buf[: len(buf) - MAX_BUFFER]
        return events

    @staticmethod
    def _first_bad_frame(packet: bytes) -> int | None:
        for index in range(FRAMES_PER_PACKET):
            frame = packet[index * FRAME_LEN : (index + 1) * FRAME_LEN]
            if not frame_ok(frame):
                return index
            if index > 0 and frame[1] & SYNC:
                return index  # a SYNC in mid-packet means we locked on the wrong frame
        return None

    def _decode_packet(self, packet: bytes) -> Decoded:
        status = [packet[i * FRAME_LEN + 1] for i in range(FRAMES_PER_PACKET)]
        data = [packet[i * FRAME_LEN + 3] for i in range(FRAMES_PER_PACKET)]
        heart_rate = ((data[0] & 0x03) << 7) | (data[1] & 0x7F)
        spo2 = data[2] & 0x7F

        flags: list[str] = []
        combined = 0
        for byte in status:
            combined |= byte
        flags.extend(label for bit, label in STATUS_FLAGS if combined & bit)
        perfusion = _perfusion_flag(status[0])
        if perfusion:
            flags.append(perfusion)
        degraded = bool(combined & 0x78)

        now = self.context.now()
        device_id = self.context.device_id

        def observe(metric: Metric, value: int, missing: int, unit: str) -> Observation:
            if value == missing:
                return Observation(
                    device_id=device_id,
                    metric=metric,
                    value=None,
                    unit=unit,
                    measured_at=now,
                    quality=Quality.UNAVAILABLE,
                    flags=tuple(flags),
                )
            return Observation(
                device_id=device_id,
                metric=metric,
                value=float(value),
                unit=unit,
                measured_at=now,
                quality=Quality.QUESTIONABLE if degraded else Quality.VALID,
                flags=tuple(flags),
            )

        faults = tuple(code for bit, code in FAULT_CODES if combined & bit)
        fault_status = None
        if faults != self._faults:
            # A sensor fault is a device condition, not a property of one reading: it is
            # reported once when it starts and once when it clears (empty error codes).
            self._faults = faults
            fault_status = DeviceStatus(
                device_id=device_id,
                at=now,
                connectivity=Connectivity.CONNECTED,
                error_codes=faults,
            )
        return Decoded(
            observations=(
                observe(mdc.PULSE_RATE_OXIM, heart_rate, HR_MISSING, mdc.UCUM_PER_MIN),
                observe(mdc.SPO2, spo2, SPO2_MISSING, mdc.UCUM_PERCENT),
            ),
            status=fault_status,
        )


def encode_packet(
    heart_rate: int, spo2: int, status: int = 0, pleth: int = 60, firmware_rev: int = 0x2A
) -> bytes:
    """Build one 25-frame packet. Used by the simulator and tests."""
    data = [0] * FRAMES_PER_PACKET
    data[0] = (heart_rate >> 7) & 0x03
    data[1] = heart_rate & 0x7F
    data[2] = spo2 & 0x7F
    data[3] = firmware_rev
    out = bytearray()
    for index in range(FRAMES_PER_PACKET):
        stat = STATUS_ALWAYS | (status & 0x7E) | (SYNC if index == 0 else 0)
        frame = [START, stat, pleth & 0xFF, data[index]]
        out += bytes(frame) + bytes([sum(frame) & 0xFF])
    return bytes(out)
