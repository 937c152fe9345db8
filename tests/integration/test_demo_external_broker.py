"""``wardlink demo`` against an external loopback Mosquitto, observed independently."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from wardlink.devtools.mqtt_observer import MqttObserver

DURATION = 8


@pytest.mark.integration
def test_demo_delivers_every_seq_and_no_phi(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", tls=False)
    broker.start()
    observer = MqttObserver("127.0.0.1", broker.port, None)
    observer.start()
    summary_path = tmp_path / "summary.json"
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "wardlink.cli.main",
                "demo",
                "--duration",
                str(DURATION),
                "--broker",
                broker.url,
                "--summary",
                str(summary_path),
            ],
            capture_output=True,
            text=True,
            timeout=DURATION + 60,
        )
    finally:
        messages = observer.snapshot()
        observer.stop()
        broker.stop()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    for key in ("acquired", "spooled", "delivered", "last_seq", "phi_canaries"):
        assert key in summary
    devices = len(summary["devices"])
    assert devices >= 2
    telemetry_items = [
        item for m in messages if m.topic.endswith("/telemetry") for item in m.json()["items"]
    ]
    per_device: dict[str, int] = {}
    for item in telemetry_items:
        per_device[item["device_id"]] = per_device.get(item["device_id"], 0) + 1
    assert len(per_device) == devices
    assert min(per_device.values()) >= DURATION  # at least 1 observation/s/device
    seqs = {item["seq"] for m in messages for item in m.json()["items"]}
    assert summary["last_seq"] == max(seqs)
    assert seqs >= set(range(1, summary["last_seq"] + 1))
    assert summary["phi_canaries"], "the simulators must carry canary PHI"
    everything = b"".join(m.topic.encode() + m.payload for m in messages).lower()
    for canary in summary["phi_canaries"]:
        assert canary.lower().encode() not in everything


@pytest.mark.integration
def test_demo_survives_broker_stopped_for_12_seconds(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", tls=False, persistent=True)
    broker.start()
    observer = MqttObserver(
        "127.0.0.1",
        broker.port,
        None,
        topic_filter="wardlink/#",
        client_id="outage-observer",
        persistent_session=True,
    )
    observer.start()
    summary_path = tmp_path / "summary.json"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wardlink.cli.main",
            "demo",
            "--duration",
            "26",
            "--broker",
            broker.url,
            "--summary",
            str(summary_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(6)
        broker.stop()
        time.sleep(12)
        broker.start()
        output, _ = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
        time.sleep(1)
        messages = observer.snapshot()
        observer.stop()
        broker.stop()
    assert demo.returncode == 0, output[-3000:]
    summary = json.loads(summary_path.read_text())
    assert summary["missing_seqs"] == 0
    assert summary["phi_leaks"] == []
    seqs = {item["seq"] for m in messages for item in m.json()["items"]}
    assert seqs >= set(range(1, summary["last_seq"] + 1))
    everything = b"".join(m.topic.encode() + m.payload for m in messages).lower()
    for canary in summary["phi_canaries"]:
        assert canary.lower().encode() not in everything


def test_demo_accounts_for_every_observation_on_a_full_disk_with_the_broker_down(
    tmp_path: Path,
) -> None:
    """300 KiB work directory, broker stopped after 6 s and not restarted: every
    acquired observation is delivered, still spooled at exit, or counted as lost."""
    workdir = tmp_path / "tiny"
    workdir.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(workdir)], check=False
    )
    if mounted.returncode != 0:
        pytest.fail("tmpfs mount failed: this test needs root (CI runs as root)")
    broker = Mosquitto(tmp_path / "broker", tls=False, persistent=True)
    broker.start()
    summary_path = tmp_path / "summary.json"
    try:
        demo = subprocess.Popen(
            [
                sys.executable, "-m", "wardlink.cli.main", "demo", "--duration", "20",
                "--broker", broker.url, "--workdir", str(workdir / "D"),
                "--summary", str(summary_path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        try:
            time.sleep(6)
            broker.stop()
            output, _ = demo.communicate(timeout=120)
        finally:
            if demo.poll() is None:
                demo.kill()
        assert demo.returncode == 0, output[-3000:]
        summary = json.loads(summary_path.read_text())
        assert summary["acquired"] > 0
        assert summary["acquired"] == (
            summary["delivered"] + summary["spool_depth_at_exit"] + summary["dropped_total"]
        ), summary
        assert summary["accounted"]
        assert "lost" in output
    finally:
        subprocess.run(["umount", "-l", str(workdir)], check=False)
