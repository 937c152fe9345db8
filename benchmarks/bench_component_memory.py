"""Steady-state memory of the two gateway components, beside a bare IPC client in the same run.

Both components are started the way the nucleus starts them - ``<venv>/bin/wardlink run
proxy|uplink`` with the environment Greengrass gives a component (``plan_run``) - against
the dev kit's nucleus emulator, with a realistic site:

* the DeviceProxy reads two serial devices on ptys, a Nonin OEM III pulse oximeter (3
  packets/s) and an ASTM E1381 point-of-care glucose meter, both driven by the dev kit's
  simulators (``wardlink sim``) and described by their device profiles (given as paths,
  so a gateway venv without the dev kit can load them). No BLE, TCP or HL7 device;
* the Uplink drains the shared spool to "IoT Core": PublishToIoTCore through the
  emulator's MQTT bridge to Mosquitto (or the dev kit's embedded broker), heartbeat
  every 5 s. No cloud API is configured (the recipe's default), so it registers no
  device. ``--api`` then runs the whole site a second time with one configured, as a
  real gateway has it - a local stand-in for the API and for the Greengrass token
  exchange service (a container-credentials endpoint) - and the Uplink registers the
  proxy's devices over SigV4 (``WardlinkApiClient.for_gateway``: the awscrt backend).
  Each run has its own baseline; both are reported side by side.

The baseline is a bare awsiotsdk ``GreengrassCoreIPCClientV2`` process from the same venv,
connected to the same emulator as its own component, doing what a component does over
IPC: GetConfiguration, SubscribeToConfigurationUpdate, UpdateState, SubscribeToTopic,
and one QoS 1 PublishToIoTCore a second. Its RSS is the floor any Python Greengrass
component pays (interpreter + awscrt + the IPC client); what the components use above it
is ours.

Steady state: once telemetry from the devices reaches the broker, the benchmark waits
``--warmup`` seconds, then samples VmRSS of each process every 0.5 s for ``--seconds``
seconds while checking that observations keep arriving. Reported per process: the median
of those samples (steady), the largest sample, and VmHWM (the kernel's peak over the
process's life, start-up included), with the anonymous/file split of the last sample.

    .venv/bin/python benchmarks/bench_component_memory.py [--venv PATH] [--seconds 20] [--api]

``--venv`` measures another environment (the gateway's, built as the recipe builds it);
the default is the venv of the interpreter running this script. The emulator, broker and
simulators always run from this interpreter (they are dev-kit code). Exit status 1 if a
component's steady RSS exceeds ``--budget-mb`` (45 MB, the gateway's per-component
budget) in either run, or observations stopped flowing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
THING = "bench-gateway"
PROXY = "com.wardlink.DeviceProxy"
UPLINK = "com.wardlink.Uplink"
BASELINE = "com.wardlink.bench.BareIpcClient"
TIMEOUT = 60.0
BASELINE_TOPIC = f"wardlink/v1/{THING}/baseline"

BASELINE_RECIPE = f"""\
RecipeFormatVersion: "2020-01-25"
ComponentName: {BASELINE}
ComponentVersion: "1.0.0"
ComponentPublisher: Wardlink benchmarks
ComponentConfiguration:
  DefaultConfiguration:
    payloadBytes: 2048
    accessControl:
      aws.greengrass.ipc.mqttproxy:
        "{BASELINE}:mqttproxy:1":
          operations: ["aws.greengrass#PublishToIoTCore"]
          resources: ["wardlink/v1/{{iot:thingName}}/baseline"]
      aws.greengrass.ipc.pubsub:
        "{BASELINE}:pubsub:1":
          operations: ["aws.greengrass#SubscribeToTopic"]
          resources: ["wardlink/local/devices"]
Manifests:
  - Lifecycle:
      Run: "true"
"""


# -- the baseline: a bare IPC client (runs under --venv; stdlib and awsiotsdk only) ---------


def run_baseline_child() -> int:
    """What a component does over IPC, with nothing of ours: the floor of every component."""
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = GreengrassCoreIPCClientV2()
    config = client.get_configuration(key_path=[]).value or {}
    client.subscribe_to_configuration_update(key_path=[], on_stream_event=lambda _e: None)
    client.subscribe_to_topic(topic="wardlink/local/devices", on_stream_event=lambda _e: None)
    client.update_state(state="RUNNING")
    payload = b"x" * int(config.get("payloadBytes", 2048))
    while not stop.wait(1.0):
        client.publish_to_iot_core(topic_name=BASELINE_TOPIC, qos="1", payload=payload)
    client.close()
    return 0


# -- process memory ---------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile of ``pid`` in MB (empty if it is gone)."""
    wanted = {"VmRSS", "VmHWM", "RssAnon", "RssFile"}
    values: dict[str, float] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in wanted:
                values[key] = int(rest.split()[0]) / 1024
    return values


@dataclass
class Measured:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    samples: list[float] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)

    def sample(self) -> None:
        status = proc_status(self.process.pid)
        if status:
            self.samples.append(status["VmRSS"])
            self.last = status

    def result(self) -> dict[str, float]:
        return {
            "steady_rss_mb": round(statistics.median(self.samples), 1) if self.samples else -1.0,
            "max_sample_mb": round(max(self.samples), 1) if self.samples else -1.0,
            "peak_hwm_mb": round(self.last.get("VmHWM", -1.0), 1),
            "rss_anon_mb": round(self.last.get("RssAnon", -1.0), 1),
            "rss_file_mb": round(self.last.get("RssFile", -1.0), 1),
            "samples": len(self.samples),
        }


# -- the site: broker, emulator, simulators, observer -----------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    return found or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


@contextlib.contextmanager
def mosquitto(directory: Path) -> Iterator[str]:
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_packet_size 140000\n" + ("user root\n" if os.geteuid() == 0 else "")
    )
    process = subprocess.Popen(
        [mosquitto_binary() or "mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


class BackgroundLoop:
    """An asyncio loop in a thread, for the emulator (and the embedded broker)."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


@contextlib.contextmanager
def embedded_broker(background: BackgroundLoop) -> Iterator[str]:
    from wardlink.devtools.mqtt_broker import EmbeddedBroker

    broker = EmbeddedBroker()
    background.call(broker.start())
    try:
        yield f"mqtt://127.0.0.1:{broker.port}"
    finally:
        background.call(broker.stop())


class Observer:
    """The cloud side: counts what reaches the broker per topic kind, and telemetry items."""

    def __init__(self, url: str) -> None:
        from awscrt import mqtt5

        host, port = url.removeprefix("mqtt://").split(":")
        self.counts: dict[str, int] = {}
        self.items = 0
        self._lock = threading.Lock()
        connected = threading.Event()
        self._client = mqtt5.Client(
            mqtt5.ClientOptions(
                host_name=host,
                port=int(port),
                connect_options=mqtt5.ConnectPacket(client_id=f"bench-observer-{os.getpid()}"),
                on_publish_callback_fn=self._on_publish,
                on_lifecycle_event_connection_success_fn=lambda _d: connected.set(),
            )
        )
        self._client.start()
        if not connected.wait(TIMEOUT):
            raise RuntimeError("observer could not connect to the broker")
        subscribe = mqtt5.SubscribePacket(
            [mqtt5.Subscription(f"wardlink/v1/{THING}/#", mqtt5.QoS.AT_LEAST_ONCE)]
        )
        self._client.subscribe(subscribe).result(TIMEOUT)

    def _on_publish(self, data: Any) -> None:
        packet = data.publish_packet
        kind = packet.topic.rsplit("/", 1)[-1]
        items = 0
        if kind == "telemetry":
            with contextlib.suppress(ValueError, TypeError):
                items = len(json.loads(bytes(packet.payload or b""))["items"])
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.items += items

    def stop(self) -> None:
        self._client.stop()


class ApiStandIn:
    """The cloud API and the token exchange service, as far as the Uplink uses them.

    ``GET`` of the credentials path answers as Greengrass's TES does (a container
    credentials document); ``POST /gateways/{id}/devices`` takes a SigV4-signed
    registration and answers with the device record, ``GET /gateways/{id}/sequence``
    with 0 (asked only by a spool that lost its numbering). Signatures are not
    verified: only the client's cost is measured here.
    """

    CREDENTIALS_PATH = "/2016-11-01/credentialprovider/"
    TOKEN = "bench-tes-token"

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        stand_in = self
        self.registrations = 0
        self.unsigned = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.endswith("/sequence"):
                    gateway = self.path.split("/")[2]
                    self._reply(200, {"gateway_id": gateway, "last_acknowledged_seq": 0})
                    return
                if self.path != ApiStandIn.CREDENTIALS_PATH:
                    self._reply(404, {"error": "NotFound", "message": self.path})
                    return
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                self._reply(
                    200,
                    {
                        "AccessKeyId": "ASIABENCHMARK",
                        "SecretAccessKey": "bench-secret",
                        "Token": "bench-session-token",
                        "Expiration": expires,
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                registration = json.loads(self.rfile.read(length) or b"{}")
                if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
                    stand_in.unsigned += 1
                    self._reply(403, {"error": "Forbidden", "message": "not signed"})
                    return
                stand_in.registrations += 1
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                uid = f"{registration.get('gateway_id')}/{registration.get('device_id')}"
                self._reply(
                    200,
                    {**registration, "device_uid": uid, "last_seen": now, "registered_at": now},
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def environment(self) -> dict[str, str]:
        """What the nucleus gives a component that depends on TokenExchangeService."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url + self.CREDENTIALS_PATH,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.TOKEN,
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def prepare_recipes(directory: Path) -> Path:
    recipes = directory / "recipes"
    for name in (PROXY, UPLINK):
        target = recipes / name
        target.mkdir(parents=True)
        shutil.copy(REPO / "recipes" / name / "recipe.yaml", target / "recipe.yaml")
    (recipes / BASELINE).mkdir()
    (recipes / BASELINE / "recipe.yaml").write_text(BASELINE_RECIPE)
    return recipes


def profile_file(directory: Path, name: str) -> Path:
    """A dev-kit device profile copied next to the site, referenced by path."""
    from importlib.resources import files

    target = directory / f"{name}.yaml"
    target.write_text(files("wardlink.sim.profiles").joinpath(f"{name}.yaml").read_text())
    return target


def deployment(directory: Path, ptys: dict[str, Path], api_url: str | None) -> Path:
    devices = [
        {
            "deviceId": "bed-7-spo2",
            "profile": str(profile_file(directory, "sim-nonin-oem3")),
            "serial": {"path": str(ptys["nonin-2"])},
        },
        {
            "deviceId": "poc-glucose-1",
            "profile": str(profile_file(directory, "sim-astm-glucose")),
            "serial": {"path": str(ptys["astm-e1381"])},
        },
    ]
    uplink: dict[str, Any] = {"uplink": {"heartbeatSeconds": 5}}
    if api_url is not None:
        uplink["api"] = {"url": api_url, "region": "us-east-1", "siteId": "bench-site"}
    document = {
        "targetArn": f"arn:aws:iot:us-east-1:111122223333:thing/{THING}",
        "components": {
            PROXY: {"configurationUpdate": {"merge": json.dumps({"devices": devices})}},
            UPLINK: {"configurationUpdate": {"merge": json.dumps(uplink)}},
        },
    }
    path = directory / "deployment.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def start_simulator(name: str, link: Path, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "wardlink.cli.main", "sim", name, "--pty-link", str(link)],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert process.stdout is not None
    first = process.stdout.readline().decode().strip()  # "NAME: pty ... (link ...)"
    if not first or not link.exists():
        raise RuntimeError(f"simulator {name} did not start: {first!r}; see {log}")
    return process


def component_env(plan_env: dict[str, str]) -> dict[str, str]:
    """What the nucleus passes: a plain system environment plus the Greengrass variables."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ} | plan_env


def launch(
    component: str,
    argv: list[str],
    site: dict[str, Path],
    directory: Path,
    extra_env: dict[str, str] | None = None,
) -> Measured:
    from wardlink.nucleus.runner import plan_run

    plan = plan_run(
        component,
        recipes_dir=site["recipes"],
        socket_path=site["socket"],
        tokens_file=site["tokens"],
        root_dir=site["root"],
        thing_name=THING,
        config_file=site["deployment"],
        command=argv,
    )
    work = site["root"] / "work" / component
    work.mkdir(parents=True, exist_ok=True)
    log = directory / f"{component}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            plan.argv,
            env=component_env(plan.env) | (extra_env or {}),
            cwd=work,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Measured(component, process, log)


def stop_process(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def tail(path: Path, limit: int = 2000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-limit:]
    return ""


# -- the run ----------------------------------------------------------------------------------


def measure(args: argparse.Namespace, directory: Path, with_api: bool) -> dict[str, Any]:
    import logging

    from wardlink.nucleus.emulator import EmulatorSettings, NucleusEmulator

    logging.basicConfig(level=logging.ERROR)  # the components log to files in the work directory
    venv = Path(args.venv)
    wardlink = venv / "bin" / "wardlink"
    python = venv / "bin" / "python"
    for needed in (wardlink, python):
        if not needed.exists():
            raise SystemExit(f"{needed} not found: is {venv} a Wardlink venv?")

    background = BackgroundLoop()
    stack = contextlib.ExitStack()
    processes: list[subprocess.Popen[Any]] = []
    measured: list[Measured] = []
    try:
        use_mosquitto = args.broker == "mosquitto" or (
            args.broker == "auto" and mosquitto_binary() is not None
        )
        broker_url = stack.enter_context(
            mosquitto(directory) if use_mosquitto else embedded_broker(background)
        )
        observer = Observer(broker_url)
        stack.callback(observer.stop)
        api = ApiStandIn() if with_api else None
        if api is not None:
            stack.callback(api.stop)

        ptys = {name: directory / "pty" / name for name in ("nonin-2", "astm-e1381")}
        for name, link in ptys.items():
            processes.append(start_simulator(name, link, directory / f"sim-{name}.log"))
        root = directory / "gg"
        site = {
            "recipes": prepare_recipes(directory),
            "deployment": deployment(directory, ptys, api.url if api else None),
            "root": root,
            "socket": root / "ipc.sock",
            "tokens": root / "tokens.json",
        }
        emulator = NucleusEmulator(
            EmulatorSettings(
                recipes_dir=site["recipes"],
                socket_path=site["socket"],
                tokens_out=site["tokens"],
                root_dir=root,
                mqtt_url=broker_url,
                mqtt_client_id=f"bench-emulator-{os.getpid()}",
                thing_name=THING,
                config_file=site["deployment"],
            )
        )
        background.call(emulator.start())
        stack.callback(lambda: background.call(emulator.stop()))
        assert emulator.bridge is not None and emulator.bridge.wait_connected(TIMEOUT)

        measured = [
            launch(
                UPLINK,
                [str(wardlink), "run", "uplink"],
                site,
                directory,
                api.environment() if api else None,
            ),
            launch(PROXY, [str(wardlink), "run", "proxy"], site, directory),
            launch(BASELINE, [str(python), __file__, "--child", "baseline"], site, directory),
        ]

        def check_alive() -> None:
            for m in measured:
                if m.process.poll() is not None:
                    raise RuntimeError(f"{m.name} exited ({m.process.returncode}):\n{tail(m.log)}")

        def ready() -> bool:
            flowing = observer.items > 0 and "baseline" in observer.counts
            return flowing and (api is None or api.registrations >= 2)  # both devices

        deadline = time.monotonic() + TIMEOUT
        while not ready():
            check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no steady state within {TIMEOUT} s: {observer.counts}, "
                    f"registrations {api.registrations if api else '-'}\n"
                    + "\n".join(f"{m.name}:\n{tail(m.log)}" for m in measured)
                )
            time.sleep(0.2)
        first_telemetry_s = TIMEOUT - (deadline - time.monotonic())
        time.sleep(args.warmup)
        items_before, counts_before = observer.items, dict(observer.counts)
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            check_alive()
            for m in measured:
                m.sample()
            time.sleep(0.5)
        window = time.monotonic() - started
        items = observer.items - items_before
        flow = {
            kind: observer.counts.get(kind, 0) - counts_before.get(kind, 0)
            for kind in sorted(observer.counts)
        }
        states = {name: state.get("state", "?") for name, state in emulator.states.items()}
    finally:
        for m in measured:
            stop_process(m.process)
        for process in processes:
            stop_process(process)
        stack.close()
        background.close()

    results = {m.name: m.result() for m in measured}
    return {
        "benchmark": "component_memory",
        "venv": str(venv),
        "python": subprocess.run(
            [str(python), "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
        "broker": "mosquitto" if use_mosquitto else "embedded",
        "seconds": round(window, 1),
        "first_telemetry_after_s": round(first_telemetry_s, 1),
        "observations_in_window": items,
        "messages_in_window": flow,
        "states": states,
        "cloud_api": None
        if api is None
        else {"registrations": api.registrations, "unsigned_refused": api.unsigned},
        "budget_mb": args.budget_mb,
        "baseline_bare_ipc_client": results[BASELINE],
        "proxy": results[PROXY],
        "uplink": results[UPLINK],
    }


def print_table(report: dict[str, Any]) -> None:
    base = report["baseline_bare_ipc_client"]["steady_rss_mb"]
    api = report["cloud_api"]
    uplink = "Uplink       (run uplink)" if api is None else "Uplink + API (run uplink)"
    rows = [
        ("bare IPC client (baseline)", report["baseline_bare_ipc_client"]),
        ("DeviceProxy  (run proxy)", report["proxy"]),
        (uplink, report["uplink"]),
    ]
    print(
        ("no cloud API (recipe default)" if api is None else
         f"cloud API configured: {api['registrations']} registrations signed by the Uplink")
        + f"; venv {report['venv']} (Python {report['python']}), broker {report['broker']}, "
        f"{report['observations_in_window']} observations in {report['seconds']} s"
    )  # fmt: skip
    columns = ("steady", "max", "peak", "anon", "file")
    header = f"{'process':<28} " + " ".join(f"{c:>8}" for c in columns) + f" {'over base':>10}"
    print(header)
    print("-" * len(header))
    for label, r in rows:
        print(
            f"{label:<28} {r['steady_rss_mb']:>8.1f} {r['max_sample_mb']:>8.1f} "
            f"{r['peak_hwm_mb']:>8.1f} {r['rss_anon_mb']:>8.1f} {r['rss_file_mb']:>8.1f} "
            f"{r['steady_rss_mb'] - base:>+10.1f}"
        )
    print(
        "(MB; steady = median VmRSS over the window, peak = VmHWM; "
        f"budget {report['budget_mb']} MB per component)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="Steady-state RSS of the gateway components.")
    parser.add_argument("--venv", default=sys.prefix, help="venv to measure (default: this one)")
    parser.add_argument("--seconds", type=float, default=20.0, help="sampling window")
    parser.add_argument("--warmup", type=float, default=5.0, help="after the first telemetry")
    parser.add_argument("--budget-mb", type=float, default=45.0, help="per-component limit")
    parser.add_argument("--broker", choices=["auto", "mosquitto", "embedded"], default="auto")
    parser.add_argument(
        "--api",
        action="store_true",
        help="also run with a cloud API configured (the Uplink registers devices)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directories (logs)")
    parser.add_argument("--child", choices=["baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "baseline":
        return run_baseline_child()
    reports: dict[str, dict[str, Any]] = {}
    for case, with_api in (("default", False), ("api", True)):
        if with_api and not args.api:
            continue
        directory = Path(tempfile.mkdtemp(prefix=f"bench-memory-{case}-"))
        try:
            reports[case] = measure(args, directory, with_api)
        finally:
            if args.keep:
                print(f"work directory kept: {directory}", file=sys.stderr)
            else:
                shutil.rmtree(directory, ignore_errors=True)
    over: list[str] = []
    stalled: list[str] = []
    for case, report in reports.items():
        print_table(report)
        print()
        over += [
            f"{name} ({case})"
            for name in ("proxy", "uplink")
            if report[name]["steady_rss_mb"] > args.budget_mb
        ]
        if report["observations_in_window"] == 0:
            stalled.append(case)
    summary: dict[str, Any] = {
        "benchmark": "component_memory",
        "within_budget": not over,
        "observations_flowing": not stalled,
        **reports,
    }
    print(json.dumps(summary))
    if stalled:
        print(f"observations stopped flowing during the window: {stalled}", file=sys.stderr)
    if over:
        print(f"over the {args.budget_mb} MB budget: {', '.join(over)}", file=sys.stderr)
    return 1 if over or stalled else 0


if __name__ == "__main__":
    sys.exit(main())
