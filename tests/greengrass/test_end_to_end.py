"""The Wardlink components under the emulator, from a simulated device to Mosquitto.

pty (simulated Nonin oximeter) -> ``wardlink gg run com.wardlink.DeviceProxy``
-> shared spool -> ``wardlink gg run com.wardlink.Uplink`` -> IPC
PublishToIoTCore -> emulator -> Mosquitto. Both components are started from
their recipes exactly as a developer would (no command after ``--``), with the
configuration given to the emulator as a create-deployment document.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.greengrass.support import TIMEOUT, BrokerPeer, RunningEmulator, start_emulator
from tests.support.mosquitto import Mosquitto
from wardlink.codecs.nonin2 import encode_packet

REPO = Path(__file__).resolve().parents[2]
THING = "e2e-gateway"
DEVICE = "bed-7-spo2"


def _deployment(slave_path: str) -> dict[str, object]:
    proxy = {
        "devices": [
            {
                "deviceId": DEVICE,
                "model": "Nonin OEM III (simulated)",
                "codec": "serial:nonin-2",
                "serial": {"path": slave_path, "baudrate": 9600},
            }
        ]
    }
    uplink = {"uplink": {"heartbeatSeconds": 1}}
    return {
        "targetArn": f"arn:aws:iot:us-east-1:111122223333:thing/{THING}",
        "components": {
            "com.wardlink.DeviceProxy": {
                "componentVersion": "0.1.0",
                "configurationUpdate": {"merge": json.dumps(proxy)},
            },
            "com.wardlink.Uplink": {
                "componentVersion": "0.1.0",
                "configurationUpdate": {"merge": json.dumps(uplink)},
            },
        },
    }


def _start(
    component: str, running: RunningEmulator, config: Path, log: Path
) -> subprocess.Popen[bytes]:
    root = running.emulator.settings.root_dir
    with log.open("wb") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wardlink.cli.main",
                "gg",
                "run",
                component,
                "--socket",
                str(running.socket_path),
                "--tokens",
                str(running.emulator.settings.tokens_out),
                "--root",
                str(root),
                "--recipes",
                str(REPO / "recipes"),
                "--thing-name",
                THING,
                "--config",
                str(config),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)


@pytest.mark.integration
def test_device_to_broker_through_the_emulator(
    tmp_path: Path, broker: Mosquitto, peer: BrokerPeer, pty_device: tuple[int, str]
) -> None:
    master, slave_path = pty_device
    config = tmp_path / "deployment.json"
    config.write_text(json.dumps(_deployment(slave_path)))
    running = start_emulator(tmp_path, mqtt_url=broker.url, thing_name=THING, config=config)
    peer.subscribe(f"wardlink/v1/{THING}/#")
    processes: list[subprocess.Popen[bytes]] = []
    logs = {name: tmp_path / f"{name}.log" for name in ("uplink", "proxy")}
    try:
        processes.append(_start("com.wardlink.Uplink", running, config, logs["uplink"]))
        processes.append(_start("com.wardlink.DeviceProxy", running, config, logs["proxy"]))
        seen: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + 45
        beat = 0
        while {"telemetry", "health"} - set(seen):
            assert time.monotonic() < deadline, {n: p.read_text()[-3000:] for n, p in logs.items()}
            for process in processes:
                assert process.poll() is None, {n: p.read_text()[-3000:] for n, p in logs.items()}
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(master, encode_packet(60 + beat % 30, 95 + beat % 4))
            beat += 1
            try:
                topic, payload = peer.next_message(timeout=0.2)
            except queue.Empty:
                continue
            seen.setdefault(topic.rsplit("/", 1)[1], json.loads(payload))
        telemetry = seen["telemetry"]
        assert telemetry["schema_version"] == "wardlink.envelope/1"
        assert telemetry["gateway_id"] == THING
        items = telemetry["items"]
        assert isinstance(items, list) and items
        assert {item["device_id"] for item in items} == {DEVICE}
        assert seen["health"]["gateway_id"] == THING
        states = running.emulator.states
        assert states["com.wardlink.Uplink"]["state"] == "RUNNING"
        assert states["com.wardlink.DeviceProxy"]["state"] == "RUNNING"
        spool = running.emulator.settings.root_dir / "work" / "com.wardlink.Uplink" / "spool"
        assert any(spool.glob("wardlink.sqlite3*"))
    finally:
        for process in processes:
            _stop(process)
        running.stop()
