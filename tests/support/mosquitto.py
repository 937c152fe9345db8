"""A real Mosquitto broker configured like AWS IoT Core: MQTT over mutual TLS only.

Mosquitto comes from Debian (``apt-get install mosquitto``). Each broker gets its
own directory, config and free port, and is stopped (or restarted, for outage
tests) by the test that owns it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port
from wardlink.devtools.pki import DevPki, make_dev_pki

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def mosquitto_available() -> bool:
    return Path(MOSQUITTO).exists()


@dataclass
class Mosquitto:
    directory: Path
    tls: bool = True
    persistent: bool = False  # keep sessions (and queued QoS 1 messages) across restarts
    port: int = field(default_factory=free_port)
    pki: DevPki | None = None
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.tls and self.pki is None:
            self.pki = make_dev_pki(self.directory / "pki")
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "max_packet_size 140000",
            "log_dest file " + str(self.directory / "mosquitto.log"),
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.persistent:
            lines += ["persistence true", f"persistence_location {self.directory}/"]
        else:
            lines.append("persistence false")
        if os.geteuid() == 0:
            lines.append("user root")  # test PKI files live in a root-only tmp dir
        if self.tls:
            assert self.pki is not None
            lines += [
                f"cafile {self.pki.ca_cert}",
                f"certfile {self.pki.server_cert}",
                f"keyfile {self.pki.server_key}",
                "require_certificate true",
                "use_identity_as_username true",
                "tls_version tlsv1.2",
            ]
        (self.directory / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.directory / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text() if path.exists() else ""
