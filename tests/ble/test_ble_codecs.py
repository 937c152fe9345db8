"""BLE health codecs: spec vectors, hand-assembled from the GATT field definitions.

Each hex string below was written by hand from the Bluetooth SIG characteristic
definitions (org.bluetooth.characteristic.*.xml: field order LSO first, flags
bits as listed there), not produced by the encoders under test. The one
published capture is the Blood Pressure indication from Stack Overflow question
78168365, whose systolic nRF Connect decoded as 127.0 mmHg.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wardlink.codecs import CodecError, DecodeContext, Decoded, all_codecs, get_codec
from wardlink.codecs._ble_common import (
    CHAR_GLUCOSE_CONTEXT,
    CHAR_GLUCOSE_MEASUREMENT,
    CHAR_HEART_RATE_MEASUREMENT,
    DEVICE_TIME,
    DEVICE_TIME_CORRECTED,
    apply_clock_offset,
    clock_offset,
    encode_current_time,
    normalize_uuid,
    parse_device_clock,
)
from wardlink.codecs.ble_glucose import GlucoseMeasurementCodec
from wardlink.model import Observation, Quality

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DEVICE_STAMP = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)  # EA07 0B 02 08 1E 00
CTX = DecodeContext(device_id="bed-12.ble", now=lambda: NOW)

BLE_CODECS = {
    "ble:glucose-measurement",
    "ble:blood-pressure-measurement",
    "ble:heart-rate-measurement",
    "ble:temperature-measurement",
    "ble:plx-spot-check",
    "ble:plx-continuous",
    "ble:weight-measurement",
}


def decode(codec: str, hex_value: str) -> Decoded:
    return get_codec(codec)(CTX).decode(bytes.fromhex(hex_value))  # type: ignore[union-attr]


def by_name(decoded: Decoded) -> dict[str, Observation]:
    return {obs.metric.mdc_name: obs for obs in decoded.observations}


def test_registered_names() -> None:
    assert set(all_codecs()) >= BLE_CODECS


# -- heart rate 0x2A37 ---------------------------------------------------------------


def test_heart_rate_uint8_with_contact_and_rr() -> None:
    decoded = decode("ble:heart-rate-measurement", "16 48 2003")
    hr, rr = decoded.observations
    assert (hr.metric.mdc_code, hr.value, hr.unit) == (147842, 72.0, "/min")
    assert (rr.metric.mdc_name, rr.value, rr.unit) == ("MDC_ECG_TIME_PD_RR_GL", 0.78125, "s")
    assert hr.measured_at == NOW and hr.quality is Quality.VALID


def test_heart_rate_uint16_energy_and_two_rr() -> None:
    obs = decode("ble:heart-rate-measurement", "19 2C01 3412 0004 0002").observations
    assert [o.value for o in obs] == [300.0, 4660.0, 1.0, 0.5]
    assert obs[1].unit == "kJ"


def test_heart_rate_contact_supported_but_lost_is_questionable() -> None:
    (hr,) = decode("ble:heart-rate-measurement", "04 48").observations
    assert hr.quality is Quality.QUESTIONABLE
    assert "sensor-contact-not-detected" in hr.flags


def test_heart_rate_odd_rr_bytes_and_truncation() -> None:
    with pytest.raises(CodecError):
        decode("ble:heart-rate-measurement", "10 48 20")
    with pytest.raises(CodecError):
        decode("ble:heart-rate-measurement", "01 2C")


# -- blood pressure 0x2A35 -------------------------------------------------------------


def test_blood_pressure_published_capture() -> None:
    decoded = decode("ble:blood-pressure-measurement", "DEF6F416F3FF07E4070114082B00B2F2018000")
    obs = by_name(decoded)
    assert obs["MDC_PRESS_BLD_NONINV_SYS"].value == 127.0
    assert obs["MDC_PRESS_BLD_NONINV_DIA"].value == 79.0
    mean = obs["MDC_PRESS_BLD_NONINV_MEAN"]
    assert (mean.value, mean.quality) == (None, Quality.UNAVAILABLE)
    assert "NaN" in mean.flags
    assert obs["MDC_PULS_RATE_NON_INV"].value == 69.0
    assert obs["MDC_PRESS_BLD_NONINV_SYS"].measured_at == datetime(2020, 1, 20, 8, 43, tzinfo=UTC)
    assert DEVICE_TIME in obs["MDC_PRESS_BLD_NONINV_SYS"].flags
    # user 1 is an identifier: patient context, never a flag
    assert decoded.patient is not None and decoded.patient.patient_id == "ble-user-1"
    assert not any("user" in flag for o in decoded.observations for flag in o.flags)


def test_blood_pressure_kpa_and_pulse() -> None:
    obs = by_name(decode("ble:blood-pressure-measurement", "05 A0F0 6BF0 7DF0 4800"))
    assert obs["MDC_PRESS_BLD_NONINV_SYS"].value == 16.0
    assert obs["MDC_PRESS_BLD_NONINV_SYS"].unit == "kPa"
    assert obs["MDC_PRESS_BLD_NONINV_DIA"].value == 10.7
    assert obs["MDC_PRESS_BLD_NONINV_MEAN"].value == 12.5
    assert obs["MDC_PULS_RATE_NON_INV"].unit == "/min"


def test_blood_pressure_measurement_status() -> None:
    decoded = decode("ble:blood-pressure-measurement", "14 7800 5000 5D00 4800 0B00")
    obs = by_name(decoded)
    systolic = obs["MDC_PRESS_BLD_NONINV_SYS"]
    assert systolic.unit == "mm[Hg]" and systolic.value == 120.0
    assert systolic.quality is Quality.QUESTIONABLE
    assert {"body-movement", "cuff-too-loose"} <= set(systolic.flags)
    assert "pulse-above-upper-limit" in obs["MDC_PULS_RATE_NON_INV"].flags
    assert decoded.patient is None
    assert systolic.measured_at == NOW  # no time stamp: arrival time


def test_blood_pressure_unknown_user_is_not_a_patient() -> None:
    decoded = decode("ble:blood-pressure-measurement", "08 7800 5000 5D00 FF")
    assert decoded.patient is None


# -- thermometer 0x2A1C ----------------------------------------------------------------


def test_temperature_celsius_time_and_site() -> None:
    (obs,) = decode("ble:temperature-measurement", "06 6D0100FF EA070B02081E00 06").observations
    assert (obs.metric.mdc_name, obs.value, obs.unit) == ("MDC_TEMP_BODY", 36.5, "Cel")
    assert obs.measured_at == DEVICE_STAMP
    assert "site:mouth" in obs.flags


def test_temperature_fahrenheit_and_nan() -> None:
    (obs,) = decode("ble:temperature-measurement", "01 DA0300FF").observations
    assert (obs.value, obs.unit) == (98.6, "[degF]")
    (nan,) = decode("ble:temperature-measurement", "00 FFFF7F00").observations
    assert (nan.value, nan.quality, nan.flags) == (None, Quality.UNAVAILABLE, ("NaN",))


def test_temperature_infinity_is_invalid_not_inf() -> None:
    (obs,) = decode("ble:temperature-measurement", "00 FEFF7F00").observations
    assert (obs.value, obs.quality, obs.flags) == (None, Quality.INVALID, ("+INF",))
    (neg,) = decode("ble:temperature-measurement", "00 02008000").observations
    assert neg.flags == ("-INF",)


def test_temperature_unknown_and_impossible_time() -> None:
    (unknown,) = decode("ble:temperature-measurement", "02 6D0100FF 00000000000000").observations
    assert unknown.measured_at == NOW and "device-time-unknown" in unknown.flags
    (bad,) = decode("ble:temperature-measurement", "02 6D0100FF EA070D20193C3C").observations
    assert bad.measured_at == NOW and "device-time-invalid" in bad.flags


# -- pulse oximeter 0x2A5E / 0x2A5F ------------------------------------------------------


def test_plx_spot_check_with_time_and_status() -> None:
    decoded = decode("ble:plx-spot-check", "03 6100 4800 EA070B02081E00 0040")
    spo2, rate = decoded.observations
    assert (spo2.metric.mdc_code, spo2.value, spo2.unit) == (150456, 97.0, "%")
    assert (rate.metric.mdc_code, rate.value) == (149530, 72.0)
    assert spo2.measured_at == DEVICE_STAMP
    assert spo2.quality is Quality.QUESTIONABLE
    assert {"spot-check", "questionable-measurement"} <= set(spo2.flags)
    assert decoded.status is None


def test_plx_spot_check_sensor_disconnected_is_a_device_fault() -> None:
    decoded = decode("ble:plx-spot-check", "04 FF07 FF07 008000")
    assert all(o.value is None for o in decoded.observations)
    assert decoded.status is not None
    assert decoded.status.error_codes == ("sensor-disconnected",)
    assert decoded.observations[0].quality is Quality.UNAVAILABLE  # NaN wins over the fault


def test_plx_spot_check_clock_not_set_uses_arrival_time() -> None:
    spo2, _ = decode("ble:plx-spot-check", "11 6100 4800 EA070B02081E00").observations
    assert spo2.measured_at == NOW
    assert "device-clock-not-set" in spo2.flags


def test_plx_continuous_all_fields() -> None:
    obs = decode("ble:plx-continuous", "1F 6200 4600 6100 4700 6200 4500 8000 200000 19F0")
    values = [(o.metric.mdc_name, o.value, "fast" in o.flags, "slow" in o.flags)
              for o in obs.observations]
    assert values == [
        ("MDC_PULS_OXIM_SAT_O2", 98.0, False, False),
        ("MDC_PULS_OXIM_PULS_RATE", 70.0, False, False),
        ("MDC_PULS_OXIM_SAT_O2", 97.0, True, False),
        ("MDC_PULS_OXIM_PULS_RATE", 71.0, True, False),
        ("MDC_PULS_OXIM_SAT_O2", 98.0, False, True),
        ("MDC_PULS_OXIM_PULS_RATE", 69.0, False, True),
        ("MDC_PULS_OXIM_PERF_REL", 2.5, False, False),
    ]
    assert {"validated", "low-perfusion"} <= set(obs.observations[0].flags)
    assert obs.observations[0].quality is Quality.QUESTIONABLE
    assert obs.status is None


# -- weight 0x2A9D ---------------------------------------------------------------------


def test_weight_si_with_user_bmi_height() -> None:
    decoded = decode("ble:weight-measurement", "0C B136 01 E500 D606")
    obs = by_name(decoded)
    assert (obs["MDC_MASS_BODY_ACTUAL"].value, obs["MDC_MASS_BODY_ACTUAL"].unit) == (70.005, "kg")
    assert obs["MDC_RATIO_MASS_BODY_LEN_SQ"].value == 22.9
    assert (obs["MDC_LEN_BODY_ACTUAL"].value, obs["MDC_LEN_BODY_ACTUAL"].unit) == (1.75, "m")
    assert decoded.patient is not None


def test_weight_imperial_and_unsuccessful() -> None:
    (obs,) = decode("ble:weight-measurement", "01 4B3C").observations
    assert (obs.value, obs.unit) == (154.35, "[lb_av]")
    (failed,) = decode("ble:weight-measurement", "00 FFFF").observations
    assert (failed.value, failed.quality) == (None, Quality.UNAVAILABLE)
    assert "measurement-unsuccessful" in failed.flags


# -- glucose 0x2A18 + context 0x2A34 -----------------------------------------------------


def test_glucose_kg_per_litre_with_time_offset() -> None:
    (obs,) = decode("ble:glucose-measurement", "03 0100 EA070B02081E00 FBFF 5FB0 11").observations
    assert obs.metric.mdc_code == 160184
    assert obs.metric.mdc_name == "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD"
    assert (obs.value, obs.unit) == (95.0, "mg/dL")
    assert obs.measured_at == DEVICE_STAMP - timedelta(minutes=5)
    assert {"record-seq:1", "sample:capillary-whole-blood", "location:finger"} <= set(obs.flags)


def test_glucose_mol_per_litre_plasma_alternate_site() -> None:
    (obs,) = decode("ble:glucose-measurement", "06 0200 EA070B02081E00 35C0 22").observations
    assert (obs.metric.mdc_name, obs.value, obs.unit) == (
        "MDC_CONC_GLU_CAPILLARY_PLASMA", 5.3, "mmol/L")
    assert "location:alternate-site" in obs.flags


def test_glucose_annunciation_and_infinity() -> None:
    decoded = decode("ble:glucose-measurement", "0A 0300 EA070B02081E00 FE07 11 2100")
    (obs,) = decoded.observations
    assert (obs.value, obs.quality) == (None, Quality.INVALID)
    assert {"+INF", "result-too-high", "battery-low"} <= set(obs.flags)
    assert decoded.status is not None and decoded.status.error_codes == ("battery-low",)


def test_glucose_context_joined_by_sequence() -> None:
    codec = GlucoseMeasurementCodec(CTX)
    held = codec.decode_source(CHAR_GLUCOSE_MEASUREMENT,
                               bytes.fromhex("12 0400 EA070B02081E00 5FB0 11"))
    assert held.observations == ()  # waiting for its context
    joined = codec.decode_source(CHAR_GLUCOSE_CONTEXT, bytes.fromhex("47 0400 01 32D0 01 51 41F0"))
    glucose, carbs, hba1c = joined.observations
    assert {"meal:preprandial", "tester:self", "health:no-issues", "record-seq:4"} <= set(
        glucose.flags)
    assert (carbs.metric.mdc_name, carbs.value, carbs.unit) == ("MDC_CTXT_GLU_CARB", 50.0, "g")
    assert "meal-type:breakfast" in carbs.flags
    assert (hba1c.metric.mdc_name, hba1c.value, hba1c.unit) == ("MDC_CONC_HBA1C", 6.5, "%")
    assert carbs.measured_at == glucose.measured_at == DEVICE_STAMP
    assert codec.flush() == Decoded()


def test_glucose_context_never_arrives() -> None:
    codec = GlucoseMeasurementCodec(CTX)
    codec.decode(bytes.fromhex("12 0400 EA070B02081E00 5FB0 11"))
    nxt = codec.decode(bytes.fromhex("02 0500 EA070B02081E00 5FB0 11"))
    first, second = nxt.observations
    assert "context-missing" in first.flags and "record-seq:4" in first.flags
    assert "record-seq:5" in second.flags
    codec.decode(bytes.fromhex("12 0600 EA070B02081E00 5FB0 11"))
    (flushed,) = codec.flush().observations
    assert "record-seq:6" in flushed.flags


def test_glucose_orphan_context_keeps_its_quantities() -> None:
    codec = GlucoseMeasurementCodec(CTX)
    (hba1c,) = codec.decode_context(bytes.fromhex("40 0900 41F0")).observations
    assert hba1c.value == 6.5 and "measurement-missing" in hba1c.flags


def test_glucose_control_solution_is_not_a_patient_value() -> None:
    (obs,) = decode("ble:glucose-measurement", "02 0700 EA070B02081E00 5FB0 4A").observations
    assert obs.metric.mdc_name == "MDC_CONC_GLU_CONTROL"
    assert obs.quality is Quality.INVALID


def test_decode_source_routes_and_refuses_strangers() -> None:
    codec = get_codec("ble:heart-rate-measurement")(CTX)
    assert codec.decode_source("2A37", bytes.fromhex("00 48")).observations  # type: ignore[union-attr]
    with pytest.raises(CodecError):
        codec.decode_source(CHAR_GLUCOSE_MEASUREMENT, b"\x00\x48")  # type: ignore[union-attr]
    assert normalize_uuid("0x2A37") == CHAR_HEART_RATE_MEASUREMENT


def test_profile_metric_override_keeps_wire_unit() -> None:
    ctx = DecodeContext(device_id="d1", now=lambda: NOW,
                        metric_map={"temperature": (188424, "MDC_TEMP_ORAL", "Cel")})
    codec = get_codec("ble:temperature-measurement")(ctx)
    (obs,) = codec.decode(bytes.fromhex("01 DA0300FF")).observations  # type: ignore[union-attr]
    assert (obs.metric.mdc_name, obs.unit) == ("MDC_TEMP_ORAL", "[degF]")


def test_trailing_bytes_from_newer_spec_versions_are_ignored() -> None:
    (obs,) = decode("ble:temperature-measurement", "00 6D0100FF 1234").observations
    assert obs.value == 36.5


# -- device clock --------------------------------------------------------------------------


def test_clock_offset_corrects_device_stamped_observations_only() -> None:
    device_now = datetime(2026, 11, 2, 8, 52, 30)  # local clock, 7.5 min behind UTC 09:00
    value = encode_current_time(device_now)
    assert len(value) == 10
    offset = clock_offset(parse_device_clock(value), NOW)
    assert offset == timedelta(minutes=7, seconds=30)
    decoded = decode("ble:blood-pressure-measurement", "02 7800 5000 5D00 EA070B02081E00")
    arrival = decode("ble:heart-rate-measurement", "00 48")
    corrected = apply_clock_offset(decoded, offset)
    for obs in corrected.observations:
        assert obs.measured_at == DEVICE_STAMP + offset
        assert DEVICE_TIME_CORRECTED in obs.flags and DEVICE_TIME not in obs.flags
    assert apply_clock_offset(arrival, offset).observations[0].measured_at == NOW


def test_unusable_device_clock() -> None:
    with pytest.raises(CodecError):
        parse_device_clock(bytes(10))
    with pytest.raises(CodecError):
        parse_device_clock(b"\x01")
