"""``wardlink demo --cloud``: devices registered, telemetry stored, fault and offline alerts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.integration
def test_demo_with_local_cloud_registers_stores_and_alerts(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wardlink.cli.main",
            "demo",
            "--duration",
            "30",
            "--cloud",
            "--summary",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    cloud = summary["cloud"]
    assert cloud["devices_registered"] == len(summary["devices"]) >= 5
    assert cloud["telemetry_records_stored"] >= summary["delivered"]
    # stored in a real local InfluxDB and read back over InfluxQL, every device
    assert cloud["telemetry_store"].startswith("influxdb http://127.0.0.1:")
    assert cloud["telemetry_points_read_back"] >= summary["delivered"] * 0.9
    assert set(cloud["telemetry_read_back_by_device"]) >= set(summary["devices"])
    alerts = "\n".join(cloud["alerts"])
    assert "device FAULT" in alerts and "bed-2-oximeter" in alerts
    assert "device OFFLINE" in alerts and "bed-3-monitor" in alerts
    assert {a["title"] for a in cloud["active_alarms"]} >= {"Device offline", "Device fault codes"}
    assert summary["phi_leaks"] == [] and summary["missing_seqs"] == 0
    for canary in summary["phi_canaries"]:
        assert canary.lower() not in alerts.lower()
