"""``wardlink devices ...`` through the real CLI entry point.

Every serial/TCP codec decodes its spec vector through ``devices decode``; the
output never contains patient data, only ``"<redacted: N fields>"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wardlink.cli.main import main
from wardlink.codecs.astm_e1381 import ENQ, EOT, encode_records
from wardlink.codecs.hl7_mllp import wrap
from wardlink.codecs.nonin2 import encode_packet

ASTM = (
    bytes([ENQ])
    + b"".join(
        encode_records(
            [
                "H|\\^&|||Meter|||||||P|LIS2-A2|20261105101500",
                "P|1|MRN-CANARY-31||||Quarterfield-Ashgrove^Zebulon||19470312|M||12 Larkspur Lane",
                "R|1|^^^GLU|105|mg/dL|70 to 110|H||F||||20261105101200",
                "C|1|I|Quarterfield-Ashgrove said he ate|G",
                "L|1|N",
            ]
        )
    )
    + bytes([EOT])
)
HL7 = wrap(
    b"MSH|^~\\&|Mon||||20261105101500+0000||ORU^R01^ORU_R01|C1|P|2.6\r"
    b"PID|||MRN-CANARY-31^^^H^MR||Quarterfield-Ashgrove^Zebulon||19470312|M\r"
    b"NK1|1|Quarterfield-Ashgrove^Imogen|SPO^Spouse\r"
    b"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R\r"
)
CANARIES = ("MRN-CANARY-31", "Quarterfield", "Zebulon", "19470312", "1947-03-12", "Larkspur")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    ("codec", "data", "expected"),
    [
        (
            "serial:nonin-2",
            encode_packet(72, 97),
            [("MDC_PULS_OXIM_PULS_RATE", 72.0, "/min"), ("MDC_PULS_OXIM_SAT_O2", 97.0, "%")],
        ),
        ("serial:astm-e1381", ASTM, [("MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", 105.0, "mg/dL")]),
        ("serial:hl7-mllp", HL7, [("MDC_PULS_OXIM_SAT_O2", 97.0, "%")]),
        ("tcp:hl7-mllp", HL7, [("MDC_PULS_OXIM_SAT_O2", 97.0, "%")]),
    ],
)
def test_decode_spec_vectors_through_the_cli(
    capsys: pytest.CaptureFixture[str],
    codec: str,
    data: bytes,
    expected: list[tuple[str, float, str]],
) -> None:
    code, out = run_cli(capsys, "devices", "decode", "--codec", codec, "--hex", data.hex(" "))
    assert code == 0
    result = json.loads(out)
    observations = [
        o for e in result["events"] if e["event"] == "decoded" for o in e["observations"]
    ]
    assert [(o["mdc_name"], o["value"], o["unit"]) for o in observations] == expected
    assert result["observations"] == len(expected)
    for canary in CANARIES:
        assert canary not in out
    if codec != "serial:nonin-2":
        (patient,) = [e["patient"] for e in result["events"] if "patient" in e]
        assert patient.startswith("<redacted: ") and patient.endswith(" fields>")


def test_annotations_and_frame_error_bytes_are_not_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run_cli(
        capsys, "devices", "decode", "--codec", "serial:astm-e1381", "--hex", ASTM.hex()
    )
    assert code == 0
    assert '"annotation": "<redacted: ' in out
    code, out = run_cli(
        capsys,
        "devices",
        "decode",
        "--codec",
        "serial:hl7-mllp",
        "--hex",
        wrap(b"PID|||MRN-CANARY-31").hex(),
    )
    assert code == 0
    assert "MRN-CANARY-31" not in out
    events = json.loads(out)["events"]
    assert any(e["event"] == "FrameError" and e["raw_bytes"] > 0 for e in events)


def test_decode_from_a_capture_file_with_a_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(ASTM)
    code, out = run_cli(
        capsys,
        "devices",
        "decode",
        "--codec",
        "serial:astm-e1381",
        "--file",
        str(capture),
        "--profile",
        "sim-astm-glucose",
        "--device-id",
        "poc-7",
    )
    assert code == 0
    (decoded,) = [e for e in json.loads(out)["events"] if e["event"] == "decoded"]
    assert decoded["observations"][0]["device_id"] == "poc-7"


def test_decode_errors_are_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "devices", "decode", "--codec", "serial:nope", "--hex", "00")
    assert code == 2 and "unknown codec" in out
    code, out = run_cli(capsys, "devices", "decode", "--codec", "serial:nonin-2", "--hex", "zz")
    assert code == 2 and "not hexadecimal" in out


def test_codecs_and_profiles_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "devices", "codecs", "--json")
    assert code == 0
    names = {row["name"] for row in json.loads(out)}
    assert {"serial:nonin-2", "serial:astm-e1381", "serial:hl7-mllp", "tcp:hl7-mllp"} <= names
    code, out = run_cli(capsys, "devices", "profiles")
    assert code == 0
    assert "sim-nonin-oem3" in out and "sim-hl7-monitor-tcp" in out


def test_validate_reports_profile_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\ncodec: serial:nonin-2\n")
    code, out = run_cli(capsys, "devices", "validate", str(bad))
    assert code == 1
    assert "bad.yaml:1: name:" in out and "bad.yaml:1: transport:" in out
