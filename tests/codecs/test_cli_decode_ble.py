"""Every BLE codec decodes a spec-shaped value through ``wardlink devices decode``.

Values are laid out field by field as the GATT specifications define them
(little-endian, IEEE-11073 SFLOAT/FLOAT), e.g. blood pressure: flags 0x00 (mmHg, no
time stamp), systolic 0x0078 = 120, diastolic 0x0050 = 80, MAP 0x005D = 93.
"""

from __future__ import annotations

import json

import pytest

from wardlink.cli.main import main

VECTORS = [
    ("ble:heart-rate-measurement", "00 48", [("MDC_ECG_HEART_RATE", 72.0, "/min")]),
    (
        "ble:blood-pressure-measurement",
        "00 7800 5000 5d00",
        [
            ("MDC_PRESS_BLD_NONINV_SYS", 120.0, "mm[Hg]"),
            ("MDC_PRESS_BLD_NONINV_DIA", 80.0, "mm[Hg]"),
            ("MDC_PRESS_BLD_NONINV_MEAN", 93.0, "mm[Hg]"),
        ],
    ),
    # FLOAT: exponent -1 (0xFF), mantissa 366 (0x00016E) -> 36.6 Cel
    ("ble:temperature-measurement", "00 6e0100ff", [("MDC_TEMP_BODY", 36.6, "Cel")]),
    (
        "ble:plx-spot-check",
        "00 6100 4800",
        [("MDC_PULS_OXIM_SAT_O2", 97.0, "%"), ("MDC_PULS_OXIM_PULS_RATE", 72.0, "/min")],
    ),
    (
        "ble:plx-continuous",
        "00 6100 4800",
        [("MDC_PULS_OXIM_SAT_O2", 97.0, "%"), ("MDC_PULS_OXIM_PULS_RATE", 72.0, "/min")],
    ),
    # SI resolution 0.005 kg: 14000 (0x36B0) -> 70 kg
    ("ble:weight-measurement", "00 b036", [("MDC_MASS_BODY_ACTUAL", 70.0, "kg")]),
    # concentration present; seq 1; 2026-11-21 10:00:00; 105e-5 kg/L (SFLOAT 0xB069);
    # capillary whole blood, finger
    (
        "ble:glucose-measurement",
        "02 0100 ea070b150a0000 69b0 11",
        [("MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", 105.0, "mg/dL")],
    ),
]


@pytest.mark.parametrize(("codec", "hex_value", "expected"), VECTORS)
def test_ble_codec_decodes_through_the_cli(
    capsys: pytest.CaptureFixture[str],
    codec: str,
    hex_value: str,
    expected: list[tuple[str, float, str]],
) -> None:
    assert main(["devices", "decode", "--codec", codec, "--hex", hex_value]) == 0
    result = json.loads(capsys.readouterr().out)
    observations = [
        o for e in result["events"] if e["event"] == "decoded" for o in e["observations"]
    ]
    assert [(o["mdc_name"], o["value"], o["unit"]) for o in observations] == expected
    assert result["errors"] == 0


def test_sfloat_special_values_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    # systolic NaN (0x07FF), diastolic NRes (0x0800), MAP +INF (0x07FE)
    assert (
        main(
            [
                "devices",
                "decode",
                "--codec",
                "ble:blood-pressure-measurement",
                "--hex",
                "00 ff07 0008 fe07",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    observations = [
        o for e in result["events"] if e["event"] == "decoded" for o in e["observations"]
    ]
    assert all(o["value"] is None for o in observations)
    assert [o["quality"] for o in observations] == ["unavailable", "unavailable", "invalid"]
