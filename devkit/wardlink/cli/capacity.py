"""``wardlink cloud capacity``: what a fleet of N devices at R points/s needs, and costs.

    wardlink cloud capacity --devices 200000 --rate 0.1 [--devices-per-gateway 20]
        [--batch-seconds 0.1]
        [--video-streams N --video-kbps K] [--files-per-device-day F --file-mb M]
        [--iot-log-bytes B] [--json]
    wardlink cloud capacity --facts

Prints gateways, IoT Core messages (and their 5 KB metering), the Kinesis shards the
traffic needs, the stream consumers' Lambda concurrency, DynamoDB units, telemetry
storage, video and files, with monthly list prices and the quotas the fleet would
exceed. The assumptions are ``wardlink.capacity.Workload``'s fields; the prices and
limits, with sources and whether they were checked, are in docs/capacity.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(commands: Any) -> None:
    capacity = commands.add_parser(
        "capacity", help="capacity and cost of a fleet (IoT Core, Kinesis, Lambda, storage)"
    )
    capacity.add_argument("--devices", type=int, metavar="N", help="devices in the fleet")
    capacity.add_argument("--rate", type=float, metavar="R",
                          help="points per second per device (e.g. 0.1: one every 10 s)")
    capacity.add_argument("--devices-per-gateway", type=int, default=20, metavar="N")
    capacity.add_argument("--batch-seconds", type=float, default=0.1, metavar="S",
                          help="how long a gateway gathers points per envelope (uplink "
                               "publisher poll, 0.1 s today)")
    capacity.add_argument("--video-streams", type=int, default=0, metavar="N",
                          help="concurrent video streams")
    capacity.add_argument("--video-kbps", type=int, default=1000, metavar="K")
    capacity.add_argument("--files-per-device-day", type=float, default=0.0, metavar="F")
    capacity.add_argument("--file-mb", type=float, default=1.0, metavar="M")
    capacity.add_argument("--iot-log-bytes", type=int, default=0, metavar="B",
                          help="IoT Core log bytes per message (0 at ERROR; ~1000 at INFO)")
    capacity.add_argument("--json", action="store_true", help="print JSON")
    capacity.add_argument("--facts", action="store_true",
                          help="print the limits and prices the model uses, with sources")
    capacity.set_defaults(func=_capacity)


def _capacity(args: argparse.Namespace) -> int:
    from wardlink.capacity import Workload, estimate, facts_markdown

    if args.facts:
        print(facts_markdown())
        return 0
    if args.devices is None or args.rate is None:
        print("wardlink cloud capacity: --devices and --rate are required", file=sys.stderr)
        return 2
    try:
        result = estimate(Workload(
            devices=args.devices, rate=args.rate, devices_per_gateway=args.devices_per_gateway,
            poll_interval_s=args.batch_seconds,
            video_streams=args.video_streams, video_kbps=args.video_kbps,
            files_per_device_per_day=args.files_per_device_day, file_mb=args.file_mb,
            iot_log_bytes_per_message=args.iot_log_bytes,
        ))  # fmt: skip
    except ValueError as exc:
        print(f"wardlink cloud capacity: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    print(render(result))
    return 0


def render(result: Any) -> str:
    """The estimate as text: figures by section, monthly costs, then warnings."""
    from wardlink.capacity import READ_ON

    rows = [f"{'':2}{line.section:<10}{line.name:<40}{_number(line.value):>18} {line.unit}"
            + (f"  ({line.note})" if line.note else "") for line in result.lines]  # fmt: skip
    costs = [f"  {name:<50}{value:>14,.0f} USD" for name, value in result.monthly_usd.items()]
    lines = [
        f"Fleet: {result.workload.devices:,} devices at {result.workload.rate:g} points/s each",
        *rows,
        f"Monthly, at list prices (us-east-1; most to verify, see docs/capacity.md, read "
        f"{READ_ON}):",
        *costs,
        f"  {'total':<50}{result.total_usd:>14,.0f} USD",
    ]
    if result.warnings:
        lines += ["Warnings:", *(f"  - {w}" for w in result.warnings)]
    return "\n".join(lines)


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
