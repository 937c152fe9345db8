"""One device, end to end inside the DeviceProxy: transport -> codec -> policy -> spool.

This is the only place raw PHI exists: the codec splits patient data out of the
protocol into a ``PatientContext``; the worker keeps the latest context per device
in memory (to link readings to a patient and to tell the scrubber which values to
look for) and hands the policy both. What leaves the worker is sealed.

A worker never dies of bad input: codec frame errors are counted and logged
(without the raw bytes, which may contain PHI), and decoding continues. The link
going down, coming back, or going silent for twice the expected interval becomes
a device status message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wardlink.codecs import CodecError, Decoded, FrameError, Reply, StreamCodec, ValueCodec
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import (
    Connectivity,
    DeviceIdentity,
    DeviceStatus,
    Observation,
    PatientContext,
    RecordKind,
)
from wardlink.phi.policy import RedactionPolicy
from wardlink.transports import Transport, TransportError

log = logging.getLogger(__name__)


@dataclass
class WorkerCounters:
    acquired: int = 0
    frame_errors: int = 0
    messages: int = 0
    last_data_at: float = 0.0


class DeviceWorker:
    def __init__(
        self,
        identity: DeviceIdentity,
        transport: Transport,
        codec: StreamCodec | ValueCodec,
        policy: RedactionPolicy,
        writer: SpoolWriter,
        expected_interval_s: float = 5.0,
        patient: PatientContext | None = None,
        on_observations: Callable[[list[Observation]], None] | None = None,
        limits: Callable[[Observation], Observation] | None = None,
    ) -> None:
        self.identity = identity
        self.transport = transport
        self.codec = codec
        self.policy = policy
        self.writer = writer
        self.expected_interval_s = expected_interval_s
        self.patient = patient  # e.g. from an ADT bed assignment; protocol data overrides it
        self.on_observations = on_observations
        self.limits = limits  # the profile's value limits: out of range -> quality invalid
        self.counters = WorkerCounters()
        self.connectivity = Connectivity.DISCONNECTED
        self.on_connectivity: Callable[[Connectivity], None] | None = None  # e.g. re-announce
        self._clock_offset: timedelta | None = None  # device clock vs gateway (BLE time)
        # the site-assigned location (unit, room, bed) by device id; the policy decides
        # which parts leave with the telemetry (the DeviceProxy's site overlay)
        self.location: Callable[[str], Mapping[str, str]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop`` is set. Bad frames and lost links never end this loop."""
        reader = asyncio.create_task(self._read())
        watchdog = asyncio.create_task(self._watch_silence(stop))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, watchdog, stopper):
                task.cancel()
            await asyncio.gather(reader, watchdog, stopper, return_exceptions=True)
            await self.transport.close()
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]

    async def _read(self) -> None:
        async for chunk in self.transport.chunks():
            if not chunk.data:
                continue
            self._set_connectivity(Connectivity.CONNECTED)
            if isinstance(self.codec, StreamCodec):
                await self._handle(self.codec.feed(chunk.data))
            else:
                await self._handle(self._decode_value(self.codec, chunk.source, chunk.data))

    def _decode_value(
        self, codec: ValueCodec, source: str, data: bytes
    ) -> list[Decoded | FrameError | Reply]:
        """One BLE characteristic value. The device clock sets the time correction."""
        # BLE helpers load with the first value: a serial-only proxy never pays for them.
        from wardlink.codecs._ble_common import (
            CHAR_CURRENT_TIME,
            CHAR_DATE_TIME,
            apply_clock_offset,
            clock_offset,
            parse_device_clock,
        )

        if source in (CHAR_CURRENT_TIME, CHAR_DATE_TIME):
            try:
                self._clock_offset = clock_offset(parse_device_clock(data), datetime.now(UTC))
            except (CodecError, ValueError) as exc:
                return [FrameError(f"device clock unreadable: {exc}")]
            return []
        decode_source = getattr(codec, "decode_source", None)
        try:
            decoded = decode_source(source, data) if decode_source else codec.decode(data)
        except CodecError as exc:
            return [FrameError(str(exc))]
        if self._clock_offset is not None:
            decoded = apply_clock_offset(decoded, self._clock_offset)
        return [decoded]

    async def _handle(self, events: list[Decoded | FrameError | Reply]) -> None:
        for event in events:
            if isinstance(event, Reply):
                try:
                    await self.transport.write(event.data)
                except TransportError as exc:
                    log.warning(
                        "could not answer device",
                        extra={"device_id": self.identity.device_id, "error": str(exc)},
                    )
            elif isinstance(event, FrameError):
                self.counters.frame_errors += 1
                log.warning(
                    "malformed frame skipped",
                    extra={
                        "device_id": self.identity.device_id,
                        "reason": event.reason,
                        "bytes": len(event.raw),
                    },
                )
            else:
                self._accept(event)

    def _accept(self, decoded: Decoded) -> None:
        self.counters.messages += 1
        self.counters.last_data_at = time.monotonic()
        if decoded.patient is not None:
            self.patient = decoded.patient
        if decoded.observations:
            observations = list(decoded.observations)
            if self.limits is not None:
                observations = [self.limits(o) for o in observations]
            self.counters.acquired += len(observations)
            if self.on_observations is not None:
                self.on_observations(observations)
            location = self.location(self.identity.device_id) if self.location else None
            sealed = self.policy.redact_observations(
                observations, self.identity, self.patient, location
            )
            self.writer.put(RecordKind.TELEMETRY, list(sealed))
        if decoded.status is not None:
            self._emit_status(decoded.status)

    def _emit_status(self, status: DeviceStatus) -> None:
        sealed = self.policy.redact_status(status, self.identity, self.patient)
        kind = RecordKind.ALERT if status.error_codes else RecordKind.STATUS
        self.writer.put(kind, [sealed])

    def _set_connectivity(self, state: Connectivity) -> None:
        if state is self.connectivity:
            return
        self.connectivity = state
        log.info(
            "device connectivity changed",
            extra={"device_id": self.identity.device_id, "state": state.value},
        )
        self._emit_status(
            DeviceStatus(
                device_id=self.identity.device_id, at=datetime.now(UTC), connectivity=state
            )
        )
        if self.on_connectivity is not None:
            self.on_connectivity(state)

    async def _watch_silence(self, stop: asyncio.Event) -> None:
        """Report silent/disconnected within twice the expected interval."""
        period = max(0.05, self.expected_interval_s / 4)
        while not stop.is_set():
            await asyncio.sleep(period)
            if not self.transport.connected:
                if self.connectivity is not Connectivity.DISCONNECTED:
                    self._set_connectivity(Connectivity.DISCONNECTED)
                continue
            last = self.counters.last_data_at
            if last and time.monotonic() - last > 1.5 * self.expected_interval_s:
                self._set_connectivity(Connectivity.SILENT)
