"""Run the Uplink component and the load generator as real processes, for fault tests."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wardlink.devtools.mqtt_observer import MqttObserver
from wardlink.spool import Spool


@dataclass
class UplinkProcess:
    directory: Path
    broker_port: int
    pki: object  # DevPki
    gateway_id: str = "wardlink-fault-gw"
    spool_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.spool_path = self.directory / "spool" / "wardlink.sqlite3"
        pki = self.pki
        config = {
            "gatewayId": self.gateway_id,
            "spool": {"path": str(self.spool_path)},
            "uplink": {
                "heartbeatSeconds": 1.0,
                "drainTimeoutSeconds": 5,
                "maxBytesPerSecond": None,
            },
            "broker": {
                "url": f"mqtts://127.0.0.1:{self.broker_port}",
                "cert": str(pki.client_cert),  # type: ignore[attr-defined]
                "key": str(pki.client_key),  # type: ignore[attr-defined]
                "ca": str(pki.ca_cert),  # type: ignore[attr-defined]
            },
        }
        self.config_path = self.directory / "uplink.yaml"
        self.config_path.write_text(yaml.safe_dump(config))

    @property
    def log_path(self) -> Path:
        return self.directory / f"uplink-{self.restarts}.log"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wardlink.cli.main",
                "run",
                "uplink",
                "--config",
                str(self.config_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("wb"),
        )

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.restarts += 1

    def stop(self) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.directory.glob("uplink-*.log"))
        )


def run_loadgen(
    spool: Path, rate: float, seconds: float, report: Path, **extra: object
) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "wardlink.devtools.loadgen",
        "--spool",
        str(spool),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--report",
        str(report),
    ]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL)


def observed_seqs(observer: MqttObserver) -> tuple[set[int], int]:
    """Distinct seqs seen, and the number of duplicate deliveries."""
    seen: set[int] = set()
    total = 0
    for message in observer.snapshot():
        for item in json.loads(message.payload)["items"]:
            seen.add(int(item["seq"]))
            total += 1
    return seen, total - len(seen)


def wait_until_drained(
    spool_path: Path, observer: MqttObserver, timeout: float
) -> tuple[set[int], int, int]:
    """Wait until the spool is empty and the observer has every seq. Returns (seen, dups, last)."""
    deadline = time.monotonic() + timeout
    last = 0
    seen: set[int] = set()
    dups = 0
    while time.monotonic() < deadline:
        spool = Spool(spool_path)
        stats = spool.stats()
        spool.close()
        last = stats.last_seq
        seen, dups = observed_seqs(observer)
        if stats.depth == 0 and seen >= set(range(1, last + 1)):
            break
        time.sleep(0.25)
    return seen, dups, last
