"""``wardlink spool stats|peek --path FILE``: look into a gateway's spool on site.

Read-only: a technician looks at a spool, often a damaged one, and must leave it -
and the evidence - exactly as it was. Both commands open it through
``ReadOnlySpool`` (SQLite ``mode=ro``), never through the components' ``Spool``,
which repairs what it opens: they create no file, quarantine nothing and write
nothing. PHI-free by construction: the spool holds sealed records only.

Exit codes: 0 done; 2 no spool at the path; 3 the spool is damaged or not a spool
(the components quarantine it when they run into the damage); 4 this user may not read it
(run as root or as a member of the spool group).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_MISSING = 2
EXIT_DAMAGED = 3
EXIT_UNREADABLE = 4


def _stats(args: argparse.Namespace) -> int:
    from wardlink.spool import ReadOnlySpool, SpoolUnavailable

    try:
        with ReadOnlySpool(args.path) as spool:
            stats = spool.stats()
    except SpoolUnavailable as exc:
        return _failed(exc)
    print(json.dumps(dataclasses.asdict(stats), indent=2))
    return EXIT_OK


def _peek(args: argparse.Namespace) -> int:
    from wardlink.spool import ReadOnlySpool, SpoolUnavailable

    try:
        with ReadOnlySpool(args.path) as spool:
            records = spool.peek(args.limit)
    except SpoolUnavailable as exc:
        return _failed(exc)
    for record in records:
        print(json.dumps({"seq": record.seq, "kind": record.kind.value, **json.loads(record.body)}))
    return EXIT_OK


def _failed(exc: Exception) -> int:
    from wardlink.spool import SpoolDamaged, SpoolMissing

    if isinstance(exc, SpoolMissing):
        print(f"wardlink spool: {exc}", file=sys.stderr)
        return EXIT_MISSING
    if isinstance(exc, SpoolDamaged):
        print(
            f"wardlink spool: {exc}. Nothing was changed; the gateway components move a"
            " damaged spool to quarantine/ and start a fresh one when they run into the"
            " damage, at the latest when they restart.",
            file=sys.stderr,
        )
        return EXIT_DAMAGED
    print(f"wardlink spool: {exc}", file=sys.stderr)
    return EXIT_UNREADABLE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("spool", help="inspect the store-and-forward spool (read-only)")
    sub = parser.add_subparsers(dest="spool_command", required=True)
    stats = sub.add_parser("stats", help="depth, bytes, oldest age, evictions, quarantines")
    stats.add_argument("--path", type=Path, required=True)
    stats.set_defaults(func=_stats)
    peek = sub.add_parser("peek", help="the next records the uplink will send")
    peek.add_argument("--path", type=Path, required=True)
    peek.add_argument("--limit", type=int, default=10)
    peek.set_defaults(func=_peek)
