"""Entry point of the ``wardlink`` console script: one command, assembled from what is installed.

Wardlink ships as separate distributions (core, edge, cloud, dev kit) and a gateway
installs only core and edge. So the command does not know its sub-commands: each
distribution declares them as entry points and this module gathers them.

* ``wardlink.commands``: ``NAME = "module:register"``. ``register(subparsers)`` adds
  one top-level parser whose ``func`` default takes the parsed namespace and returns
  an exit code. It may return its own sub-parsers action so that other distributions
  can extend it.
* ``wardlink.subcommands``: ``PARENT.NAME = "module:register"``. ``register(actions)``
  receives the sub-parsers action that ``PARENT``'s register returned (the dev kit's
  ``phi.eval`` adds ``wardlink phi eval`` to the edge's ``wardlink phi``). An
  extension whose parent is not installed is skipped.

Command modules import their heavy dependencies inside the handlers, so building the
parser stays cheap: ``wardlink phi redact`` does not pay for bleak or boto3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

COMMANDS_GROUP = "wardlink.commands"
SUBCOMMANDS_GROUP = "wardlink.subcommands"

# Top-level commands in the order ``--help`` lists them; unknown ones follow by name.
_ORDER = (
    "demo",
    "run",
    "devices",
    "sim",
    "phi",
    "spool",
    "components",
    "gg",
    "cloud",
    "detectors",
    "support",
)


def _ordered(found: Iterable[EntryPoint]) -> list[EntryPoint]:
    rank = {name: index for index, name in enumerate(_ORDER)}
    unique = {entry.name: entry for entry in found}
    return sorted(unique.values(), key=lambda e: (rank.get(e.name, len(rank)), e.name))


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command the installed distributions provide."""
    parser = argparse.ArgumentParser(
        prog="wardlink", description="Wardlink medical-device gateway tools"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    extensible: dict[str, Any] = {}
    for entry in _ordered(entry_points(group=COMMANDS_GROUP)):
        register = cast(Callable[[Any], Any], entry.load())
        returned = register(subparsers)
        if returned is not None:
            extensible[entry.name] = returned
    for entry in sorted(entry_points(group=SUBCOMMANDS_GROUP), key=lambda e: e.name):
        parent = entry.name.split(".", 1)[0]
        if parent in extensible:
            cast(Callable[[Any], None], entry.load())(extensible[parent])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(cast(Callable[[argparse.Namespace], int], func)(args))


if __name__ == "__main__":
    sys.exit(main())
