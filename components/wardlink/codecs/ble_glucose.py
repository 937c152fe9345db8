"""``ble:glucose-measurement`` - Glucose Measurement 0x2A18 joined with its Context 0x2A34.

Glucose Measurement (GATT XML org.bluetooth.characteristic.glucose_measurement; GLS 1.0.1):

* Flags uint8: bit 0 Time Offset present; bit 1 Concentration + Type-Sample Location
  present; bit 2 units (0 kg/L, 1 mol/L); bit 3 Sensor Status Annunciation present;
  bit 4 Context Information Follows.
* Sequence Number uint16; Base Time (Date Time, 7); [Time Offset sint16, minutes];
  [Concentration SFLOAT]; [Type (low nibble) / Sample Location (high nibble) uint8];
  [Sensor Status Annunciation uint16].
* Type: 1 capillary whole blood, 2 capillary plasma, 3 venous whole blood, 4 venous
  plasma, 5 arterial whole blood, 6 arterial plasma, 7/8 undetermined whole
  blood/plasma, 9 interstitial fluid, 10 control solution.
* Location: 1 finger, 2 alternate site, 3 earlobe, 4 control solution, 15 n/a.
* Annunciation bits 0..11: battery low, sensor malfunction, sample size
  insufficient, strip insertion error, strip type incorrect, result too high,
  result too low, temperature too high, too low, read interrupted (strip pulled
  too soon), general device fault, time fault.

Units: 1 kg/L = 10^5 mg/dL, 1 mol/L = 10^3 mmol/L; both scalings are exact in
Decimal. The concentration keeps its quantity (mass vs molar): converting between
them needs the molar mass of glucose, which is the clinic's call, not ours.

Glucose Measurement Context (org.bluetooth.characteristic.glucose_measurement_context):

* Flags uint8: bit 0 Carbohydrate ID + Carbohydrate; bit 1 Meal; bit 2 Tester-Health;
  bit 3 Exercise Duration + Intensity; bit 4 Medication ID + Medication; bit 5
  medication units (0 kg, 1 litre); bit 6 HbA1c; bit 7 Extended Flags present.
* Sequence Number uint16 (of the measurement it belongs to); [Extended Flags uint8];
  [Carbohydrate ID uint8, Carbohydrate SFLOAT kg]; [Meal uint8]; [Tester (low
  nibble) / Health (high nibble)]; [Exercise Duration uint16 s, Intensity uint8 %];
  [Medication ID uint8, Medication SFLOAT kg or L]; [HbA1c SFLOAT %].

Joining: a measurement whose "context follows" flag is set is held until the
context with the same sequence number arrives; the context's meal/tester/health
become flags on the glucose observation, its quantities become observations of
their own. A held measurement is released without context when another
measurement arrives or on ``flush()`` (flag ``context-missing``), so nothing is
lost if the meter never sends the context.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from wardlink.codecs._ble_common import (
    CHAR_GLUCOSE_CONTEXT,
    CHAR_GLUCOSE_MEASUREMENT,
    BleValueCodec,
    Reader,
    bit_flags,
    encode_date_time,
    fault_status,
    normalize_uuid,
    observe,
    worst,
)
from wardlink.codecs.base import CodecError, DecodeContext, Decoded
from wardlink.codecs.ieee11073 import MderNumber, NumberLike, Special, sfloat_bytes
from wardlink.codecs.registry import register
from wardlink.model import DeviceStatus, Metric, Observation, Quality
from wardlink.model import nomenclature as mdc

# IEEE 11073-10101 terms used by 11073-10417 (glucose meter): partition 2 (SCADA)
# for concentrations, partition 128 (PHD disease management) for context.
GLUCOSE_BY_TYPE: dict[int, Metric] = {
    1: mdc.GLUCOSE_CAPILLARY,
    2: Metric(mdc_code=160188, mdc_name="MDC_CONC_GLU_CAPILLARY_PLASMA"),
    3: Metric(mdc_code=160192, mdc_name="MDC_CONC_GLU_VENOUS_WHOLEBLOOD"),
    4: Metric(mdc_code=160196, mdc_name="MDC_CONC_GLU_VENOUS_PLASMA"),
    5: Metric(mdc_code=160200, mdc_name="MDC_CONC_GLU_ARTERIAL_WHOLEBLOOD"),
    6: Metric(mdc_code=160204, mdc_name="MDC_CONC_GLU_ARTERIAL_PLASMA"),
    9: Metric(mdc_code=160212, mdc_name="MDC_CONC_GLU_ISF"),
    10: Metric(mdc_code=160208, mdc_name="MDC_CONC_GLU_CONTROL"),
}
GLUCOSE_GENERIC = Metric(mdc_code=160020, mdc_name="MDC_CONC_GLU_GEN")
HBA1C = Metric(mdc_code=160220, mdc_name="MDC_CONC_HBA1C")
CARBOHYDRATE = Metric(mdc_code=(128 << 16) | 29156, mdc_name="MDC_CTXT_GLU_CARB")
EXERCISE = Metric(mdc_code=(128 << 16) | 29152, mdc_name="MDC_CTXT_GLU_EXERCISE")
MEDICATION = Metric(mdc_code=(128 << 16) | 29188, mdc_name="MDC_CTXT_MEDICATION")

SAMPLE_TYPES = {
    1: "capillary-whole-blood",
    2: "capillary-plasma",
    3: "venous-whole-blood",
    4: "venous-plasma",
    5: "arterial-whole-blood",
    6: "arterial-plasma",
    7: "undetermined-whole-blood",
    8: "undetermined-plasma",
    9: "interstitial-fluid",
    10: "control-solution",
}
LOCATIONS = {
    1: "finger",
    2: "alternate-site",
    3: "earlobe",
    4: "control-solution",
    15: "not-available",
}
ANNUNCIATION: dict[int, tuple[str, Quality]] = {
    0: ("battery-low", Quality.VALID),
    1: ("sensor-malfunction", Quality.INVALID),
    2: ("sample-size-insufficient", Quality.INVALID),
    3: ("strip-insertion-error", Quality.INVALID),
    4: ("strip-type-incorrect", Quality.INVALID),
    5: ("result-too-high", Quality.INVALID),
    6: ("result-too-low", Quality.INVALID),
    7: ("temperature-too-high", Quality.INVALID),
    8: ("temperature-too-low", Quality.INVALID),
    9: ("read-interrupted", Quality.INVALID),
    10: ("general-device-fault", Quality.INVALID),
    11: ("time-fault", Quality.QUESTIONABLE),
}
DEVICE_FAULT_BITS = (0, 1, 10, 11)  # battery, sensor, device, clock: the meter, not the sample

CARB_IDS = {
    1: "breakfast",
    2: "lunch",
    3: "dinner",
    4: "snack",
    5: "drink",
    6: "supper",
    7: "brunch",
}
MEALS = {1: "preprandial", 2: "postprandial", 3: "fasting", 4: "casual", 5: "bedtime"}
TESTERS = {1: "self", 2: "health-care-professional", 3: "lab-test", 15: "not-available"}
HEALTH = {
    1: "minor-issues",
    2: "major-issues",
    3: "menses",
    4: "stress",
    5: "no-issues",
    15: "not-available",
}
MEDICATIONS = {
    1: "rapid-acting-insulin",
    2: "short-acting-insulin",
    3: "intermediate-acting-insulin",
    4: "long-acting-insulin",
    5: "pre-mixed-insulin",
}

M_TIME_OFFSET, M_CONCENTRATION, M_MOLAR, M_STATUS, M_CONTEXT = 0x01, 0x02, 0x04, 0x08, 0x10
C_CARB, C_MEAL, C_TESTER, C_EXERCISE, C_MEDICATION, C_MED_LITRES, C_HBA1C, C_EXTENDED = (
    0x01,
    0x02,
    0x04,
    0x08,
    0x10,
    0x20,
    0x40,
    0x80,
)
EXERCISE_OVERRUN = 0xFFFF


@dataclass(frozen=True)
class _Held:
    sequence: int
    decoded: Decoded


@dataclass(frozen=True)
class _Quantity:
    """A context quantity that becomes an observation of its own."""

    key: str
    metric: Metric
    number: MderNumber | Decimal
    unit: str
    flags: tuple[str, ...]
    factor: Decimal  # wire unit -> observation unit (kg -> g is 1000)


def record_sequence(value: bytes) -> int:
    """Sequence number of a Glucose Measurement or Context value (octets 1-2)."""
    if len(value) < 3:
        raise CodecError("glucose value too short for a sequence number")
    return int.from_bytes(value[1:3], "little")


def _sequence_flag(sequence: int) -> str:
    return f"record-seq:{sequence}"


@register
class GlucoseMeasurementCodec(BleValueCodec):
    name: ClassVar[str] = "ble:glucose-measurement"
    description: ClassVar[str] = (
        "BLE Glucose Measurement 0x2A18 with Measurement Context 0x2A34 joined by sequence"
    )
    characteristics: ClassVar[tuple[str, ...]] = (CHAR_GLUCOSE_MEASUREMENT, CHAR_GLUCOSE_CONTEXT)

    def __init__(self, context: DecodeContext) -> None:
        super().__init__(context)
        self._held: _Held | None = None

    def decode_source(self, source: str, value: bytes) -> Decoded:
        if source and normalize_uuid(source) == CHAR_GLUCOSE_CONTEXT:
            return self.decode_context(value)
        return super().decode_source(source, value)

    def flush(self) -> Decoded:
        """Release a measurement still waiting for its context."""
        held, self._held = self._held, None
        if held is None:
            return Decoded()
        return _with_flags(held.decoded, ("context-missing",))

    def decode(self, value: bytes) -> Decoded:
        """Decode a Glucose Measurement 0x2A18 value."""
        decoded, sequence, context_follows = self._measurement(value)
        released = self.flush()
        if context_follows:
            self._held = _Held(sequence, decoded)
            return released
        return _merge(released, decoded)

    def decode_context(self, value: bytes) -> Decoded:
        """Decode a Glucose Measurement Context 0x2A34 value and join it."""
        sequence, notes, extra = self._context(value)
        held = self._held
        if held is not None and held.sequence == sequence:
            self._held = None
            at = held.decoded.observations[0].measured_at if held.decoded.observations else None
            joined = _with_flags(held.decoded, notes)
            return _merge(joined, Decoded(observations=self._extra(extra, sequence, at)))
        # A context without its measurement (arrived late, or the measurement was
        # released already): keep its quantities, say the join failed.
        orphan = self._extra(extra, sequence, None, ("measurement-missing",))
        return _merge(self.flush(), Decoded(observations=orphan))

    # -- parsing ---------------------------------------------------------------

    def _measurement(self, value: bytes) -> tuple[Decoded, int, bool]:
        reader = Reader(value, self.name)
        flags = reader.u8("flags")
        sequence = reader.u16("sequence number")
        base = reader.date_time("base time")
        offset = reader.s16("time offset") if flags & M_TIME_OFFSET else 0
        concentration: MderNumber | None = None
        type_location = 0
        if flags & M_CONCENTRATION:
            concentration = reader.sfloat("glucose concentration")
            type_location = reader.u8("type-sample location")
        annunciation = reader.u16("sensor status annunciation") if flags & M_STATUS else 0

        at, time_flags = base.shifted(offset).stamp(self.context)
        status_flags, quality = bit_flags(annunciation, ANNUNCIATION)
        faults = tuple(ANNUNCIATION[b][0] for b in DEVICE_FAULT_BITS if annunciation >> b & 1)
        status: DeviceStatus | None = fault_status(self.context, faults)

        observations: tuple[Observation, ...] = ()
        if concentration is not None:
            sample_type, location = type_location & 0x0F, type_location >> 4
            notes = (
                _sequence_flag(sequence),
                *time_flags,
                f"sample:{SAMPLE_TYPES.get(sample_type, 'rfu')}",
                f"location:{LOCATIONS.get(location, 'rfu')}",
                *status_flags,
            )
            if sample_type == 10 or location == 4:
                quality = worst(quality, Quality.INVALID)  # control solution is not the patient
            molar = bool(flags & M_MOLAR)
            metric = GLUCOSE_BY_TYPE.get(sample_type, GLUCOSE_GENERIC)
            observations = (
                observe(
                    self.context,
                    "glucose",
                    metric,
                    concentration,
                    mdc.UCUM_MMOL_L if molar else mdc.UCUM_MG_DL,
                    at,
                    quality,
                    notes,
                    scale=(lambda d: d.scaleb(3)) if molar else (lambda d: d.scaleb(5)),
                ),
            )
        return (
            Decoded(observations=observations, status=status),
            sequence,
            bool(flags & M_CONTEXT),
        )

    def _context(self, value: bytes) -> tuple[int, tuple[str, ...], list[_Quantity]]:
        reader = Reader(value, f"{self.name} context")
        flags = reader.u8("flags")
        sequence = reader.u16("sequence number")
        if flags & C_EXTENDED:
            reader.u8("extended flags")  # all bits reserved for future use
        notes: list[str] = []
        extra: list[_Quantity] = []
        if flags & C_CARB:
            carb_id = reader.u8("carbohydrate id")
            carbs = reader.sfloat("carbohydrate")
            extra.append(
                _Quantity(
                    "carbohydrate",
                    CARBOHYDRATE,
                    carbs,
                    "g",
                    (f"meal-type:{CARB_IDS.get(carb_id, 'rfu')}",),
                    Decimal(1000),
                )
            )
        if flags & C_MEAL:
            notes.append(f"meal:{MEALS.get(reader.u8('meal'), 'rfu')}")
        if flags & C_TESTER:
            tester_health = reader.u8("tester-health")
            notes.append(f"tester:{TESTERS.get(tester_health & 0x0F, 'rfu')}")
            notes.append(f"health:{HEALTH.get(tester_health >> 4, 'rfu')}")
        if flags & C_EXERCISE:
            duration = reader.u16("exercise duration")
            intensity = reader.u8("exercise intensity")
            exercise_flags: tuple[str, ...] = (f"exercise-intensity:{intensity}%",)
            if duration == EXERCISE_OVERRUN:
                exercise_flags += ("exercise-duration-overrun",)
            seconds: MderNumber | Decimal = (
                MderNumber(special=Special.POSITIVE_INFINITY)
                if duration == EXERCISE_OVERRUN
                else Decimal(duration)
            )
            extra.append(_Quantity("exercise", EXERCISE, seconds, "s", exercise_flags, Decimal(1)))
        if flags & C_MEDICATION:
            medication_id = reader.u8("medication id")
            dose = reader.sfloat("medication")
            litres = bool(flags & C_MED_LITRES)
            extra.append(
                _Quantity(
                    "medication",
                    MEDICATION,
                    dose,
                    "mL" if litres else "mg",
                    (f"medication:{MEDICATIONS.get(medication_id, 'rfu')}",),
                    Decimal(1000) if litres else Decimal(1_000_000),
                )
            )
        if flags & C_HBA1C:
            extra.append(
                _Quantity("hba1c", HBA1C, reader.sfloat("HbA1c"), mdc.UCUM_PERCENT, (), Decimal(1))
            )
        return sequence, tuple(notes), extra

    def _extra(
        self,
        extra: list[_Quantity],
        sequence: int,
        at: datetime | None,
        more: tuple[str, ...] = (),
    ) -> tuple[Observation, ...]:
        when = at or self.context.now()
        return tuple(
            observe(
                self.context,
                q.key,
                q.metric,
                q.number,
                q.unit,
                when,
                flags=(_sequence_flag(sequence), *q.flags, *more),
                scale=q.factor.__mul__,
            )
            for q in extra
        )


def _with_flags(decoded: Decoded, flags: tuple[str, ...]) -> Decoded:
    if not flags:
        return decoded
    return Decoded(
        observations=tuple(
            obs.model_copy(update={"flags": tuple(dict.fromkeys(obs.flags + flags))})
            for obs in decoded.observations
        ),
        patient=decoded.patient,
        status=decoded.status,
    )


def _merge(first: Decoded, second: Decoded) -> Decoded:
    if not first.observations and first.status is None:
        return second
    return Decoded(
        observations=first.observations + second.observations,
        patient=second.patient or first.patient,
        status=_merge_status(first.status, second.status),
    )


def _merge_status(a: DeviceStatus | None, b: DeviceStatus | None) -> DeviceStatus | None:
    if a is None or b is None:
        return a or b
    return b.model_copy(update={"error_codes": tuple(dict.fromkeys(a.error_codes + b.error_codes))})


def encode_glucose_measurement(
    sequence: int,
    base_time: datetime,
    concentration: NumberLike | None = None,
    molar: bool = False,
    sample_type: int = 1,
    location: int = 1,
    time_offset: int | None = None,
    annunciation: int | None = None,
    context_follows: bool = False,
) -> bytes:
    """Wire bytes of a Glucose Measurement; concentration in kg/L or mol/L."""
    flags = (M_MOLAR if molar else 0) | (M_CONTEXT if context_follows else 0)
    body = sequence.to_bytes(2, "little") + encode_date_time(base_time)
    if time_offset is not None:
        flags |= M_TIME_OFFSET
        body += time_offset.to_bytes(2, "little", signed=True)
    if concentration is not None:
        flags |= M_CONCENTRATION
        body += sfloat_bytes(concentration) + bytes([(location << 4) | sample_type])
    if annunciation is not None:
        flags |= M_STATUS
        body += annunciation.to_bytes(2, "little")
    return bytes([flags]) + body


def encode_glucose_context(
    sequence: int,
    meal: int | None = None,
    tester: int | None = None,
    health: int | None = None,
    carbohydrate_kg: NumberLike | None = None,
    carbohydrate_id: int = 1,
    hba1c: NumberLike | None = None,
) -> bytes:
    """Wire bytes of a Glucose Measurement Context (the fields the simulator uses)."""
    flags = 0
    body = sequence.to_bytes(2, "little")
    if carbohydrate_kg is not None:
        flags |= C_CARB
        body += bytes([carbohydrate_id]) + sfloat_bytes(carbohydrate_kg)
    if meal is not None:
        flags |= C_MEAL
        body += bytes([meal])
    if tester is not None or health is not None:
        flags |= C_TESTER
        body += bytes([((health or 15) << 4) | (tester or 15)])
    if hba1c is not None:
        flags |= C_HBA1C
        body += sfloat_bytes(hba1c)
    return bytes([flags]) + body
