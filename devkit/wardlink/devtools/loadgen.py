"""Synthetic acquisition for fault tests and benchmarks.

Produces observations the way a DeviceProxy would - raw ``Observation``s passed
through the redaction policy and appended to the spool in batches - at a fixed
rate, so an Uplink running in another process has something to drain.

    python -m wardlink.devtools.loadgen --spool PATH --rate 200 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from wardlink.model import DeviceIdentity, Observation, RecordKind, RedactedObservation
from wardlink.model import nomenclature as mdc
from wardlink.phi.policy import RedactionPolicy
from wardlink.spool import Spool

DEVICES = tuple(DeviceIdentity(device_id=f"load-{i}", model="LoadGen") for i in range(4))


def observations(count: int, start: int = 0) -> list[Observation]:
    now = datetime.now(UTC)
    out = []
    for i in range(start, start + count):
        metric = mdc.SPO2 if i % 2 else mdc.PULSE_RATE_OXIM
        out.append(
            Observation(
                device_id=DEVICES[i % len(DEVICES)].device_id,
                metric=metric,
                value=float(90 + i % 10 if i % 2 else 60 + i % 40),
                unit=mdc.UCUM_PERCENT if i % 2 else mdc.UCUM_PER_MIN,
                measured_at=now,
            )
        )
    return out


def redact(policy: RedactionPolicy, batch: list[Observation]) -> list[RedactedObservation]:
    return policy.redact_observations(batch, DEVICES[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=100.0, help="observations per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--max-bytes", type=int, default=256 * 1024 * 1024)
    parser.add_argument("--report", type=Path, default=None, help="write counts as JSON here")
    args = parser.parse_args(argv)

    spool = Spool(args.spool, max_bytes=args.max_bytes)
    policy = RedactionPolicy()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    produced = spooled = dropped = 0
    first_seq = last_seq = 0
    started = time.monotonic()
    while not stopping and time.monotonic() - started < args.seconds:
        result = spool.append_sealed(
            redact(policy, observations(args.batch, produced)), RecordKind.TELEMETRY
        )
        produced += args.batch
        dropped += result.dropped
        if result.last_seq is not None:
            spooled += args.batch
            first_seq = first_seq or result.first_seq or 0
            last_seq = result.last_seq
        ahead = produced / args.rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    stats = spool.stats()
    report = {
        "produced": produced,
        "spooled": spooled,
        "dropped": dropped,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "evicted_total": stats.evicted_total,
        "dropped_total": stats.dropped_total,
        "depth": stats.depth,
        "disk_full": stats.disk_full,
    }
    spool.close()
    if args.report:
        args.report.write_text(json.dumps(report))
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
