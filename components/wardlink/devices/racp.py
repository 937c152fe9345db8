"""Glucose record sync over the Record Access Control Point (RACP, 0x2A52).

A glucose meter stores its readings and hands them over on request (GLS 1.0.1,
RACP characteristic XML org.bluetooth.characteristic.record_access_control_point):

* requests are written to the RACP: Op Code, Operator, Operand. "Report stored
  records" is ``01``; operator ``01`` all records, ``03`` greater than or equal to,
  whose operand is a filter type (``01`` = sequence number) and a uint16:
  ``01 01`` and ``01 03 01 NN NN``. ``04 01`` asks for the number of records,
  ``03 00`` aborts.
* the meter notifies every matching Glucose Measurement (0x2A18), each followed by
  its Context (0x2A34) when it has one, and ends the procedure with an RACP
  indication: Response Code ``06``, Operator ``00``, then the request op code and
  the result (``01`` success, ``06`` no records found, others are errors). The
  number of records comes back as ``05 00 NN NN``.

``GlucoseSync`` wraps a connected ``BleTransport``: on every (re)connect it asks
for all records the first time and for records with sequence number >= last+1
afterwards, passes the measurement and context values through to its reader, and
only when the meter says "success" (or "no records") persists the highest
sequence number seen for that device id. A transfer cut short by a disconnect or
the timeout is not persisted, so the next connect asks again from the old mark:
records may come twice across a crash, never zero times (at-least-once; the
reader can de-duplicate on the ``record-seq`` flag). Within one process, a record
already handed over is not handed over again when a cut-short transfer is retried.
Sequence numbers are taken to increase; a meter that wraps at 65535 starts over
with "all records".

State is one small JSON file per gateway (``racp-state.json`` in the state
directory), written atomically (temp file + rename).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from wardlink.codecs._ble_common import CHAR_GLUCOSE_CONTEXT, CHAR_GLUCOSE_MEASUREMENT, CHAR_RACP
from wardlink.codecs.base import CodecError
from wardlink.codecs.ble_glucose import record_sequence
from wardlink.model import WardlinkError
from wardlink.transports.base import Chunk, TransportError
from wardlink.transports.ble import BleTransport

log = logging.getLogger(__name__)

OP_REPORT_RECORDS = 0x01
OP_DELETE_RECORDS = 0x02
OP_ABORT = 0x03
OP_REPORT_NUMBER = 0x04
OP_NUMBER_RESPONSE = 0x05
OP_RESPONSE_CODE = 0x06

OPERATOR_NULL = 0x00
OPERATOR_ALL = 0x01
OPERATOR_LE = 0x02
OPERATOR_GE = 0x03
OPERATOR_RANGE = 0x04
OPERATOR_FIRST = 0x05
OPERATOR_LAST = 0x06

FILTER_SEQUENCE = 0x01

SUCCESS = 0x01
OP_CODE_NOT_SUPPORTED = 0x02
INVALID_OPERATOR = 0x03
OPERATOR_NOT_SUPPORTED = 0x04
INVALID_OPERAND = 0x05
NO_RECORDS = 0x06
ABORT_UNSUCCESSFUL = 0x07
PROCEDURE_NOT_COMPLETED = 0x08
OPERAND_NOT_SUPPORTED = 0x09

MAX_SEQUENCE = 0xFFFF


class RacpError(WardlinkError):
    """The meter refused or broke off a record transfer."""


def request_all() -> bytes:
    return bytes([OP_REPORT_RECORDS, OPERATOR_ALL])


def request_from(sequence: int) -> bytes:
    """Report stored records with sequence number >= ``sequence``."""
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence number out of range: {sequence}")
    return bytes([OP_REPORT_RECORDS, OPERATOR_GE, FILTER_SEQUENCE]) + sequence.to_bytes(2, "little")


def request_count() -> bytes:
    return bytes([OP_REPORT_NUMBER, OPERATOR_ALL])


def request_abort() -> bytes:
    return bytes([OP_ABORT, OPERATOR_NULL])


@dataclass(frozen=True)
class RacpResponse:
    """``06 00 <request op> <code>``: how a procedure ended."""

    request_opcode: int
    code: int

    @property
    def ok(self) -> bool:
        return self.code in (SUCCESS, NO_RECORDS)


@dataclass(frozen=True)
class RacpCount:
    """``05 00 NN NN``: the number of stored records."""

    count: int


def parse_racp(value: bytes) -> RacpResponse | RacpCount:
    if len(value) >= 4 and value[0] == OP_RESPONSE_CODE and value[1] == OPERATOR_NULL:
        return RacpResponse(value[2], value[3])
    if len(value) >= 4 and value[0] == OP_NUMBER_RESPONSE and value[1] == OPERATOR_NULL:
        return RacpCount(int.from_bytes(value[2:4], "little"))
    raise CodecError(f"not an RACP response: {value.hex()}")


class SyncStateStore:
    """Last synced sequence number per device id, in one JSON file."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "racp-state.json"

    def _load(self) -> dict[str, int]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # A damaged file means "ask for everything again": duplicates, not loss.
            log.error("RACP state unreadable, starting over: %s", exc)
            return {}
        return {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def last(self, device_id: str) -> int | None:
        return self._load().get(device_id)

    def save(self, device_id: str, sequence: int) -> None:
        state = self._load()
        state[device_id] = sequence
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".racp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise


@dataclass(frozen=True)
class SyncResult:
    requested_from: int | None  # None = all records
    received: int
    last_sequence: int | None
    completed: bool


class GlucoseSync:
    """Drives RACP on every connect and passes glucose values through to the reader."""

    def __init__(
        self,
        transport: BleTransport,
        device_id: str,
        store: SyncStateStore,
        timeout: float = 60.0,
    ) -> None:
        self.transport = transport
        self.device_id = device_id
        self.store = store
        self.timeout = timeout
        self.results: list[SyncResult] = []
        self._delivered_up_to: int | None = store.last(device_id)
        self._seen_max: int | None = None
        self._passed_sequence: int | None = None
        self._received = 0
        self._response: asyncio.Future[RacpResponse] | None = None
        self._lock = asyncio.Lock()
        self._finished = asyncio.Condition()
        transport.connect_hooks.append(self._on_connect)

    async def wait_results(self, count: int) -> SyncResult:
        """Until ``count`` sync attempts have ended (wrap in a timeout); the last result."""
        async with self._finished:
            await self._finished.wait_for(lambda: len(self.results) >= count)
        return self.results[-1]

    async def chunks(self) -> AsyncIterator[Chunk]:
        """The transport's chunks minus RACP responses, and minus re-sent records."""
        async for chunk in self.transport.chunks():
            if chunk.source == CHAR_RACP:
                self._on_racp(chunk.data)
                continue
            if chunk.source in (CHAR_GLUCOSE_MEASUREMENT, CHAR_GLUCOSE_CONTEXT):
                try:
                    sequence = record_sequence(chunk.data)
                except CodecError:
                    yield chunk  # let the codec report it
                    continue
                if not self._admit(chunk.source, sequence):
                    continue  # already handed over
            yield chunk

    def _admit(self, source: str, sequence: int) -> bool:
        """Whether a glucose value is new to the reader (and bookkeeping for the sync)."""
        delivered = self._delivered_up_to
        if source == CHAR_GLUCOSE_MEASUREMENT:
            self._received += 1
            self._seen_max = sequence if self._seen_max is None else max(self._seen_max, sequence)
            if delivered is not None and sequence <= delivered:
                self._passed_sequence = None
                return False
            self._delivered_up_to = sequence
            self._passed_sequence = sequence
            return True
        # A context goes wherever its measurement went.
        return sequence == self._passed_sequence or delivered is None or sequence > delivered

    def _on_racp(self, value: bytes) -> None:
        try:
            parsed = parse_racp(value)
        except CodecError as exc:
            log.warning("RACP: %s", exc)
            return
        waiting = self._response
        if isinstance(parsed, RacpResponse) and waiting is not None and not waiting.done():
            waiting.set_result(parsed)

    async def sync_now(self) -> SyncResult:
        """A sync on request (the technician's "sync stored records now"), as on connect."""
        async with self._lock:
            result = await self._sync()
        async with self._finished:
            self.results.append(result)
            self._finished.notify_all()
        return result

    async def _on_connect(self, transport: BleTransport) -> None:
        async with self._lock:
            result = await self._sync()
        async with self._finished:
            self.results.append(result)
            self._finished.notify_all()

    async def _sync(self) -> SyncResult:
        last = self.store.last(self.device_id)
        start = None if last is None or last >= MAX_SEQUENCE else last + 1
        request = request_all() if start is None else request_from(start)
        self._seen_max = None
        self._received = 0
        self._response = asyncio.get_running_loop().create_future()
        log.info("RACP sync of %s from %s", self.device_id, "the start" if start is None else start)
        try:
            await self.transport.write(request, target=CHAR_RACP)
            response = await asyncio.wait_for(self._response, self.timeout)
        except TimeoutError:
            log.warning("RACP sync of %s timed out; aborting", self.device_id)
            with contextlib.suppress(TransportError):
                await self.transport.write(request_abort(), target=CHAR_RACP)
            return SyncResult(start, self._received, self._seen_max, completed=False)
        except TransportError as exc:
            log.warning("RACP request to %s failed: %s", self.device_id, exc)
            return SyncResult(start, self._received, self._seen_max, completed=False)
        finally:
            self._response = None
        if not response.ok:
            log.warning(
                "RACP: meter answered %#04x to %#04x", response.code, response.request_opcode
            )
            return SyncResult(start, self._received, self._seen_max, completed=False)
        newest = self._seen_max if self._seen_max is not None else last
        if newest is not None and (last is None or newest > last):
            self.store.save(self.device_id, newest)
        return SyncResult(start, self._received, newest, completed=True)
