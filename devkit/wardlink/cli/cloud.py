"""``wardlink cloud``: the manufacturer's cloud, run locally.

    wardlink cloud local [--mqtt URL] [--port N] [--dynamodb-endpoint URL]
                         [--region REGION] [--env-file PATH] [--log-level LEVEL]
                         [--no-detectors] [--detector-timer NAME=SECONDS ...]
                         [--alerts-file PATH]

    wardlink cloud credentials --env-file PATH (--gateway ID | --support)

Starts DynamoDB Local (unless ``--dynamodb-endpoint`` names a running one), moto
for S3 and Timestream, the SigV4-checked API on 127.0.0.1, the detector engine
with the catalog models (unless ``--no-detectors``), and, with ``--mqtt``, the
bridge from the broker's ``wardlink/v1/+/+`` topics to the telemetry writer and
the detectors. Prints the endpoint and the operator's credentials (support rights:
fleet search, alarms) as shell ``export`` lines (and writes them to ``--env-file``,
mode 0600), then runs until
interrupted: one stdout line per alert (``[sns] <time> <key>: <text>``; the full
alerts go to ``--alerts-file`` as JSON lines), and on stderr the counters
(registrations, stored telemetry, alerts, alarm changes) whenever they change.
Alarms are in the API: ``wardlink support alarms list`` with the exported
variables, or ``--env-file F``. The env file also names the local DynamoDB, S3
(``AWS_ENDPOINT_URL_S3``, bucket ``DATA_BUCKET``), IoT and InfluxDB endpoints. The
cloud keeps running until interrupted, so it can be shared: ``wardlink demo
--cloud-env F`` attaches a simulated site to it, and ``wardlink support ... --env-file
F`` works during and after the demo.

Gateways never get the operator's identity: ``wardlink cloud credentials`` asks the
running local cloud (signed with the operator identity from ``--env-file``) for
credentials it maps to one gateway (``--gateway ID``: that gateway's paths only, as
the IoT credentials provider's thing name does in AWS) or to support
(``--support``), and prints them as ``AWS_ACCESS_KEY_ID=``,
``AWS_SECRET_ACCESS_KEY=`` and ``AWS_SESSION_TOKEN=`` lines.

``--detector-timer heartbeat=10`` makes a silent device (or gateway) go offline
after 10 s instead of 300 s, for demos.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wardlink.detectors.local_runner import LocalAlert


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
    local.add_argument(
        "--no-detectors",
        dest="detectors",
        action="store_false",
        help="do not run the detector models (no alerts, no alarms)",
    )
    local.add_argument(
        "--detector-timer",
        dest="detector_timers",
        action="append",
        type=parse_timer,
        default=[],
        metavar="NAME=SECONDS",
        help="shorten a detector timer, e.g. heartbeat=10 (repeatable)",
    )
    local.add_argument(
        "--alerts-file",
        type=Path,
        metavar="PATH",
        help="append alerts here as JSON lines (default: a temporary file, removed on exit)",
    )
    local.set_defaults(func=_local)
    creds = commands.add_parser(
        "credentials", help="credentials for one gateway (or support) from a running local cloud"
    )
    creds.add_argument(
        "--env-file", type=Path, required=True, metavar="PATH",
        help="the env file `wardlink cloud local --env-file` wrote",
    )  # fmt: skip
    who = creds.add_mutually_exclusive_group(required=True)
    who.add_argument("--gateway", metavar="ID", help="a gateway's (thing name's) credentials")
    who.add_argument("--support", action="store_true", help="support credentials")
    creds.set_defaults(func=_credentials)
    from wardlink.cli import capacity

    capacity.register(commands)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def parse_timer(text: str) -> tuple[str, float]:
    """``heartbeat=10`` -> ``("heartbeat", 10.0)``; at least 1 second."""
    name, sep, value = text.partition("=")
    name = name.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not sep or not name or not seconds >= 1 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=SECONDS with at least 1 second, e.g. heartbeat=10"
        )
    return name, seconds


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` prefixes and comments tolerated)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def _credentials(args: argparse.Namespace) -> int:
    import json

    from botocore.credentials import Credentials

    from wardlink.cloudclient import RetryPolicy, WardlinkApiClient
    from wardlink.cloudclient.errors import ApiClientError, ApiUnavailableError

    try:
        env = read_env_file(args.env_file)
        client = WardlinkApiClient(
            env["WARDLINK_API_ENDPOINT"],
            env["AWS_REGION"],
            Credentials(
                env["AWS_ACCESS_KEY_ID"],
                env["AWS_SECRET_ACCESS_KEY"],
                env.get("AWS_SESSION_TOKEN") or None,
            ),
            retry=RetryPolicy(max_attempts=2, base_delay_s=0.1),
        )
    except (OSError, KeyError, ValueError) as exc:
        print(f"wardlink cloud credentials: cannot use {args.env_file}: {exc}", file=sys.stderr)
        return 2
    wanted = {"gateway_id": args.gateway} if args.gateway else {"support": True}
    try:
        _, data = client.send("POST", "/_local/credentials", json.dumps(wanted).encode())
    except (ApiClientError, ApiUnavailableError) as exc:
        print(f"wardlink cloud credentials: {exc}", file=sys.stderr)
        return 1
    for key, value in json.loads(data).items():
        print(f"{key}={value}")
    return 0


def _local(args: argparse.Namespace) -> int:
    from wardlink.localcloud import LocalCloud, LocalCloudConfig
    from wardlink.model.errors import WardlinkError

    if args.detector_timers and not args.detectors:
        print("wardlink cloud local: --detector-timer needs the detectors", file=sys.stderr)
        return 2
    try:
        config = LocalCloudConfig(
            region=args.region, api_port=args.port, mqtt_url=args.mqtt,
            dynamodb_endpoint=args.dynamodb_endpoint, log_level=args.log_level.upper(),
            detectors=args.detectors, detector_timers=dict(args.detector_timers) or None,
            alerts_file=args.alerts_file,
        )  # fmt: skip
        cloud = LocalCloud(config)
    except WardlinkError as exc:
        print(f"wardlink cloud local: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def print_alert(alert: LocalAlert) -> None:
        print(cloud.alert_line(alert), flush=True)

    cloud.add_alert_listener(print_alert)
    try:
        cloud.start()
    except (WardlinkError, OSError) as exc:
        print(f"wardlink cloud local: {exc}", file=sys.stderr)
        return 1
    try:
        env = cloud.environment()
        lines = [f"{key}={value}" for key, value in env.items()]
        if args.env_file:
            # Written whole, then renamed into place, once the cloud answers: a script
            # can wait for the file (`until [ -s F ]`) and never read half of it.
            partial = f"{args.env_file}.partial"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write("\n".join(lines) + "\n")
            os.replace(partial, args.env_file)
        print(f"# wardlink local cloud: API {cloud.endpoint} (SigV4, region {cloud.region})")
        for line in lines:
            print(f"export {line}")
        detectors = cloud.detectors
        if detectors is not None:
            timers = ", ".join(f"{name} {s:g} s" for name, s in detectors.timer_seconds.items())
            print(
                f"# detectors: {len(detectors.model_names)} models"
                + (f" (timers: {timers})" if timers else "")
                + f"; alerts -> {detectors.alerts_path}; alarms -> GET /alarms"
            )
        if args.mqtt:
            consumers = "telemetry writer" + (" + detectors" if detectors is not None else "")
            print(f"# bridging {args.mqtt} wardlink/v1/+/+ -> {consumers}")
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
                    f"api={stats.api_requests} refused={stats.api_signature_rejections} "
                    f"alerts={stats.alerts_sent} alarm_changes={stats.alarm_changes} "
                    f"detector_errors={stats.detector_errors}",
                    file=sys.stderr,
                    flush=True,
                )
                last = stats
    finally:
        cloud.stop()
    return 0
