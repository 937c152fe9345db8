"""``wardlink fleet``: the operators' fleet registration commands.

    wardlink fleet register [--env-file F] INVENTORY [--report-dir DIR] [--workers N]
    wardlink fleet locate   [--env-file F] SERIAL_NUMBER
    wardlink fleet gateways register [--env-file F] GATEWAYS.jsonl [...]
    wardlink fleet gateways revoke   [--env-file F] THING_NAME
    wardlink fleet gateways rotate   [--env-file F] THING_NAME --csr FILE --certificate-out FILE

``register`` validates a manufacturer's inventory (JSONL or CSV: ``serial_number``,
``model``, ``category``, ``firmware_version``, ``site_id``, extra columns kept as
attributes) and loads it into the Devices table with parallel batch writes. It is
idempotent: a re-run reports every unit ``unchanged`` and writes nothing. It writes
three files into ``--report-dir`` (default ``<INVENTORY>.report/``): ``results.jsonl``
(one outcome per loaded unit), ``errors.jsonl`` (bad rows, duplicates, failed
writes) and ``retry.jsonl``/``retry.csv`` (exactly those rows, as they were, to fix
and load again). ``locate`` shows a unit's inventory record and every gateway
registration that carries its serial number.

Every command acts as the operator whose identity ``--env-file`` holds (the file
``wardlink cloud local --env-file F`` writes, or one of your own), or with the
standard AWS chain and ``DEVICES_TABLE`` etc. from the environment without it; never
with a gateway's credentials. A progress bar shows on a terminal only.

Exit status: 0 every row loaded, 1 some rows invalid or failed (see the reports),
2 bad usage or setup.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ROWS = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> Any:
    parser = subparsers.add_parser("fleet", help="operators: device inventory and gateway fleet")
    commands = parser.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--env-file", type=Path, metavar="F",
        help="operator identity, region, tables and endpoints (KEY=VALUE lines)",
    )  # fmt: skip

    load = commands.add_parser(
        "register", parents=[common], help="validate and load a device inventory (JSONL or CSV)"
    )
    load.add_argument("inventory", type=Path, metavar="INVENTORY")
    load.add_argument("--report-dir", type=Path, metavar="DIR")
    load.add_argument("--workers", type=int, default=8, help="parallel batch writers (default 8)")
    load.add_argument("--table", help="Devices table (default: $DEVICES_TABLE from F)")
    load.set_defaults(func=_register)

    locate = commands.add_parser(
        "locate", parents=[common], help="a unit's inventory record and where it is registered"
    )
    locate.add_argument("serial_number", metavar="SERIAL_NUMBER")
    locate.add_argument("--table", help="Devices table (default: $DEVICES_TABLE from F)")
    locate.set_defaults(func=_locate)

    from wardlink.cli.fleet_gateways import register as register_gateways

    register_gateways(commands, common)
    parser.set_defaults(func=lambda args: _usage(parser))
    return commands


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """``advance(n)`` for a rich progress bar on stderr, or a no-op when not a terminal."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=Console(stderr=True), transient=False,
    ) as progress:  # fmt: skip
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _register(args: argparse.Namespace) -> int:
    from wardlink.fleet.inventory import (
        InventoryLoader,
        LoadReport,
        Row,
        RowError,
        iter_outcome_lines,
        read_inventory,
        validate_rows,
    )
    from wardlink.fleet.operator import OperatorSession

    try:
        operator = OperatorSession.from_env(args.env_file)
        table = operator.setting("DEVICES_TABLE", args.table)
        inventory = read_inventory(args.inventory)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        print(f"wardlink fleet register: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    validated = validate_rows(inventory.rows)
    loader = InventoryLoader(operator.client("dynamodb"), table, workers=args.workers)
    with progress_bar("loading", len(validated.records)) as advance:
        outcomes = loader.load(validated.records, on_progress=advance)
    report = LoadReport(outcomes, validated.errors, time.perf_counter() - started)

    report_dir = args.report_dir or args.inventory.with_name(args.inventory.name + ".report")
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "results.jsonl").write_text(
        "".join(f"{line}\n" for line in iter_outcome_lines(report))
    )
    errors = [
        {"line": e.line, "serial_number": e.serial_number, "error": e.error} for e in report.invalid
    ] + [
        {"line": o.line, "serial_number": o.serial_number, "error": o.error} for o in report.failed
    ]
    errors.sort(key=lambda e: int(str(e["line"])))
    (report_dir / "errors.jsonl").write_text("".join(json.dumps(e) + "\n" for e in errors))
    failed_lines = {o.line for o in report.failed}
    retry_rows: list[Row | RowError] = [*report.invalid]
    retry_rows += [r for r in inventory.rows if r.line in failed_lines]
    retry_rows.sort(key=lambda r: r.line)
    retry = report_dir / f"retry.{inventory.format}"
    if retry_rows:
        retry.write_text(inventory.retry_text(retry_rows))
    else:
        retry.unlink(missing_ok=True)
    summary = report.summary()
    print(
        f"{args.inventory}: {summary['rows']} rows: {summary['created']} created, "
        f"{summary['updated']} updated, {summary['unchanged']} unchanged, "
        f"{summary['invalid']} invalid, {summary['failed']} failed "
        f"in {summary['seconds']} s ({summary['rows_per_second']} rows/s)"
    )
    print(f"reports: {report_dir}/results.jsonl, {report_dir}/errors.jsonl")
    if retry_rows:
        print(f"retry file: {retry} ({len(retry_rows)} rows to fix and load again)")
    return EXIT_ROWS if retry_rows else EXIT_OK


def _locate(args: argparse.Namespace) -> int:
    from wardlink.fleet.inventory import locate
    from wardlink.fleet.operator import OperatorSession

    try:
        operator = OperatorSession.from_env(args.env_file)
        table = operator.setting("DEVICES_TABLE", args.table)
    except (OSError, ValueError) as exc:
        print(f"wardlink fleet locate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    inventory, registered = locate(operator.client("dynamodb"), table, args.serial_number)
    if inventory is None and not registered:
        print(f"{args.serial_number}: not in the inventory and not registered by any gateway")
        return EXIT_ROWS
    print(json.dumps({"inventory": inventory, "registered": registered}, indent=2, default=str))
    return EXIT_OK
