"""The gateway UI's steady RSS and CPU: 50 devices at 1 Hz, 5 live browsers, beside baselines.

The UI runs as the nucleus starts it: ``wardlink run ui`` with the environment
Greengrass gives a component (``plan_run`` of the repository's GatewayUI recipe)
against the dev kit's nucleus emulator, so its feed arrives over real Greengrass
IPC. This script plays the other components through their own IPC connections and
recipe grants:

* as the DeviceProxy: every 0.25 s a batch of sealed observations on
  ``wardlink/local/telemetry`` (50 devices, each one reading a second with SpO2 and
  pulse rate, sealed by the default redaction policy, as ``LocalFeed`` batches them),
  and every 2 s the device summary on ``wardlink/local/devices``;
* as the Uplink: the site state on ``wardlink/local/site`` every 2 s.

The five "browsers" each sign in over HTTPS and hold ``/events`` (server-sent
events) open, reading everything the UI streams.

Three phases of the same UI process, each ``--warmup`` seconds to settle and then
``--seconds`` seconds of samples (VmRSS every 0.5 s; CPU from utime+stime over the
phase): **idle** (no feed, no client), **baseline** (the full feed, no client) and
**loaded** (the full feed and 5 SSE clients). The issue's targets apply to the
loaded phase: steady (median) RSS <= 50 MB and CPU <= 10 % of one core; exit status
1 if either is exceeded or the clients stopped receiving events.

    .venv/bin/python benchmarks/bench_ui.py [--seconds 20] [--warmup 5] [--out r.json]
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import json
import os
import platform
import re
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import awsiot.greengrasscoreipc
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from wardlink.bus.greengrass_ipc import GreengrassIpcBus
from wardlink.model import DeviceIdentity, Metric, Observation
from wardlink.model.status import Connectivity
from wardlink.nucleus.emulator import EmulatorSettings, NucleusEmulator
from wardlink.nucleus.runner import plan_run
from wardlink.phi.policy import RedactionPolicy

REPO = Path(__file__).resolve().parents[1]
THING = "bench-ui-gateway"
UI = "com.wardlink.GatewayUI"
PROXY = "com.wardlink.DeviceProxy"
UPLINK = "com.wardlink.Uplink"
DEVICES = 50
CLIENTS = 5
PASSWORD = "a long benchmark passphrase"
TARGET_RSS_MB = 50.0
TARGET_CPU_PERCENT = 10.0
TIMEOUT = 60.0
SPO2 = Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2")
PULSE = Metric(mdc_code=149530, mdc_name="MDC_PULS_OXIM_PULS_RATE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackgroundLoop:
    """An asyncio loop in a thread: the emulator and the feeders live there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Any, timeout: float = TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)


class Feeder:
    """The DeviceProxy's and the Uplink's local publishes, over their own IPC connections."""

    def __init__(self, emulator: NucleusEmulator) -> None:
        def bus(component: str) -> GreengrassIpcBus:
            connection = awsiot.greengrasscoreipc.connect(
                ipc_socket=str(emulator.settings.socket_path),
                authtoken=emulator.tokens[component],
                timeout=TIMEOUT,
            )
            return GreengrassIpcBus(GreengrassCoreIPCClientV2(client=connection))

        self.proxy = bus(PROXY)
        self.uplink = bus(UPLINK)
        self.policy = RedactionPolicy.default()
        self.identities = [
            DeviceIdentity(
                device_id=f"bed-{i:02d}-oximeter", model="Nonin 9560", manufacturer="Nonin"
            )
            for i in range(DEVICES)
        ]
        self.acquired = 0
        self.published = 0
        self.running = asyncio.Event()

    def _batch(self, tick: int) -> bytes:
        now = datetime.now(UTC)
        items: list[bytes] = []
        for index, identity in enumerate(self.identities):
            if index % 4 != tick % 4:
                continue  # each device once a second, spread over four batches
            observations = [
                Observation(
                    device_id=identity.device_id, metric=metric, value=value, unit=unit,
                    measured_at=now,
                )
                for metric, value, unit in (
                    (SPO2, 94.0 + (tick + index) % 5, "%"),
                    (PULSE, 60.0 + (tick + index) % 30, "{beat}/min"),
                )
            ]  # fmt: skip
            sealed = self.policy.redact_observations(observations, identity)
            items += [item.to_json_bytes() for item in sealed]
            self.acquired += len(observations)
        return b'{"items":[' + b",".join(items) + b"]}"

    def _summary(self) -> bytes:
        entries = []
        for identity in self.identities:
            entry = json.loads(
                self.policy.redact_device(identity, Connectivity.CONNECTED).to_json_bytes()
            )
            entry["counters"] = {
                "acquired": self.acquired // DEVICES, "frame_errors": 0,
                "expected_interval_s": 1.0, "last_data_age_s": 0.4,
            }  # fmt: skip
            entries.append(entry)
        return json.dumps(entries, separators=(",", ":")).encode()

    def _site(self) -> bytes:
        state = {
            "gateway_id": THING, "uplink_connected": True,
            "last_publish_at": datetime.now(UTC).isoformat(), "spool_depth": 3,
            "spool_oldest_age_s": 0.5, "spool_bytes": 4096, "spool_lost_total": 0,
            "delivered": self.published, "publish_failures": 0,
        }  # fmt: skip
        return json.dumps(state, separators=(",", ":")).encode()

    async def run(self) -> None:
        await self.proxy.start()
        await self.uplink.start()
        tick = 0
        while True:
            await self.running.wait()
            started = time.monotonic()
            await self.proxy.publish_local("wardlink/local/telemetry", self._batch(tick))
            self.published += 1
            if tick % 8 == 0:
                await self.proxy.publish_local("wardlink/local/devices", self._summary())
                await self.uplink.publish_local("wardlink/local/site", self._site())
            tick += 1
            await asyncio.sleep(max(0.0, 0.25 - (time.monotonic() - started)))


class SseClient(threading.Thread):
    """A browser with the UI's live page open: signed in, reading ``/events``."""

    def __init__(self, base: str, cafile: Path, username: str) -> None:
        super().__init__(daemon=True)
        context = ssl.create_default_context(cafile=str(cafile))
        context.check_hostname = False
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )
        self.base = base
        self.username = username
        self.events = 0
        self.error: str | None = None

    def sign_in(self) -> None:
        with self.opener.open(self.base + "/login", timeout=TIMEOUT) as response:
            page = response.read().decode()
        match = re.search(r'name="csrf" value="([^"]+)"', page)
        assert match, page[:500]
        fields = {"csrf": match.group(1), "username": self.username, "password": PASSWORD}
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=TIMEOUT) as response:
            assert "Sign out" in response.read().decode(), "sign-in failed"
        with self.opener.open(self.base + "/devices", timeout=TIMEOUT) as response:
            response.read()  # the page the live stream belongs to

    def run(self) -> None:
        try:
            with self.opener.open(self.base + "/events", timeout=TIMEOUT) as stream:
                for line in stream:
                    if line.startswith(b"data:"):
                        self.events += 1
        except Exception as exc:  # reported in the results; the UI closing ends the stream
            self.error = f"{type(exc).__name__}: {exc}"


def sample(pid: int, warmup: float, seconds: float) -> dict[str, float]:
    time.sleep(warmup)
    rss: list[float] = []
    cpu_start, wall_start = proc_cpu_s(pid), time.monotonic()
    deadline = wall_start + seconds
    while time.monotonic() < deadline:
        rss.append(proc_rss_mb(pid))
        time.sleep(0.5)
    cpu = proc_cpu_s(pid) - cpu_start
    wall = time.monotonic() - wall_start
    return {
        "rss_mb_median": round(statistics.median(rss), 1),
        "rss_mb_max": round(max(rss), 1),
        "cpu_percent": round(100 * cpu / wall, 2),
        "seconds": round(wall, 1),
    }


@contextmanager
def ui_process(
    directory: Path, port: int, emulator: NucleusEmulator
) -> Iterator[subprocess.Popen[bytes]]:
    plan = plan_run(
        UI,
        recipes_dir=REPO / "recipes",
        socket_path=emulator.settings.socket_path,
        tokens_file=emulator.settings.tokens_out,
        root_dir=emulator.settings.root_dir,
        thing_name=THING,
        config_file=emulator.settings.config_file,
    )
    log = (directory / "ui.log").open("wb")
    process = subprocess.Popen(
        plan.argv,
        env={**os.environ, **plan.env},
        cwd=plan.cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def measure(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    port = free_port()
    root = directory / "gg"
    config = directory / "deployment.json"
    config.write_text(
        json.dumps(
            {
                "components": {
                    UI: {"configurationUpdate": {"merge": json.dumps({"ui": {"port": port}})}}
                }
            }
        )
    )
    secrets_file = directory / "secrets.json"
    secrets_file.write_text(
        json.dumps(
            {"secrets": [{"arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:"
                                 "wardlink-ui-command-key-AbCdEf",
                          "name": "wardlink-ui-command-key",
                          "secretString": secrets.token_hex(32)}]}
        )
    )  # fmt: skip
    state = root / "work" / UI / "ui"
    for index in range(CLIENTS):
        subprocess.run(
            [sys.executable, "-m", "wardlink.cli.main", "ui", "users", "add", f"tech{index}",
             "--role", "technician", "--password-stdin", "--state-dir", str(state)],
            input=PASSWORD + "\n", text=True, check=True, capture_output=True,
        )  # fmt: skip
    settings = EmulatorSettings(
        recipes_dir=REPO / "recipes",
        socket_path=root / "ipc.sock",
        tokens_out=root / "tokens.json",
        root_dir=root,
        thing_name=THING,
        config_file=config,
        secrets_file=secrets_file,
    )
    background = BackgroundLoop()
    emulator = NucleusEmulator(settings)
    background.call(emulator.start())
    feeder = Feeder(emulator)
    feeding = asyncio.run_coroutine_threadsafe(feeder.run(), background.loop)
    results: dict[str, Any] = {}
    clients: list[SseClient] = []
    try:
        with ui_process(directory, port, emulator) as ui:
            certificate = state / "tls" / "ui-cert.pem"
            deadline = time.monotonic() + TIMEOUT
            while "gateway UI listening" not in (directory / "ui.log").read_text():
                if ui.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the UI did not start:\n" + (directory / "ui.log").read_text()[-3000:]
                    )
                time.sleep(0.2)
            print(f"UI pid {ui.pid} at https://127.0.0.1:{port}", file=sys.stderr)
            results["idle"] = sample(ui.pid, args.warmup, args.seconds)
            print("idle", results["idle"], file=sys.stderr)
            background.loop.call_soon_threadsafe(feeder.running.set)
            results["baseline"] = sample(ui.pid, args.warmup, args.seconds)
            print("baseline", results["baseline"], file=sys.stderr)
            base = f"https://127.0.0.1:{port}"
            clients = [SseClient(base, certificate, f"tech{i}") for i in range(CLIENTS)]
            for client in clients:
                client.sign_in()
                client.start()
            time.sleep(args.warmup)
            events_before = sum(c.events for c in clients)
            results["loaded"] = sample(ui.pid, 0.0, args.seconds)
            events = sum(c.events for c in clients) - events_before
            results["loaded"]["sse_events_per_s_per_client"] = round(
                events / CLIENTS / results["loaded"]["seconds"], 1
            )
            results["loaded"]["client_errors"] = [c.error for c in clients if c.error]
            print("loaded", results["loaded"], file=sys.stderr)
            results["observations_per_s"] = round(
                feeder.acquired / max(1.0, 2 * args.seconds + 3 * args.warmup), 1
            )
    finally:
        feeding.cancel()
        background.call(emulator.stop())
        background.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="samples per phase")
    parser.add_argument("--warmup", type=float, default=5.0, help="settling time per phase")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        results = measure(args, Path(tmp))
    report = {
        "benchmark": "bench_ui",
        "devices": DEVICES,
        "rate_hz": 1,
        "sse_clients": CLIENTS,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "targets": {"rss_mb": TARGET_RSS_MB, "cpu_percent": TARGET_CPU_PERCENT},
        **results,
    }
    print(f"{'phase':<10} {'RSS median MB':>14} {'RSS max MB':>11} {'CPU %':>7}")
    for phase in ("idle", "baseline", "loaded"):
        r = results[phase]
        print(f"{phase:<10} {r['rss_mb_median']:>14} {r['rss_mb_max']:>11} {r['cpu_percent']:>7}")
    loaded = results["loaded"]
    baseline = results["baseline"]
    print(
        f"loaded - baseline: RSS {loaded['rss_mb_median'] - baseline['rss_mb_median']:+.1f} MB,"
        f" CPU {loaded['cpu_percent'] - baseline['cpu_percent']:+.2f} %;"
        f" {loaded['sse_events_per_s_per_client']} SSE events/s per client"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    ok = (
        loaded["rss_mb_median"] <= TARGET_RSS_MB
        and loaded["cpu_percent"] <= TARGET_CPU_PERCENT
        and loaded["sse_events_per_s_per_client"] > 0
        and not loaded["client_errors"]
    )
    if not ok:
        print("over target or clients starved", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
