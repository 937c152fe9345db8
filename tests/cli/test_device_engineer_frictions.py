"""What a device engineer trips over when adding a model (issue 24), each an error now.

An unknown codec, an unmapped metric code, an unknown simulator setting, a missing
profiles directory and configuration mistakes used to pass silently or end in a
traceback; ``--version`` did not exist; ``gg emulate --root`` left the socket where
it was. Each test here failed on that behaviour.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wardlink.cli.main import main
from wardlink.codecs.astm_e1381 import ENQ, EOT, encode_records

REPO = Path(__file__).resolve().parents[2]
SIM_PROFILES = REPO / "devkit" / "wardlink" / "sim" / "profiles"


def test_validate_rejects_an_unknown_codec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (SIM_PROFILES / "sim-nonin-oem3.yaml").read_text()
    profile = tmp_path / "new-oximeter.yaml"
    profile.write_text(text.replace("serial:nonin-2", "serial:nonin-9"))
    assert main(["devices", "validate", str(profile)]) == 1
    captured = capsys.readouterr()
    assert "ok" not in captured.out
    assert "codec: unknown codec 'serial:nonin-9'" in captured.err
    assert "serial:nonin-2" in captured.err  # what is installed


def test_decode_fails_on_an_unmapped_metric_code(capsys: pytest.CaptureFixture[str]) -> None:
    records = ["H|\\^&|||Sim^1|||||||P|LIS2-A2|20261105101500", "R|1|^^^LACT|1.9|mmol/L", "L|1|N"]
    data = bytes([ENQ]) + b"".join(encode_records(records)) + bytes([EOT])
    assert main(["devices", "decode", "--codec", "serial:astm-e1381", "--hex", data.hex()]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["errors"] == 1
    assert "unmapped metric code(s) 'LACT'" in captured.err


def test_profiles_of_a_missing_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["devices", "profiles", "--dir", str(tmp_path / "missing")]) == 1
    assert "no such directory" in capsys.readouterr().err


def test_an_unknown_simulator_setting_is_an_error_and_settings_are_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sim", "nonin-2", "--set", "garbge_every=3", "--duration", "0"]) == 1
    err = capsys.readouterr().err
    assert "no setting 'garbge_every'" in err and "garbage_every" in err
    assert main(["sim", "nonin-2", "--settings"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"garbage_every", "dropout_every", "silence_after"} <= set(listed)


def test_create_simulator_refuses_unknown_settings() -> None:
    from wardlink.sim.registry import SimOptions, UnknownSettingError, create_simulator

    with pytest.raises(UnknownSettingError, match="records"):
        create_simulator("nonin-2", SimOptions(settings={"records": "3"}))


def test_version_names_each_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "wardlink-core 0.1.0" in out and "wardlink-edge 0.1.0" in out


def test_gg_root_moves_the_socket_and_the_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "gg"
    (root).mkdir()
    (root / "tokens.json").write_text(json.dumps({"com.wardlink.Uplink": "t0ken"}))
    command = ["gg", "run", "--root", str(root), "--recipes", str(REPO / "recipes")]
    assert main([*command, "com.wardlink.Uplink", "--dry-run"]) == 0
    env = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines() if "=" in line)
    assert env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"] == str(root / "ipc.sock")


SITE_WITH_MISTAKES = """\
gatewayId: ward-7
broker:
  url: mqtt://127.0.0.1:1883
devicez: []
devices:
  - deviceId: bed-1
    profile: nonin-oem3-format2
    tcpListen: 2575
"""


def _run_proxy(config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "wardlink.cli.main", "run", "proxy", "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_configuration_mistakes_name_file_line_and_key_without_a_traceback(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(SITE_WITH_MISTAKES)
    done = _run_proxy(site)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{site}:4: devicez: unknown key (did you mean 'devices'?)" in done.stderr
    assert f"{site}:8: devices.0.tcpListen: unknown key (write tcp: {{port: N}})" in done.stderr
    (log_line,) = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    # The JSON log keeps the file, the lines and the schema's words readable; the
    # mistyped key itself stays scrubbed (it is not a word the code chose).
    assert f"{site}:4:" in log_line["message"]
    assert "did you mean 'devices'" in log_line["message"]
    assert "devices.0.tcpListen" in log_line["message"]


def test_a_missing_configuration_file_is_named(tmp_path: Path) -> None:
    done = _run_proxy(tmp_path / "nosuch.yaml")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{tmp_path / 'nosuch.yaml'}: no such configuration file" in done.stderr


@pytest.mark.parametrize("kind", ["site", "profile"])
def test_published_json_schemas_are_up_to_date(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = {"site": "site-config", "profile": "device-profile"}[kind]
    published = REPO / "docs" / "schemas" / f"{name}.schema.json"
    assert main(["devices", "schema", kind]) == 0
    generated = capsys.readouterr().out
    assert published.read_text() == generated, (
        f"regenerate: wardlink devices schema {kind} > docs/schemas/{name}.schema.json"
    )


def test_the_proxy_names_an_unknown_codec_readably_in_its_log() -> None:
    from wardlink.gateway.faults import DeviceSetupError
    from wardlink.gateway.proxy import resolve_device
    from wardlink.phi.logfilter import scrub_text
    from wardlink.runtime.config import DeviceConfig

    device = DeviceConfig(
        device_id="bed-1", codec="serial:nonin-9", model="X", serial={"path": "/dev/ttyUSB0"}
    )
    with pytest.raises(DeviceSetupError) as failed:
        resolve_device(device)
    assert scrub_text(str(failed.value)) == "unknown codec 'serial:nonin-9'"  # not [DEVICE_ID]


def test_a_profile_error_names_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (SIM_PROFILES / "sim-nonin-oem3.yaml").read_text()
    profile = tmp_path / "oxi.yaml"
    profile.write_text(text.replace("baudrate: 9600", "baudrate: -1"))
    line = text.splitlines().index("  baudrate: 9600") + 1
    assert main(["devices", "validate", str(profile)]) == 1
    assert f"oxi.yaml:{line}: transport.serial.baudrate:" in capsys.readouterr().err


def test_a_policy_file_mistake_names_file_line_and_key_not_the_value(tmp_path: Path) -> None:
    from wardlink.phi.policy import PolicyError, RedactionPolicy

    policy = tmp_path / "policy.yaml"
    policy.write_text("vault:\n  pathz: s3cr3t-value\n")
    with pytest.raises(PolicyError) as failed:
        RedactionPolicy.from_file(policy)
    assert str(failed.value) == f"{policy}:2: vault.pathz: unknown key"


def test_gg_emulate_takes_recipes_or_a_cloud_env_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ["--root", str(tmp_path / "gg"), "--mqtt", "none"]
    assert main(["gg", "emulate", *root]) == 2
    assert "--recipes DIR or --cloud-env FILE" in capsys.readouterr().err
    both = ["--recipes", str(REPO / "recipes"), "--cloud-env", str(tmp_path / "cloud.env")]
    assert main(["gg", "emulate", *root, *both]) == 2
    assert main(["gg", "emulate", *root, "--cloud-env", str(tmp_path / "missing.env")]) == 2
    assert "cannot use" in capsys.readouterr().err
