"""``wardlink sim NAME`` - run one device simulator until interrupted.

Simulators are found through ``wardlink.sim.registry``, so a new simulator module
that registers itself appears here without editing this file. The first line
printed says where the device can be reached (a pty path, a listening port, the
gateway it sends to); the demo and tests read it.

Fault injection on the command line goes through ``--set``: ``garbage_every=20``,
``disconnect_every=50``, ``silence_after=30 silence_for=20``. ``wardlink sim NAME
--settings`` lists the keys a simulator reads; any other key is an error (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value.strip()


def default_pty_link(name: str) -> Path:
    """Where serial simulators put their pty link unless told otherwise; the built-in
    profiles point at these paths."""
    return Path(tempfile.gettempdir()) / "wardlink-sim" / name


async def run_simulator(args: argparse.Namespace) -> int:
    from wardlink.sim.registry import SimOptions, UnknownSettingError, get_simulator

    try:
        entry = get_simulator(args.name)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        entry.check_settings(dict(args.set or []))
    except UnknownSettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    pty_link = args.pty_link
    if pty_link is None and args.port is None and args.connect is None and not args.no_link:
        pty_link = default_pty_link(args.name)
    options = SimOptions(
        pty_link=pty_link,
        host=args.host,
        port=args.port,
        connect=args.connect,
        rate_hz=args.rate,
        seed=args.seed,
        settings=dict(args.set or []),
    )
    simulator = entry.factory(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        where = await simulator.start()
    except (OSError, ValueError) as exc:
        print(f"error: {args.name}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {where}", flush=True)
    runner = asyncio.create_task(simulator.run(stop))
    try:
        if args.duration is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=args.duration)
            stop.set()
        await runner
    finally:
        stop.set()
        await simulator.close()
    return 0


def _list(args: argparse.Namespace) -> int:
    from wardlink.sim.registry import all_simulators

    entries = all_simulators()
    width = max((len(n) for n in entries), default=4)
    for name, entry in entries.items():
        print(f"{name:<{width}}  {entry.description}")
    return 0


def _settings(name: str) -> int:
    from wardlink.sim.registry import get_simulator

    try:
        entry = get_simulator(name)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    width = max((len(key) for key in entry.settings), default=4)
    for key, text in sorted(entry.settings.items()):
        print(f"{key:<{width}}  {text}")
    return 0


def _main(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        return _list(args)
    if args.settings:
        return _settings(args.name)
    return asyncio.run(run_simulator(args))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="run a device simulator")
    parser.add_argument("name", nargs="?", help="simulator name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the simulators")
    parser.add_argument(
        "--settings", action="store_true", help="list the --set keys of simulator NAME"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--pty-link", type=Path, help="serial sims: symlink to the pty (stable path)"
    )
    where.add_argument("--port", type=int, help="TCP sims: listen on this port (0 = any)")
    where.add_argument("--connect", type=_host_port, help="TCP sims: send to HOST:PORT")
    where.add_argument(
        "--no-link", action="store_true", help="serial sims: no symlink, print the pty"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on with --port")
    parser.add_argument("--rate", type=float, help="messages per second")
    parser.add_argument("--seed", type=int, default=0, help="simulated patient and values")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        metavar="KEY=VALUE",
        help="simulator-specific setting (repeatable)",
    )
    parser.set_defaults(func=_main)
