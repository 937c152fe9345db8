"""``wardlink fleet simulate-gateways``: keys and CSRs for simulated gateways (dev kit only).

    wardlink fleet simulate-gateways --count N --out DIR [--prefix gw-sim] [--sites 10]

Writes ``DIR/gateways.jsonl`` for ``wardlink fleet gateways register`` and the private
keys under ``DIR/keys/``. Real gateways make their own keys and CSRs; generating them
centrally is for simulation and tests against the local cloud, hence a dev-kit command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(fleet_commands: Any) -> None:
    parser = fleet_commands.add_parser(
        "simulate-gateways", help="dev kit: keys and CSRs for simulated gateways"
    )
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--prefix", default="gw-sim")
    parser.add_argument("--sites", type=int, default=10)
    parser.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from wardlink.devtools.gateway_csrs import simulate, write_gateways

    spec = write_gateways(simulate(args.count, args.prefix, args.sites), args.out)
    print(f"{args.count} simulated gateways: {spec} (keys in {args.out / 'keys'})")
    return 0
