"""``wardlink cloud``: the manufacturer's cloud, run locally.

    wardlink cloud local [--mqtt URL] [--port N] [--dynamodb-endpoint URL]
                         [--region REGION] [--env-file PATH] [--log-level LEVEL]

Starts DynamoDB Local (unless ``--dynamodb-endpoint`` names a running one), moto
for S3 and Timestream, the SigV4-checked API on 127.0.0.1, and, with ``--mqtt``,
the bridge from the broker's ``wardlink/v1/+/+`` topics to the telemetry writer.
Prints the endpoint and the gateway's credentials as shell ``export`` lines (and
writes them to ``--env-file``, mode 0600), then runs until interrupted, reporting
device registrations and stored telemetry as they change.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cloud", help="run the cloud side locally")
    commands = parser.add_subparsers(dest="cloud_command", metavar="SUBCOMMAND")
    local = commands.add_parser(
        "local", help="DynamoDB Local + moto + the real handlers behind a SigV4-checked API"
    )
    local.add_argument("--mqtt", metavar="URL", help="broker to bridge, e.g. mqtt://127.0.0.1:1883")
    local.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    local.add_argument(
        "--dynamodb-endpoint",
        metavar="URL",
        help="use this DynamoDB (Local) instead of starting one",
    )
    local.add_argument("--region", default="us-east-1")
    local.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="write the endpoint and credentials here as KEY=VALUE lines",
    )
    local.add_argument("--log-level", default="WARNING", help="handler log level")
    local.set_defaults(func=_local)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _local(args: argparse.Namespace) -> int:
    from wardlink.localcloud import LocalCloud, LocalCloudConfig
    from wardlink.model.errors import WardlinkError

    config = LocalCloudConfig(
        region=args.region, api_port=args.port, mqtt_url=args.mqtt,
        dynamodb_endpoint=args.dynamodb_endpoint, log_level=args.log_level.upper(),
    )  # fmt: skip
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    cloud = LocalCloud(config)
    try:
        cloud.start()
    except (WardlinkError, OSError) as exc:
        print(f"wardlink cloud local: {exc}", file=sys.stderr)
        return 1
    try:
        env = cloud.environment()
        lines = [f"{key}={value}" for key, value in env.items()]
        if args.env_file:
            fd = os.open(args.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write("\n".join(lines) + "\n")
        print(f"# wardlink local cloud: API {cloud.endpoint} (SigV4, region {cloud.region})")
        for line in lines:
            print(f"export {line}")
        if args.mqtt:
            print(f"# bridging {args.mqtt} wardlink/v1/+/+ -> telemetry writer")
        sys.stdout.flush()
        last = None
        while not stop.wait(2.0):
            stats = cloud.stats()
            if stats != last:
                print(
                    f"devices registered={stats.devices_registered} "
                    f"updated={stats.devices_updated} "
                    f"telemetry stored={stats.telemetry_records_stored} "
                    f"duplicates={stats.telemetry_duplicates} "
                    f"rejected={stats.telemetry_rejected} mqtt={stats.mqtt_messages} "
                    f"api={stats.api_requests} refused={stats.api_signature_rejections}",
                    file=sys.stderr,
                    flush=True,
                )
                last = stats
    finally:
        cloud.stop()
    return 0
