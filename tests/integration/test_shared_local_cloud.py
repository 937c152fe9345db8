"""One local cloud shared by three processes: the cloud, the demo attached to it, support.

``wardlink cloud local --env-file F`` runs on its own; ``wardlink demo --cloud-env F``
attaches the simulated site to it and ends, the cloud keeps running; support lists,
shows and acknowledges the demo's alarms from yet another process with ``--env-file F``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wardlink.fleet.operator import read_env_file

WARDLINK = [sys.executable, "-m", "wardlink.cli.main"]


def _support(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WARDLINK, "support", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.integration
def test_demo_attaches_to_a_running_cloud_and_support_acts_from_another_process(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / "cloud.env"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WARDLINK_"))}
    cloud = subprocess.Popen(
        [*WARDLINK, "cloud", "local", "--env-file", str(env_file),
         "--detector-timer", "heartbeat=5", "--log-level", "ERROR"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists() and time.monotonic() < deadline:
            assert cloud.poll() is None, "wardlink cloud local exited"
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written in one go, right after it is created
        values = read_env_file(env_file)
        # F names the local S3 endpoint and bucket too
        assert values["AWS_ENDPOINT_URL_S3"].startswith("http://127.0.0.1:")
        assert values["DATA_BUCKET"]

        summary_path = tmp_path / "summary.json"
        demo = subprocess.run(
            [*WARDLINK, "demo", "--cloud-env", str(env_file), "--duration", "14",
             "--summary", str(summary_path)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert "keeps running" in demo.stdout
        report = json.loads(summary_path.read_text())["cloud"]
        assert report["devices_registered"] >= 5 and report["messages_forwarded"] > 0
        assert cloud.poll() is None  # the demo is gone, the cloud is not

        listed = _support("alarms", "list", "--env-file", str(env_file), "--json")
        assert listed.returncode == 0, listed.stderr
        alarms = json.loads(listed.stdout)["items"]
        fault = next(a for a in alarms if "bed-2-oximeter" in a["alarm_id"])
        assert fault["state"] == "ACTIVE"

        shown = _support("alarms", "show", fault["alarm_id"], "--env-file", str(env_file))
        assert shown.returncode == 0, shown.stderr
        assert "bed-2-oximeter" in shown.stdout and "wardlink-demo-gateway" in shown.stdout

        acked = _support("alarms", "ack", fault["alarm_id"], "--env-file", str(env_file),
                         "--note", "sensor reseated by site")  # fmt: skip
        assert acked.returncode == 0, acked.stderr
        assert "is now ACKNOWLEDGED" in acked.stdout
    finally:
        cloud.send_signal(signal.SIGINT)
        try:
            cloud.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cloud.kill()
            cloud.wait(timeout=10)
