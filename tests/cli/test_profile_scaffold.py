"""``wardlink devices profiles new --codec C --from-capture FILE`` scaffolds a profile.

The scaffold names the metrics and units the codec decoded, the codes it could not
map, the expected interval, and TODO wherever a person must decide; ``devices
validate`` fails until the TODOs are filled in, and passes after.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from wardlink.cli.main import main
from wardlink.codecs.astm_e1381 import ENQ, EOT, encode_records
from wardlink.codecs.nonin2 import encode_packet


def _fill(text: str) -> str:
    """What the device engineer does: a name, the identity, limits."""
    text = re.sub(r"name: todo-\S+", "name: acme-oxi-200", text)
    text = text.replace("manufacturer: TODO", "manufacturer: Acme").replace(
        "model: TODO", "model: Oxi 200"
    )
    return text.replace("min: TODO", "min: 0").replace("max: TODO", "max: 400")


def test_a_stream_capture_becomes_a_profile_that_validates_once_filled_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "oxi.bin"
    capture.write_bytes(b"".join(encode_packet(70 + i % 5, 95 + i % 3) for i in range(30)))
    out = tmp_path / "acme-oxi-200.yaml"
    command = ["devices", "profiles", "new", "--codec", "serial:nonin-2"]
    assert (
        main([*command, "--from-capture", str(capture), "--capture-seconds", "10", "-o", str(out)])
        == 0
    )
    text = out.read_text()
    profile = yaml.safe_load(text)
    assert profile["codec"] == "serial:nonin-2" and profile["mode"] == "stream"
    assert profile["expected_interval_s"] == pytest.approx(10 / 30, rel=0.01)
    assert {m["mdc_name"] for m in profile["metrics"].values()} == {
        "MDC_PULS_OXIM_SAT_O2",
        "MDC_PULS_OXIM_PULS_RATE",
    }
    assert "seen 95 to 97" in text
    capsys.readouterr()
    assert main(["devices", "validate", str(out)]) == 1  # TODOs left
    assert "TODO" in capsys.readouterr().err
    out.write_text(_fill(text))
    assert main(["devices", "validate", str(out)]) == 0
    assert "ok - acme-oxi-200" in capsys.readouterr().out
    assert main([*command, "--from-capture", str(capture), "-o", str(out)]) == 1  # no overwrite


def test_unmapped_codes_and_device_timestamps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "H|\\^&|||Sim^1|||||||P|LIS2-A2|20261105101500"
    results = [
        "R|1|^^^GLU|105|mg/dL||||F||||20261105101200",
        "R|2|^^^LACT|1.9|mmol/L||||F||||20261105101200",
    ]
    data = b""
    for minute in ("12", "42"):  # two messages 30 minutes apart
        records = [header, *(r.replace("101200", f"10{minute}00") for r in results), "L|1|N"]
        data += bytes([ENQ]) + b"".join(encode_records(records)) + bytes([EOT])
    capture = tmp_path / "poc.bin"
    capture.write_bytes(data)
    assert main(["devices", "profiles", "new", "--codec", "serial:astm-e1381",
                 "--from-capture", str(capture)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    profile = yaml.safe_load(text)
    assert profile["expected_interval_s"] == 1800
    assert profile["metrics"]["LACT"]["mdc_code"] == "TODO"
    assert profile["metrics"]["LACT"]["unit"] == "mmol/L"
    assert "unmapped by the codec" in text
    (glucose,) = [m for k, m in profile["metrics"].items() if k != "LACT"]
    assert glucose["unit"] == "mg/dL"


def test_an_unknown_codec_or_capture_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["devices", "profiles", "new", "--codec", "serial:nope",
                 "--from-capture", str(tmp_path / "x")]) == 1  # fmt: skip
    assert "unknown codec" in capsys.readouterr().err
    assert main(["devices", "profiles", "new", "--codec", "serial:nonin-2",
                 "--from-capture", str(tmp_path / "missing.bin")]) == 1  # fmt: skip
    assert "cannot read" in capsys.readouterr().err
    assert main(["devices", "profiles"]) == 0  # listing still works without "new"
