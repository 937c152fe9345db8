"""``wardlink support alarms`` against a running ``wardlink cloud local`` (its own process).

The local cloud serves the real alarm handlers behind SigV4 on DynamoDB Local;
alarm rows are written by the detectors' ``AlarmRecorder`` from real engine
outcomes, exactly as the engine Lambda writes them.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials

from tests.detectors_aws.conftest import CATALOG_DIR, REGION
from wardlink.cli.main import main
from wardlink.cli.support import age, alarm_table, parse_duration
from wardlink.cloudclient import ApiClientError, WardlinkApiClient
from wardlink.detectors import DetectorEngine, DetectorModel, InMemoryStateStore, NullSink
from wardlink.detectors.aws.alarm_store import AlarmRecorder
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.timers import HeapTimerScheduler

GW = "gw-support-cli"


class RunningCloud:
    def __init__(self, env: dict[str, str], ddb: Any) -> None:
        self.env = env
        self.endpoint = env["WARDLINK_API_ENDPOINT"]
        self.ddb = ddb
        self.recorder = AlarmRecorder(
            ddb,
            env["ALARMS_TABLE"],
            env["ALARM_AUDIT_TABLE"],
            directory=RegistryDirectory(ddb, env["DEVICES_TABLE"], env["GATEWAYS_TABLE"]),
        )

    def api(self) -> WardlinkApiClient:
        return WardlinkApiClient(
            self.endpoint,
            self.env["AWS_REGION"],
            Credentials(self.env["AWS_ACCESS_KEY_ID"], self.env["AWS_SECRET_ACCESS_KEY"]),
        )

    def gateway_api(self, gateway_id: str) -> WardlinkApiClient:
        """A gateway's client, with credentials the running cloud mints for its thing name
        (what ``wardlink cloud credentials --gateway`` asks for)."""
        _, data = self.api().send(
            "POST", "/_local/credentials", json.dumps({"gateway_id": gateway_id}).encode()
        )
        minted = json.loads(data)
        return WardlinkApiClient(
            self.endpoint,
            self.env["AWS_REGION"],
            Credentials(
                minted["AWS_ACCESS_KEY_ID"],
                minted["AWS_SECRET_ACCESS_KEY"],
                minted["AWS_SESSION_TOKEN"],
            ),
        )

    def offline_alarm(self, device_id: str) -> str:
        """Drive the shipped offline model until the device is Offline; record the alarm."""
        model = DetectorModel.from_file(CATALOG_DIR / "device-offline.json")
        timers = HeapTimerScheduler()
        engine = DetectorEngine(model, InMemoryStateStore(), timers, NullSink())
        now = int(time.time() * 1000) - 600_000
        engine.handle_message(
            "WardlinkStatus",
            {
                "device_uid": f"{GW}/{device_id}",
                "device_id": device_id,
                "gateway_id": GW,
                "connectivity": "connected",
                "at": "2026-11-21T08:00:00Z",
                "error_codes": [],
            },
            now,
        )
        due = timers.pop_due(10**15)
        assert due is not None
        outcome = engine.handle_timer(due[0].key, due[0].name, due[1])
        assert outcome is not None
        (write,) = self.recorder.record(model.name, outcome)
        return write.alarm_id


@pytest.fixture(scope="module")
def cloud(
    dynamodb_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCloud]:
    env_file = tmp_path_factory.mktemp("cloud") / "cloud.env"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wardlink.cli.main",
            "cloud",
            "local",
            "--dynamodb-endpoint",
            dynamodb_endpoint,
            "--env-file",
            str(env_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists() or not env_file.read_text().strip():
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "wardlink cloud local did not come up"
            time.sleep(0.2)
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        ddb = boto3.client(
            "dynamodb",
            region_name=REGION,
            endpoint_url=dynamodb_endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        yield RunningCloud(env, ddb)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def cli(
    cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run ``wardlink support alarms ...`` in-process with the cloud's credentials."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.setenv(name, cloud.env[name])
    monkeypatch.setenv("WARDLINK_API_ENDPOINT", cloud.endpoint)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["support", "alarms", *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_list_show_ack_with_device_join_and_audit(cloud: RunningCloud, cli: Any) -> None:
    cloud.gateway_api(GW).register_device(
        gateway_id=GW,
        device_id="spo2-7",
        model="Nonin 3150",
        firmware_version="2.1.0",
        site_id="st-mary-icu",
    )
    alarm_id = cloud.offline_alarm("spo2-7")

    code, out, _ = cli("list")
    assert code == 0
    (line,) = [row for row in out.splitlines() if row.startswith(alarm_id)]
    assert "ACTIVE" in line and "Nonin 3150" in line and "2.1.0" in line and "st-mary-icu" in line

    code, out, _ = cli("list", "--json", "--state", "active")
    listed = {a["alarm_id"]: a for a in json.loads(out)["items"]}
    assert code == 0 and listed[alarm_id]["device"]["site_id"] == "st-mary-icu"

    code, out, _ = cli("ack", alarm_id, "--note", "called the ward; cable reseated")
    assert (code, out.strip()) == (0, f"ack: {alarm_id} is now ACKNOWLEDGED")

    code, out, _ = cli("show", alarm_id)
    assert code == 0
    assert "State          ACKNOWLEDGED" in out
    assert "Firmware       2.1.0" in out
    assert "Last note      called the ward; cable reseated" in out
    history = out.split("History (oldest first):", 1)[1]
    assert "system" in history and "breach" in history and "NORMAL -> ACTIVE" in history
    assert "user/wardlink-operator" in history and "acknowledge" in history  # who: the signer

    code, out, _ = cli("show", alarm_id, "--json")
    document = json.loads(out)
    assert [h["action"] for h in document["history"]] == ["breach", "acknowledge"]
    assert document["history"][1]["why"] == "called the ward; cable reseated"


def test_snooze_reset_disable_enable_and_refusals(cloud: RunningCloud, cli: Any) -> None:
    alarm_id = cloud.offline_alarm("pump-3")
    code, out, _ = cli("snooze", alarm_id, "--duration", "2h", "--note", "site maintenance")
    assert code == 0 and "is now SNOOZE_DISABLED" in out and "snoozed until" in out
    assert cli("reset", alarm_id, "--note", "maintenance done")[0] == 0
    assert cli("disable", alarm_id, "--note", "device retired")[0] == 0
    code, _, err = cli("ack", alarm_id, "--note", "nothing to ack")  # DISABLED refuses acks
    assert code == 1 and "409" in err
    assert cli("enable", alarm_id, "--note", "replacement installed")[0] == 0

    code, out, _ = cli("show", alarm_id, "--json")
    assert [h["action"] for h in json.loads(out)["history"]] == [
        "breach",
        "snooze",
        "reset",
        "disable",
        "enable",
    ]
    code, _, err = cli("show", "wardlink-device-offline#offline#gw-none/x")
    assert code == 1 and "404" in err


def test_usage_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("WARDLINK_API_ENDPOINT", raising=False)
    monkeypatch.delenv("WARDLINK_API_URL", raising=False)
    assert main(["support", "alarms", "list"]) == 2
    assert "--api" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["support", "alarms", "ack", "some-id"])  # --note is required


def test_durations_and_rendering() -> None:
    assert [parse_duration(t) for t in ("90m", "2h", "1d12h", "3600", "1h30m")] == [
        5400,
        7200,
        129600,
        3600,
        5400,
    ]
    for bad in ("30s", "8d", "soon", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad)
    now = time.time()
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * 3600 - 300))
    assert age(iso, now) == "3h05m" and age(None) == "-"
    assert alarm_table([]) == "No alarms need attention."


def test_support_audit_lists_the_latest_findings_and_a_gateway_is_refused(
    cloud: RunningCloud, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``wardlink support audit`` through the running cloud's API and its recorded audit."""
    assert cli("list")[0] == 0  # the fixture's environment, as for the alarm commands
    code = main(["support", "audit"])
    out = capsys.readouterr().out
    assert code == 0
    header, columns, *rows = out.splitlines()
    assert header.startswith("Audit 5f1c0e9a7d2b4c36a8e0b1d2c3f4a5b6 (SCHEDULED_AUDIT_TASK "
                             "wardlink-daily-audit)")  # fmt: skip
    assert "4 of 15 checks non-compliant" in header
    assert columns.split() == ["SEVERITY", "CHECK", "RESOURCE", "REASON"]
    assert [r.split()[0] for r in rows] == ["CRITICAL", "CRITICAL", "MEDIUM"]  # worst first
    assert "deviceCertificateId=9d41c7be20f3…" in out
    assert main(["support", "audit", "--json", "--limit", "2"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["items"]) == 2 and document["next_token"]
    assert main(["support", "audit", "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err
    with pytest.raises(ApiClientError) as refused:
        cloud.gateway_api("gw-audit").list_audit_findings()
    assert refused.value.status == 403


def test_audit_report_without_an_audit() -> None:
    from wardlink.cli.support_audit import audit_report

    assert "No completed Device Defender audit" in audit_report(None, [])
