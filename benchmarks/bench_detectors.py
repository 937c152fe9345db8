"""Throughput of the detector engine on the vital-signs and device-offline models.

Feeds synthetic, deterministic telemetry (200 devices, mixed metrics, a few
percent out of range) through ``DetectorEngine`` with the local in-memory store,
heap scheduler and a discarding sink, i.e. the per-process cost the engine
Lambda pays before any AWS call. The baseline, measured in the same run, is a
plain Python loop doing the same threshold comparisons and per-device
worst-level bookkeeping with no engine at all, so the ratio shows what the
interpreter of IoT Events models costs over hand-written code.

    .venv/bin/python benchmarks/bench_detectors.py [--events N] [--repeat R]

Prints a JSON summary; the target is >= 10,000 input events/s per process.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wardlink.detectors import (
    DetectorEngine,
    DetectorModel,
    HeapTimerScheduler,
    InMemoryStateStore,
    NullSink,
)
from wardlink.detectors.timeutil import format_iso_ms, parse_iso_ms

CATALOG = Path(__file__).resolve().parents[1] / "cloud" / "detectors"
TARGET_EVENTS_PER_S = 10_000
START_MS = parse_iso_ms("2026-11-21T00:00:00Z")

# code -> (unit, warn_low, warn_high, crit_low, crit_high, typical, spread)
LIMITS: dict[int, tuple[str, float, float, float, float, float, float]] = {
    147842: ("/min", 50, 120, 40, 150, 80, 30),
    149530: ("/min", 50, 120, 40, 150, 80, 30),
    150456: ("%", 92, 1e9, 88, 1e9, 96, 4),
    150021: ("mm[Hg]", 90, 140, 80, 180, 120, 25),
    150022: ("mm[Hg]", 60, 90, 50, 120, 75, 15),
    150364: ("Cel", 36.1, 37.8, 35.0, 39.5, 36.9, 0.8),
    151562: ("/min", 12, 20, 8, 30, 16, 5),
}
FIELD = {147842: 0, 149530: 0, 150456: 1, 150021: 2, 150022: 3, 150364: 4, 151562: 5}


def make_events(count: int, devices: int = 200, seed: int = 7) -> list[tuple[int, dict[str, Any]]]:
    rng = random.Random(seed)
    codes = list(LIMITS)
    events = []
    for index in range(count):
        device = f"dev-{rng.randrange(devices)}"
        code = rng.choice(codes)
        unit, *_, typical, spread = LIMITS[code]
        value = round(rng.gauss(typical, spread / 2), 1)
        at = START_MS + index * 50  # 20 readings per second across the fleet
        events.append(
            (
                at,
                {
                    "device_uid": f"gw-1/{device}",
                    "device_id": device,
                    "gateway_id": "gw-1",
                    "device_model": "Bench 1",
                    "mdc_code": code,
                    "mdc_name": f"MDC_{code}",
                    "value": value,
                    "unit": unit,
                    "measured_at": format_iso_ms(at),
                    "quality": "valid",
                    "seq": index + 1,
                },
            )
        )
    return events


def baseline(events: Sequence[tuple[int, dict[str, Any]]]) -> int:
    """Same comparisons by hand: per-device levels per metric, worst level as the state."""
    levels: dict[str, list[int]] = {}
    states: dict[str, int] = {}
    changes = 0
    for _, item in events:
        limits = LIMITS.get(item["mdc_code"])
        value = item.get("value")
        if (
            limits is None
            or value is None
            or item["quality"] != "valid"
            or item["unit"] != limits[0]
        ):
            continue
        _, wlo, whi, clo, chi, _, _ = limits
        level = 2 if (value < clo or value > chi) else 1 if (value < wlo or value > whi) else 0
        per_device = levels.setdefault(item["device_uid"], [0] * 6)
        per_device[FIELD[item["mdc_code"]]] = level
        worst = max(per_device)
        if states.get(item["device_uid"], 0) != worst:
            states[item["device_uid"]] = worst
            changes += 1
    return changes


def engine_runner(
    model_file: str, input_name: str
) -> Callable[[Sequence[tuple[int, dict[str, Any]]]], int]:
    model = DetectorModel.from_file(CATALOG / model_file)

    def run(events: Sequence[tuple[int, dict[str, Any]]]) -> int:
        engine = DetectorEngine(model, InMemoryStateStore(), HeapTimerScheduler(), NullSink())
        changes = 0
        for index, (at, item) in enumerate(events):
            outcome = engine.handle_message(input_name, item, at, message_id=str(index))
            if outcome is not None:
                changes += len(outcome.records)
        return changes

    return run


def measure(
    run: Callable[[Sequence[tuple[int, dict[str, Any]]]], int],
    events: Sequence[tuple[int, dict[str, Any]]],
    repeat: int,
) -> dict[str, Any]:
    best = float("inf")
    result = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = run(events)
        best = min(best, time.perf_counter() - started)
    return {
        "events": len(events),
        "best_seconds": round(best, 4),
        "events_per_s": round(len(events) / best),
        "output_records": result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events = make_events(args.events)
    results = {
        "baseline_plain_python": measure(baseline, events, args.repeat),
        "vital_signs": measure(
            engine_runner("vital-signs.json", "WardlinkTelemetry"), events, args.repeat
        ),
        "device_offline": measure(
            engine_runner("device-offline.json", "WardlinkTelemetry"), events, args.repeat
        ),
    }
    base = results["baseline_plain_python"]["events_per_s"]
    slowest = min(results["vital_signs"]["events_per_s"], results["device_offline"]["events_per_s"])
    summary = {
        "benchmark": "detectors",
        "results": results,
        "engine_vs_baseline": {
            name: round(results[name]["events_per_s"] / base, 4)
            for name in ("vital_signs", "device_offline")
        },
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "meets_target": slowest >= TARGET_EVENTS_PER_S,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
