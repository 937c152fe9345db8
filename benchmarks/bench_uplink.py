"""End-to-end uplink throughput: redaction -> spool -> publish to a loopback Mosquitto.

Compared, in the same run, with a bare awsiotsdk MQTT 5 QoS 1 publisher that sends
pre-built payloads of the same size with the same batching, in-flight window and
IoT Core publish rate (100 messages/s, 128 KB payloads). The ratio is what our
pipeline costs on top of the MQTT client itself.

Each side runs in its own process (one core each is enough; they run one after the
other), and reports observations/s and its steady RSS (median VmRSS over the
second half of the run).

    .venv/bin/python benchmarks/bench_uplink.py [--observations 200000]

Targets (issue 5): ratio >= 0.5, >= 20,000 observations/s, steady RSS <= 60 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 500  # observations per acquisition batch
IN_FLIGHT = 20  # the publisher's default window (UplinkLimits.max_in_flight), used by both sides


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.samples.append(rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def steady(self) -> float:
        half = self.samples[len(self.samples) // 2 :] or [rss_mb()]
        return statistics.median(half)


async def run_ours(port: int, count: int, workdir: Path) -> dict[str, float]:
    from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
    from wardlink.devtools.loadgen import observations
    from wardlink.model import RecordKind
    from wardlink.phi.policy import RedactionPolicy
    from wardlink.spool import Durability, Spool
    from wardlink.uplink import Publisher, UplinkLimits

    spool = Spool(workdir / "spool.sqlite3", durability=Durability.FULL)
    bus = DirectMqttBus(MqttEndpoint(url=f"mqtt://127.0.0.1:{port}", client_id="bench-ours"))
    await bus.start()
    await bus.wait_connected(10)
    limits = UplinkLimits(max_bytes_per_second=None)  # production defaults otherwise
    assert limits.max_in_flight == IN_FLIGHT
    publisher = Publisher(bus, spool, "bench-gateway", limits, poll_interval=0.005)
    policy = RedactionPolicy()
    from wardlink.model import DeviceIdentity

    device = DeviceIdentity(device_id="load-0", model="LoadGen")
    stop = asyncio.Event()
    with RssSampler() as sampler:
        started = time.perf_counter()
        runner = asyncio.create_task(publisher.run(stop))
        produced = 0
        while produced < count:
            sealed = policy.redact_observations(observations(BATCH, produced), device)
            await asyncio.to_thread(spool.append_sealed, sealed, RecordKind.TELEMETRY)
            publisher.notify()
            produced += BATCH
            await asyncio.sleep(0)
        while publisher.counters.delivered < count:  # noqa: ASYNC110 - polls a counter
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        stop.set()
        await runner
    await bus.close()
    spool.close()
    return {
        "observations_per_s": count / elapsed,
        "seconds": elapsed,
        "messages": publisher.counters.messages,
        "steady_rss_mb": sampler.steady(),
    }


async def run_bare(
    port: int, count: int, items_per_message: int, item_bytes: int
) -> dict[str, float]:
    """awscrt MQTT 5, QoS 1, same batching, in-flight window and publish rate."""
    from awscrt import mqtt5

    connected = threading.Event()
    client = mqtt5.Client(
        mqtt5.ClientOptions(
            host_name="127.0.0.1",
            port=port,
            connect_options=mqtt5.ConnectPacket(client_id="bench-bare"),
            on_lifecycle_event_connection_success_fn=lambda _d: connected.set(),
        )
    )
    client.start()
    connected.wait(10)
    payload = (
        b'{"items":['
        + b",".join([b'{"seq":1,"v":"' + b"x" * (item_bytes - 20) + b'"}'] * items_per_message)
        + b"]}"
    )
    messages = -(-count // items_per_message)
    window = asyncio.Semaphore(IN_FLIGHT)
    interval = 1 / 100.0
    with RssSampler() as sampler:
        started = time.perf_counter()
        pending = []
        next_slot = time.perf_counter()

        async def one() -> None:
            try:
                await asyncio.wrap_future(
                    client.publish(
                        mqtt5.PublishPacket(
                            topic="wardlink/v1/bench/telemetry",
                            payload=payload,
                            qos=mqtt5.QoS.AT_LEAST_ONCE,
                        )
                    )
                )
            finally:
                window.release()

        for _ in range(messages):
            await window.acquire()
            delay = next_slot - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            next_slot = max(next_slot + interval, time.perf_counter() - 1.0)
            pending.append(asyncio.create_task(one()))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    client.stop()
    return {
        "observations_per_s": count / elapsed,
        "seconds": elapsed,
        "messages": messages,
        "steady_rss_mb": sampler.steady(),
    }


def start_mosquitto(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    from tests.support.ports import free_port

    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_packet_size 140000\nmax_inflight_messages 100\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc, port


def child(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-uplink-"))
    if args.child == "ours":
        result = asyncio.run(run_ours(args.port, args.observations, workdir))
    else:
        result = asyncio.run(
            run_bare(args.port, args.observations, args.items_per_message, args.item_bytes)
        )
    print(json.dumps(result))


def measure_item_shape() -> tuple[int, int]:
    """Items per 128 KB message and bytes per item, as the publisher packs them."""
    from wardlink.devtools.loadgen import observations
    from wardlink.model import DeviceIdentity
    from wardlink.phi.policy import RedactionPolicy

    sealed = RedactionPolicy().redact_observations(
        observations(100), DeviceIdentity(device_id="load-0", model="LoadGen")
    )
    item = statistics.mean(len(s.to_json_bytes()) + 12 for s in sealed)
    return int((128 * 1024 - 400) // (item + 1)), int(item)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, default=200_000)
    parser.add_argument("--child", choices=["ours", "bare"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--items-per-message", type=int, default=0)
    parser.add_argument("--item-bytes", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    per_message, item_bytes = measure_item_shape()
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_mosquitto(Path(tmp))
        try:
            results: dict[str, dict[str, float]] = {}
            for side in ("ours", "bare"):
                if side == "bare":  # same batching as our publisher actually used
                    per_message = max(1, round(args.observations / results["ours"]["messages"]))
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        side,
                        "--port",
                        str(port),
                        "--observations",
                        str(args.observations),
                        "--items-per-message",
                        str(per_message),
                        "--item-bytes",
                        str(item_bytes),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=600,
                )
                results[side] = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            broker.terminate()
    ratio = results["ours"]["observations_per_s"] / results["bare"]["observations_per_s"]
    report = {
        "benchmark": "uplink_end_to_end",
        "observations": args.observations,
        "items_per_message": per_message,
        "item_bytes": item_bytes,
        "baseline_bare_awsiotsdk": results["bare"],
        "wardlink_pipeline": results["ours"],
        "ratio": round(ratio, 3),
        "targets": {
            "ratio>=0.5": ratio >= 0.5,
            "obs_per_s>=20000": results["ours"]["observations_per_s"] >= 20_000,
            "steady_rss_mb<=60": results["ours"]["steady_rss_mb"] <= 60,
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
