"""The GatewayUI component under the nucleus emulator, next to the DeviceProxy and the Uplink.

All three start from the built recipes (the session's ``wardlink components build``)
with only the access their recipes grant, and the command key served by the
emulator's secret store (GetSecretValue). A technician added with
``wardlink ui users add`` signs in over HTTPS, finds the pty oximeter the
DeviceProxy reads, assigns it unit, room and bed, and the DeviceProxy applies the
signed command: its site overlay holds the location and its audit names the user.
The telemetry envelopes that then reach the broker carry the unit only (the
default PHI policy); room and bed stay on the gateway.

A recipe that does not grant the UI's feed topics (an older one) costs the
publisher one warning and a back-off, not a log line per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import json
import logging
import os
import queue
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.greengrass.support import TIMEOUT, BrokerPeer, RunningEmulator, start_emulator
from tests.support.mosquitto import Mosquitto
from wardlink.bus.greengrass_ipc import GreengrassIpcBus
from wardlink.bus.quiet import QuietPublisher
from wardlink.codecs.nonin2 import encode_packet

THING = "ui-gateway"
ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:"
PASSWORD = "a long technician passphrase"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Browser:
    """A cookie-keeping HTTPS client that trusts the gateway's self-signed certificate."""

    def __init__(self, base: str, cafile: Path) -> None:
        self.base = base
        context = ssl.create_default_context(cafile=str(cafile))
        context.check_hostname = False  # the certificate names the gateway, the test uses an IP
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=TIMEOUT) as response:
            return str(response.read().decode())

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=TIMEOUT) as response:
                return int(response.status), str(response.read().decode())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def _deployment(slave_path: str, port: int) -> dict[str, Any]:
    proxy = {
        "devices": [
            {"deviceId": "bed-3-spo2", "model": "Nonin OEM III", "codec": "serial:nonin-2",
             "serial": {"path": slave_path, "baudrate": 9600}},
        ]
    }  # fmt: skip
    return {
        "targetArn": f"arn:aws:iot:us-east-1:111122223333:thing/{THING}",
        "components": {
            "com.wardlink.DeviceProxy": {
                "componentVersion": "0.1.0",
                "configurationUpdate": {"merge": json.dumps(proxy)},
            },
            "com.wardlink.GatewayUI": {
                "componentVersion": "0.1.0",
                "configurationUpdate": {"merge": json.dumps({"ui": {"port": port}})},
            },
        },
    }


def _start(component: str, build: Path, running: RunningEmulator, config: Path, log: Path) -> Any:
    settings = running.emulator.settings
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "wardlink.cli.main", "gg", "run", component,
             "--socket", str(running.socket_path), "--tokens", str(settings.tokens_out),
             "--root", str(settings.root_dir), "--recipes", str(build / "recipes"),
             "--thing-name", THING, "--config", str(config)],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.mark.integration
def test_gateway_ui_signs_in_and_its_signed_command_is_applied(
    gateway_build: Path,
    tmp_path: Path,
    broker: Mosquitto,
    peer: BrokerPeer,
    pty_device: tuple[int, str],
) -> None:
    master, slave_path = pty_device
    port = _free_port()
    config = tmp_path / "deployment.json"
    config.write_text(json.dumps(_deployment(slave_path, port)))
    key = secrets.token_hex(32)
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(
        json.dumps(
            {"secrets": [{"arn": ARN + "wardlink-ui-command-key-AbCdEf",
                          "name": "wardlink-ui-command-key", "secretString": key}]}
        )
    )  # fmt: skip
    root = tmp_path / "gg"
    ui_state = root / "work" / "com.wardlink.GatewayUI" / "ui"  # the recipe's ui.stateDir
    added = subprocess.run(
        [sys.executable, "-m", "wardlink.cli.main", "ui", "users", "add", "tech",
         "--role", "technician", "--password-stdin", "--state-dir", str(ui_state)],
        input=PASSWORD + "\n", capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    running = start_emulator(
        tmp_path,
        recipes=gateway_build / "recipes",
        mqtt_url=broker.url,
        thing_name=THING,
        config=config,
        secrets=secrets_file,
    )
    peer.subscribe(f"wardlink/v1/{THING}/telemetry")
    components = ("com.wardlink.Uplink", "com.wardlink.DeviceProxy", "com.wardlink.GatewayUI")
    logs = {name: tmp_path / f"{name}.log" for name in components}
    processes = []

    def tails() -> dict[str, str]:
        return {n: p.read_text()[-3000:] for n, p in logs.items() if p.exists()}

    try:
        for component in components:
            processes.append(_start(component, gateway_build, running, config, logs[component]))
        certificate = ui_state / "tls" / "ui-cert.pem"
        deadline = time.monotonic() + 90
        while not certificate.exists() or "gateway UI listening" not in tails().get(
            "com.wardlink.GatewayUI", ""
        ):
            assert time.monotonic() < deadline, tails()
            assert all(p.poll() is None for p in processes), tails()
            time.sleep(0.2)
        browser = Browser(f"https://127.0.0.1:{port}", certificate)
        status, page = browser.post(
            "/login",
            {"csrf": _csrf(browser.get("/login")), "username": "tech", "password": PASSWORD},
        )
        assert status == 200 and "Sign out" in page, page[:2000]
        # the oximeter streams; the UI learns of it from the DeviceProxy's local summaries
        beat = 0
        while "bed-3-spo2" not in page:
            assert time.monotonic() < deadline, tails()
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(master, encode_packet(60 + beat % 30, 95 + beat % 4))
            beat += 1
            time.sleep(0.2)
            page = browser.get("/devices")
        device = browser.get("/devices/bed-3-spo2")
        status, answer = browser.post(
            "/devices/bed-3-spo2/assign",
            {"csrf": _csrf(device), "unit": "ICU-2", "room": "12", "bed": "B"},
        )
        assert status == 200, answer
        state = root / "work" / "com.wardlink.Uplink" / "state"  # the DeviceProxy's state dir
        overlay = json.loads((state / "site-overlay.json").read_text())
        assert overlay == {"bed-3-spo2": {"unit": "ICU-2", "room": "12", "bed": "B"}}
        audit = [
            json.loads(line) for line in (state / "commands-audit.jsonl").read_text().splitlines()
        ]
        assert [(e["event"], e["user"], e["ok"]) for e in audit] == [("command", "tech", True)]
        # the next envelopes: the unit leaves with the readings, room and bed do not
        located: list[dict[str, Any]] = []
        while not located:
            assert time.monotonic() < deadline, tails()
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(master, encode_packet(60 + beat % 30, 95 + beat % 4))
            beat += 1
            try:
                _topic, payload = peer.next_message(timeout=0.2)
            except queue.Empty:
                continue
            assert b"location_room" not in payload and b"location_bed" not in payload
            items = json.loads(payload)["items"]
            located = [item for item in items if "location_unit" in item]
        assert {item["location_unit"] for item in located} == {"ICU-2"}
        ui_audit = (ui_state / "audit.jsonl").read_text()
        assert '"sign-in"' in ui_audit and '"command"' in ui_audit
        for process in processes:
            assert process.poll() is None, tails()
        # every publish and subscribe was granted: no refusal anywhere
        assert "refused by the access-control policy" not in "".join(tails().values())
        assert "unavailable" not in tails()["com.wardlink.GatewayUI"]
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
        running.stop()


def test_a_refused_feed_warns_once_and_backs_off(
    emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The test recipe grants local/* only: the emulator refuses the UI's feed topic."""
    now = [1000.0]
    out = QuietPublisher("wardlink/local/telemetry", min_backoff_s=5, max_backoff_s=20,
                         clock=lambda: now[0])  # fmt: skip

    async def scenario() -> list[bool]:
        bus = GreengrassIpcBus(emulator.client("com.example.Tester"))
        results = []
        for _ in range(3):  # refused, then skipped during the back-off
            results.append(await out.publish(bus, b"{}"))
        for step in (5, 10, 20, 20):  # each retry refused; the back-off doubles up to its cap
            now[0] += step
            results.append(await out.publish(bus, b"{}"))
        return results

    with caplog.at_level(logging.DEBUG, logger="wardlink.bus.quiet"):
        results = asyncio.run(scenario())
    assert results == [False] * 7
    assert out.refused == 5 and out.skipped == 2
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "refused" in warnings[0].getMessage()
