"""Entry point of the ``wardlink`` console script.

Sub-commands are modules in this package that define ``register(subparsers)``;
``register`` adds a parser whose ``func`` default takes the parsed namespace and
returns an exit code. Keeping each command in its own module keeps imports lazy:
``wardlink phi redact`` does not pay for bleak or boto3.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

COMMAND_MODULES: tuple[str, ...] = (
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
    "ui",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wardlink", description="Wardlink medical-device gateway tools"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"wardlink.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"wardlink.cli.{name}":
                continue  # command not built yet in this tree
            raise
        module.register(subparsers)
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
