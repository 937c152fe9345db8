"""``wardlink demo``: run a whole simulated site locally."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any


def _demo(args: argparse.Namespace) -> int:
    from wardlink.demo.site import DemoOptions, SiteDemo
    from wardlink.runtime.logs import configure_logging

    configure_logging("wardlink-demo", args.log_level)
    options = DemoOptions(
        duration=args.duration,
        broker=args.broker,
        summary=args.summary,
        workdir=args.workdir,
        seed=args.seed,
        cloud=args.cloud,
        cloud_env=args.cloud_env,
        ui_port=args.ui_port,
        ui_credentials=args.ui_credentials,
        ui_idle_timeout_s=args.ui_idle_timeout,
    )

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        summary = await SiteDemo(options).run(stop)
        return 1 if summary.phi_leaks or summary.missing_seqs else 0

    return asyncio.run(main())


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run a simulated site: devices, gateway pipeline, IoT Core stand-in"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after SECONDS")
    parser.add_argument("--broker", default=None, help="external broker mqtt://HOST:PORT")
    parser.add_argument("--summary", type=Path, default=None, help="write a JSON summary here")
    parser.add_argument("--workdir", type=Path, default=None, help="keep spool and PKI here")
    parser.add_argument("--seed", type=int, default=7)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--cloud",
        action="store_true",
        help="also run the local cloud: device registration, telemetry store, detectors and alerts",
    )
    where.add_argument(
        "--cloud-env",
        type=Path,
        metavar="F",
        help="attach to the local cloud `wardlink cloud local --env-file F` runs (it keeps "
        "running after the demo, for `wardlink support ... --env-file F`)",
    )
    parser.add_argument(
        "--ui-port",
        type=int,
        default=None,
        help="also serve the gateway UI at https://127.0.0.1:PORT (0: any free port)",
    )
    parser.add_argument(
        "--ui-credentials",
        type=Path,
        default=None,
        help="write the UI's technician login here as username:password (fresh each run)",
    )
    parser.add_argument(
        "--ui-idle-timeout",
        type=float,
        default=900.0,
        help="sign UI users out after SECONDS without activity (default 900)",
    )
    parser.add_argument("--log-level", default="WARNING")
    parser.set_defaults(func=_demo)
