"""``ble-glucose``: a Bumble Glucose Service (0x1808) meter with stored records and RACP.

Characteristics (GLS 1.0.1): Glucose Measurement 0x2A18 (notify), Glucose
Measurement Context 0x2A34 (notify), Glucose Feature 0x2A51 (read), Record Access
Control Point 0x2A52 (write + indicate). GLS asks for an encrypted link, so by
default the feature read and the RACP write require encryption: the collector has
to pair first (``pair: true`` in the profile).

The meter keeps ``records`` in memory (sequence numbers from 1, concentrations in
kg/L as SFLOAT, times from the skewed device clock, every ``context_every``-th
record with a Context: meal and tester). RACP procedures implemented: report
stored records (all, <=, >=, within range, first, last; filter type sequence
number), report number of stored records, delete stored records, abort. Errors
follow the RACP response codes (op code / operator / operand not supported,
invalid operand, no records found) and ATT errors 0xFE "procedure already in
progress" and 0xFD "CCCD improperly configured".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from bumble import att, gatt
from bumble.core import BaseBumbleError
from bumble.device import Connection

from wardlink.codecs.ble_glucose import encode_glucose_context, encode_glucose_measurement
from wardlink.devices import racp
from wardlink.sim.ble_peripheral import (
    BLE_SETTINGS,
    INDICATE,
    NOTIFY,
    READ,
    READ_ENCRYPTED,
    READABLE,
    WRITE,
    WRITE_ENCRYPTED,
    WRITEABLE,
    BlePeripheralSim,
    BleSimulatorAdapter,
    characteristic,
    uuid,
)
from wardlink.sim.registry import SimOptions, register_simulator

log = logging.getLogger(__name__)

PROCEDURE_ALREADY_IN_PROGRESS = 0xFE
CCCD_IMPROPERLY_CONFIGURED = 0xFD
# Glucose Feature: low battery, malfunction, sample size, strip insertion, strip type,
# result high-low, temperature high-low, read interrupt, general fault, time fault.
FEATURES = 0x03FF


@dataclass(frozen=True)
class GlucoseRecord:
    sequence: int
    taken_at: datetime  # device clock, naive
    mg_dl: int
    meal: int | None = None  # 1 preprandial, 2 postprandial, 3 fasting ...

    def measurement(self) -> bytes:
        kg_per_l = Decimal(self.mg_dl).scaleb(-5)  # 1 mg/dL = 1e-5 kg/L, exact
        return encode_glucose_measurement(
            self.sequence, self.taken_at, kg_per_l, sample_type=1, location=1,
            annunciation=0, context_follows=self.meal is not None,
        )

    def context(self) -> bytes | None:
        if self.meal is None:
            return None
        return encode_glucose_context(self.sequence, meal=self.meal, tester=1, health=5)


class GlucoseMeterSim(BlePeripheralSim):
    sim_name: ClassVar[str] = "ble-glucose"
    service_uuid: ClassVar[int] = 0x1808
    model: ClassVar[str] = "WL-GLU-1"

    def __init__(
        self,
        *args: Any,
        records: int = 0,
        require_encryption: bool = True,
        context_every: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.require_encryption = require_encryption
        self.context_every = context_every
        self.records: list[GlucoseRecord] = []
        self.procedures = 0
        self._rng = random.Random(18)
        self._task: asyncio.Task[None] | None = None
        self._abort = False
        self.measurement = characteristic(0x2A18, NOTIFY)
        self.context_char = characteristic(0x2A34, NOTIFY)
        self.racp = characteristic(
            0x2A52, WRITE | INDICATE,
            WRITEABLE | (WRITE_ENCRYPTED if require_encryption else WRITEABLE),
            gatt.CharacteristicValue(write=self._on_racp_write),
        )
        self.add_records(records)

    def profile_services(self) -> list[gatt.Service]:
        feature = characteristic(
            0x2A51, READ, READABLE | (READ_ENCRYPTED if self.require_encryption else READABLE),
            FEATURES.to_bytes(2, "little"),
        )
        return [
            gatt.Service(
                uuid(self.service_uuid),
                [self.measurement, self.context_char, feature, self.racp],
            )
        ]

    # -- the record store ----------------------------------------------------------

    def add_records(self, count: int) -> list[GlucoseRecord]:
        """Take ``count`` new readings, five minutes apart, ending now (device clock)."""
        first = self.records[-1].sequence + 1 if self.records else 1
        now = self.device_now().replace(microsecond=0)
        added = [
            GlucoseRecord(
                sequence=first + i,
                taken_at=now - timedelta(minutes=5 * (count - 1 - i)),
                mg_dl=self._rng.randint(70, 180),
                meal=(1 + (first + i) % 3)
                if self.context_every and (first + i) % self.context_every == 0 else None,
            )
            for i in range(count)
        ]
        self.records.extend(added)
        return added

    @property
    def last_sequence(self) -> int | None:
        return self.records[-1].sequence if self.records else None

    def _select(self, value: bytes) -> tuple[list[GlucoseRecord] | None, int]:
        """Records an RACP request selects, or (None, error code)."""
        operator = value[1]
        operand = value[2:]
        if operator == racp.OPERATOR_NULL:
            return None, racp.INVALID_OPERATOR
        if operator == racp.OPERATOR_ALL:
            return (list(self.records), 0) if not operand else (None, racp.INVALID_OPERAND)
        if operator == racp.OPERATOR_FIRST:
            return self.records[:1], 0
        if operator == racp.OPERATOR_LAST:
            return self.records[-1:], 0
        if operator not in (racp.OPERATOR_LE, racp.OPERATOR_GE, racp.OPERATOR_RANGE):
            return None, racp.OPERATOR_NOT_SUPPORTED
        if not operand:
            return None, racp.INVALID_OPERAND
        if operand[0] != racp.FILTER_SEQUENCE:
            return None, racp.OPERAND_NOT_SUPPORTED
        needed = 5 if operator == racp.OPERATOR_RANGE else 3
        if len(operand) != needed:
            return None, racp.INVALID_OPERAND
        low = int.from_bytes(operand[1:3], "little")
        if operator == racp.OPERATOR_LE:
            return [r for r in self.records if r.sequence <= low], 0
        if operator == racp.OPERATOR_GE:
            return [r for r in self.records if r.sequence >= low], 0
        high = int.from_bytes(operand[3:5], "little")
        if low > high:
            return None, racp.INVALID_OPERAND
        return [r for r in self.records if low <= r.sequence <= high], 0

    # -- RACP ------------------------------------------------------------------------

    def _on_racp_write(self, connection: Connection, value: bytes) -> None:
        value = bytes(value)
        if len(value) < 2:
            raise att.ATT_Error(att.ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        opcode = value[0]
        busy = self._task is not None and not self._task.done()
        if opcode == racp.OP_ABORT:
            self._abort = True
            self._start(connection, self._finish_abort(connection, value))
            return
        if busy:
            raise att.ATT_Error(PROCEDURE_ALREADY_IN_PROGRESS)
        if not self._indications_enabled(connection):
            raise att.ATT_Error(CCCD_IMPROPERLY_CONFIGURED)
        self._abort = False
        self.procedures += 1
        self._task = self._start(connection, self._procedure(connection, value))

    def _indications_enabled(self, connection: Connection) -> bool:
        cccds = self.device.gatt_server.subscribers.get(connection, {})
        cccd = cccds.get(self.racp.handle)
        return bool(cccd and cccd[0] & 0x02)

    def _start(self, connection: Connection, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(self._procedure_done)
        return task

    @staticmethod
    def _procedure_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.info("glucose sim: RACP procedure ended: %s", task.exception())

    async def _respond(self, connection: Connection, payload: bytes) -> None:
        await self.device.indicate_subscriber(connection, self.racp, payload)

    async def _procedure(self, connection: Connection, value: bytes) -> None:
        await asyncio.sleep(0)  # let the write response go out first
        opcode = value[0]
        if opcode == racp.OP_REPORT_RECORDS:
            selected, error = self._select(value)
            if selected is None:
                await self._respond(connection, bytes([6, 0, opcode, error]))
                return
            await self._send_records(connection, selected)
            if self._abort:
                return  # the abort answers for itself
            code = racp.SUCCESS if selected else racp.NO_RECORDS
            await self._respond(connection, bytes([6, 0, opcode, code]))
        elif opcode == racp.OP_REPORT_NUMBER:
            selected, error = self._select(value)
            if selected is None:
                await self._respond(connection, bytes([6, 0, opcode, error]))
                return
            await self._respond(connection, bytes([5, 0]) + len(selected).to_bytes(2, "little"))
        elif opcode == racp.OP_DELETE_RECORDS:
            selected, error = self._select(value)
            if selected is None:
                await self._respond(connection, bytes([6, 0, opcode, error]))
                return
            doomed = {r.sequence for r in selected}
            self.records = [r for r in self.records if r.sequence not in doomed]
            code = racp.SUCCESS if doomed else racp.NO_RECORDS
            await self._respond(connection, bytes([6, 0, opcode, code]))
        else:
            await self._respond(connection, bytes([6, 0, opcode, racp.OP_CODE_NOT_SUPPORTED]))

    async def _send_records(self, connection: Connection, records: Sequence[GlucoseRecord]) -> None:
        for record in records:
            if self._abort or connection.handle not in self.device.connections:
                return
            await self.device.notify_subscriber(connection, self.measurement, record.measurement())
            context = record.context()
            if context is not None:
                await self.device.notify_subscriber(connection, self.context_char, context)

    async def _finish_abort(self, connection: Connection, value: bytes) -> None:
        running = self._task
        if running is not None and not running.done():
            with contextlib.suppress(BaseBumbleError, asyncio.CancelledError):
                await running
        code = racp.SUCCESS if value[1] == racp.OPERATOR_NULL else racp.INVALID_OPERATOR
        await self._respond(connection, bytes([6, 0, racp.OP_ABORT, code]))

    async def produce(self) -> None:
        """Standalone: a new reading now and then, reported to whoever is subscribed."""
        (record,) = self.add_records(1)
        await self.notify(self.measurement, record.measurement())
        context = record.context()
        if context is not None:
            await self.notify(self.context_char, context)


@register_simulator(
    "ble-glucose", "Bumble glucose meter with stored records and RACP",
    settings={**BLE_SETTINGS, "records": "stored records to offer over RACP (default 500)"},
)
def glucose_simulator(options: SimOptions) -> BleSimulatorAdapter:
    """``wardlink sim ble-glucose``; see BleSimulatorAdapter for --set options."""
    records = int(options.settings.get("records", "500"))
    return BleSimulatorAdapter(GlucoseMeterSim, options, default_interval=30.0, records=records)
