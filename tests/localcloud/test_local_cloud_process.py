"""Several local clouds in one process, and ``wardlink cloud local`` as a real process."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.detectors_aws.envelopes import Gateway
from tests.localcloud.conftest import WAIT_S, publish
from tests.support.fleet_api import FleetApi
from tests.support.mosquitto import Mosquitto
from wardlink.cloudapi.services import get_services
from wardlink.localcloud import LocalCloud


def _client(cloud: LocalCloud) -> FleetApi:
    return FleetApi(cloud)


@pytest.mark.integration
def test_two_clouds_in_one_process_each_serve_their_own_tables(
    cloud: LocalCloud, dynamodb_local: str
) -> None:
    default_services = get_services()
    second = LocalCloud(
        dynamodb_endpoint=dynamodb_local,
        table_prefix=f"second{uuid.uuid4().hex[:6]}-",
        detectors=False,
        log_level="ERROR",
    )
    second.start()
    try:
        gateway_id = f"gw-{uuid.uuid4().hex[:8]}"
        registered = _client(second).register_device(
            gateway_id=gateway_id, device_id="spo2-1", model="Nonin 3150"
        )
        assert _client(second).get_device(registered.device_uid) is not None
        assert _client(cloud).get_device(registered.device_uid) is None  # other tables
        assert second.detectors is None and second.alerts() == []
        # between invocations, the process keeps the services it had before
        assert get_services() is default_services
    finally:
        second.stop()
    assert _client(cloud).get_device(registered.device_uid) is None
    assert get_services() is default_services


class _Lines:
    """Reads a process's stdout on a thread, so every wait can be bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        self._stream = process.stdout
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout_s} s; got {self.seen}")


@pytest.mark.integration
def test_cli_prints_one_line_per_alert_and_writes_the_alerts_file(
    dynamodb_local: str, broker: Mosquitto, tmp_path: Path
) -> None:
    alerts_file = tmp_path / "alerts.jsonl"
    command = [
        sys.executable, "-m", "wardlink.cli.main", "cloud", "local",
        "--dynamodb-endpoint", dynamodb_local, "--mqtt", broker.url, "--region", "eu-west-1",
        "--detector-timer", "heartbeat=1", "--alerts-file", str(alerts_file),
        "--log-level", "ERROR",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        lines = _Lines(process)
        assert "heartbeat 1 s" in lines.wait_for("# detectors: 5 models", WAIT_S)
        lines.wait_for("# bridging", WAIT_S)
        gateway = Gateway(tmp_path / "spool", f"gw-{uuid.uuid4().hex[:8]}")
        try:
            topic = f"wardlink/v1/{gateway.gateway_id}/status"
            publish(broker.port, [(topic, gateway.status("pump-1", error_codes=("E42",)))])
        finally:
            gateway.close()
        line = lines.wait_for("device FAULT", WAIT_S)
        assert line.startswith("[sns] ") and f"{gateway.gateway_id}/pump-1" in line
        lines.wait_for("device OFFLINE", WAIT_S)  # the status said connected, then nothing
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    written = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    assert [a["state"] for a in written] == ["Faulted", "Offline"]
