"""``wardlink spool stats|peek --path FILE``: look into a gateway's spool on site.

Read-only and PHI-free by construction: the spool holds sealed records only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any


def _missing(path: Path) -> bool:
    if not path.exists():
        print(f"no spool at {path}")
        return True
    return False


def _stats(args: argparse.Namespace) -> int:
    from wardlink.spool import Spool

    if _missing(args.path):
        return 2
    spool = Spool(args.path)
    print(json.dumps(dataclasses.asdict(spool.stats()), indent=2))
    spool.close()
    return 0


def _peek(args: argparse.Namespace) -> int:
    from wardlink.spool import Spool

    if _missing(args.path):
        return 2
    spool = Spool(args.path)
    for record in spool.read(max_items=args.limit):
        print(json.dumps({"seq": record.seq, "kind": record.kind.value, **json.loads(record.body)}))
    spool.close()
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("spool", help="inspect the store-and-forward spool")
    sub = parser.add_subparsers(dest="spool_command", required=True)
    stats = sub.add_parser("stats", help="depth, bytes, oldest age, evictions, quarantines")
    stats.add_argument("--path", type=Path, required=True)
    stats.set_defaults(func=_stats)
    peek = sub.add_parser("peek", help="the next records the uplink will send")
    peek.add_argument("--path", type=Path, required=True)
    peek.add_argument("--limit", type=int, default=10)
    peek.set_defaults(func=_peek)
