"""Drains the spool to AWS IoT Core: batched, rate-limited, deleted only after PUBACK.

The loop reads the most urgent class first (alerts, then status, health, routine
telemetry), packs up to one 128 KB envelope, waits for the rate limiter, and
publishes with QoS 1, keeping a bounded number of messages in flight. A record is
deleted from the spool only when its message's PUBACK arrives. If any publish
fails, the publisher lets in-flight messages settle, rewinds its read cursor so
unacknowledged records are read again, and backs off with jitter. Duplicates are
therefore possible (a PUBACK lost on the way back) but bounded by the in-flight
window, and detectable downstream by ``seq``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from dataclasses import dataclass

from wardlink.bus.port import BusError, EdgeBus
from wardlink.model import Envelope, SpooledRecord
from wardlink.spool import Spool, priority_of
from wardlink.uplink.limits import TokenBucket, UplinkLimits
from wardlink.uplink.topics import uplink_topic

log = logging.getLogger(__name__)

_BEYOND_EVERY_SEQ = 2**63 - 1  # SQLite's largest integer: a read cursor that skips a class


@dataclass
class UplinkCounters:
    messages: int = 0
    delivered: int = 0
    delivered_telemetry: int = 0
    failures: int = 0
    oversize_dropped: int = 0
    last_seq: int = 0
    started: float = 0.0

    def snapshot(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


class Publisher:
    """One publisher per gateway connection."""

    def __init__(
        self,
        bus: EdgeBus,
        spool: Spool,
        gateway_id: str,
        limits: UplinkLimits | None = None,
        poll_interval: float = 0.1,
    ) -> None:
        self.bus = bus
        self.spool = spool
        self.gateway_id = gateway_id
        self.limits = limits or UplinkLimits()
        self.poll_interval = poll_interval
        self.counters = UplinkCounters(started=time.time())
        self._publish_rate = TokenBucket(self.limits.max_publishes_per_second)
        self._byte_rate = (
            TokenBucket(self.limits.max_bytes_per_second, burst=self.limits.max_payload_bytes * 2)
            if self.limits.max_bytes_per_second
            else None
        )
        self._wakeup = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._window = asyncio.Semaphore(self.limits.max_in_flight)
        self._cursor: dict[int, int] = {}
        self._failed = False
        self._attempt = 0
        self._rate_window: list[tuple[float, int]] = []
        self._through: int | None = None  # drain(through_seq=...): publish nothing newer

    def apply_limits(self, limits: UplinkLimits) -> None:
        """Adopt new limits (a configuration update) without dropping anything in flight."""
        self.limits = limits
        self._publish_rate = TokenBucket(limits.max_publishes_per_second)
        self._byte_rate = (
            TokenBucket(limits.max_bytes_per_second, burst=limits.max_payload_bytes * 2)
            if limits.max_bytes_per_second
            else None
        )

    def notify(self) -> None:
        """Tell the publisher new records are in the spool (in-process writers)."""
        self._wakeup.set()

    @property
    def delivered_per_second(self) -> float:
        now = time.monotonic()
        self._rate_window = [(t, n) for t, n in self._rate_window if now - t <= 10.0]
        return sum(n for _, n in self._rate_window) / 10.0

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set. In-flight messages are awaited on the way out."""
        try:
            while not stop.is_set():
                if self._failed:
                    await self._recover(stop)
                    continue
                if not self.bus.uplink_connected:
                    await self._sleep(stop, 0.2)
                    continue
                batch = await asyncio.to_thread(self._next_batch, self._cursor)
                if not batch:
                    await self._sleep(stop, self.poll_interval)
                    continue
                await self._send(batch)
        finally:
            await self._settle()

    async def drain(self, timeout: float, through_seq: int | None = None) -> bool:
        """Publish until the spool is empty or ``timeout`` passes. True if emptied.

        With ``through_seq``, publish only the records numbered up to it, and count
        the spool as empty when none of those is left. The Uplink stops this way
        after announcing maintenance: a record written after the announcement
        (the DeviceProxy keeps reading devices while the Uplink restarts) would
        tell the cloud the devices are back before the gateway has gone away; it
        waits in the spool for the next start instead.
        """
        self._through = through_seq
        stop = asyncio.Event()
        runner = asyncio.create_task(self.run(stop))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if await asyncio.to_thread(self._drained):
                    return True
                await asyncio.sleep(0.1)
            return False
        finally:
            stop.set()
            await runner
            self._through = None

    def _next_batch(self, cursor: dict[int, int]) -> list[SpooledRecord]:
        """The next records to send after ``cursor``: most urgent class first, and with
        a ``through_seq`` limit none numbered above it (a class holding only newer
        records is skipped, the others are cut at the limit)."""
        skip = dict(cursor)
        while True:
            batch = self.spool.read(
                after_seq=skip,
                max_items=self.limits.max_items_per_message,
                max_bytes=self.limits.max_payload_bytes - Envelope.overhead(self.gateway_id),
            )
            if not batch or self._through is None:
                return batch
            kept = [record for record in batch if record.seq <= self._through]
            if kept:
                return kept
            skip[priority_of(batch[0].kind)] = _BEYOND_EVERY_SEQ

    def _drained(self) -> bool:
        if self._through is None:
            return self.spool.stats().depth == 0
        return not self._next_batch({})

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        self._wakeup.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wakeup.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _send(self, batch: list[SpooledRecord]) -> None:
        kind = batch[0].kind
        envelope = Envelope.build(self.gateway_id, kind, batch)
        payload = envelope.render()
        if len(payload) > self.limits.max_payload_bytes:
            if len(batch) == 1:
                log.error(
                    "record larger than the MQTT payload limit; dropped",
                    extra={"seq": batch[0].seq},
                )
                self.counters.oversize_dropped += 1
                await asyncio.to_thread(self.spool.ack, [batch[0].seq])
                return
            half = len(batch) // 2
            await self._send(batch[:half])
            await self._send(batch[half:])
            return
        self._cursor[priority_of(kind)] = batch[-1].seq
        await self._window.acquire()
        await self._publish_rate.take()
        if self._byte_rate is not None:
            await self._byte_rate.take(len(payload))
        task = asyncio.create_task(
            self._publish(uplink_topic(self.gateway_id, kind), payload, batch)
        )
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _publish(self, topic: str, payload: bytes, batch: list[SpooledRecord]) -> None:
        try:
            await self.bus.publish_to_iot_core(topic, payload)
        except BusError as exc:
            self.counters.failures += 1
            if not self._failed:
                log.warning(
                    "publish failed; will retry",
                    extra={"error": str(exc), "first_seq": batch[0].seq},
                )
            self._failed = True
            return
        finally:
            self._window.release()
        seqs = [record.seq for record in batch]
        try:
            await asyncio.to_thread(self.spool.ack, seqs)
        except sqlite3.Error as exc:
            # Delivered but still spooled: it is sent again (a bounded duplicate). The
            # send task must live on, or nothing is delivered again until a restart.
            log.error("could not delete delivered records", extra={"error": str(exc)})
            self._failed = True
            return
        self._attempt = 0
        self.counters.messages += 1
        self.counters.delivered += len(batch)
        if batch[0].kind.value == "telemetry":
            self.counters.delivered_telemetry += len(batch)
        self.counters.last_seq = max(self.counters.last_seq, seqs[-1])
        self._rate_window.append((time.monotonic(), len(batch)))

    async def _settle(self) -> None:
        if self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def _recover(self, stop: asyncio.Event) -> None:
        await self._settle()
        self._cursor.clear()
        self._failed = False
        delay = min(30.0, 0.5 * 2**self._attempt) * random.uniform(0.5, 1.0)
        self._attempt += 1
        log.info("uplink backing off before retrying", extra={"delay_s": round(delay, 2)})
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass
