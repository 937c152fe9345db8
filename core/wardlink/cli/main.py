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

When the first argument names an installed command, only that command's entry point
(and the extensions whose parent it is) is loaded. A gateway component runs as
``wardlink run proxy|uplink`` for weeks: a module imported only to describe
``wardlink devices`` or ``wardlink spool`` in a help text it never prints would stay
resident all that time (``wardlink.cli.devices`` pulls in the codec registry, which
the Uplink otherwise never loads). ``wardlink``, ``wardlink --help`` and a misspelt
command still build the whole parser, so they list every command as before.

``wardlink --version`` prints the version of each installed Wardlink distribution.
It reads them with ``importlib.metadata``, imported only when the option is given:
every other start pays nothing for it (see ``wardlink.cli.entry_points``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from wardlink.cli.entry_points import EntryPoint, entry_points

DISTRIBUTIONS = ("wardlink-core", "wardlink-edge", "wardlink-cloud", "wardlink-devkit")
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


def installed_versions() -> dict[str, str]:
    """``{distribution: version}`` of the Wardlink distributions installed here."""
    from importlib import metadata  # here only: ~6.8 MB a gateway component never needs

    found: dict[str, str] = {}
    for name in DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


class _VersionAction(argparse.Action):
    """``--version``: like argparse's, but the versions are looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the installed versions")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        versions = installed_versions()
        text = " ".join(f"{name} {version}" for name, version in versions.items())
        print(f"wardlink {text or '(no distribution metadata found)'}")
        parser.exit()


def _ordered(found: Iterable[EntryPoint]) -> list[EntryPoint]:
    rank = {name: index for index, name in enumerate(_ORDER)}
    unique = {entry.name: entry for entry in found}
    return sorted(unique.values(), key=lambda e: (rank.get(e.name, len(rank)), e.name))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command the installed distributions provide.

    With ``only``, the parser of that one command: its entry point and its extensions
    are loaded, the other commands' modules are not. If no installed command has that
    name, every command is loaded, so that argparse can name the valid choices.
    """
    parser = argparse.ArgumentParser(
        prog="wardlink", description="Wardlink medical-device gateway tools"
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = _ordered(entry_points(group=COMMANDS_GROUP))
    if only is not None and any(entry.name == only for entry in commands):
        commands = [entry for entry in commands if entry.name == only]
    extensible: dict[str, Any] = {}
    for entry in commands:
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
    arguments = sys.argv[1:] if argv is None else list(argv)
    # "-h", "--help" and no argument at all describe every command: build them all
    first = arguments[0] if arguments and not arguments[0].startswith("-") else None
    parser = build_parser(first)
    args = parser.parse_args(arguments)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(cast(Callable[[argparse.Namespace], int], func)(args))


if __name__ == "__main__":
    sys.exit(main())
