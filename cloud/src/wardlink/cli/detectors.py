"""``wardlink detectors``: replay events through IoT Events detector models, validate models.

    wardlink detectors run --model FILE [--model FILE ...] --events FILE.jsonl [--until ISO]
    wardlink detectors validate FILE... [--no-shape] [--botocore-version V]

``run`` prints one JSON line per state change and per external action on stdout;
problems (bad lines, rejected messages, actions that could not run) go to stderr
as JSON lines. Exit status: 0 clean, 1 some input was bad or rejected, 2 a model
could not be loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detectors", help="run and validate IoT Events detector models (our engine)"
    )
    commands = parser.add_subparsers(dest="detectors_command", metavar="SUBCOMMAND")

    run = commands.add_parser("run", help="replay JSON-lines events through detector models")
    run.add_argument(
        "--model", action="append", required=True, metavar="FILE",
        help="CreateDetectorModel request JSON (repeat to run several models)",
    )  # fmt: skip
    run.add_argument(
        "--events", required=True, metavar="FILE.jsonl",
        help='one {"time": ISO, "input": NAME, "payload": {...}} per line; - for stdin',
    )  # fmt: skip
    run.add_argument("--until", metavar="ISO", help="advance the clock to this time at the end")
    run.set_defaults(func=_run)

    validate = commands.add_parser("validate", help="check detector-model and input request files")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument(
        "--no-shape", action="store_true",
        help="skip the check against the botocore API shape (no download needed)",
    )  # fmt: skip
    validate.add_argument("--botocore-version", default=None, metavar="VERSION")
    validate.set_defaults(func=_validate)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _run(args: argparse.Namespace) -> int:
    from wardlink.detectors.errors import DetectorModelError
    from wardlink.detectors.model import DetectorModel
    from wardlink.detectors.replay import Replay, read_events
    from wardlink.detectors.timeutil import parse_iso_ms

    try:
        models = [DetectorModel.from_file(path) for path in args.model]
    except (DetectorModelError, OSError) as exc:
        print(f"wardlink detectors run: {exc}", file=sys.stderr)
        return 2
    until_ms = None
    if args.until:
        try:
            until_ms = parse_iso_ms(args.until)
        except ValueError as exc:
            print(f"wardlink detectors run: --until: {exc}", file=sys.stderr)
            return 2
    try:
        replay = Replay(models, _printer(sys.stdout), _printer(sys.stderr))
    except ValueError as exc:
        print(f"wardlink detectors run: {exc}", file=sys.stderr)
        return 2
    if args.events == "-":
        summary = replay.run(read_events(sys.stdin), until_ms)
    else:
        try:
            stream = Path(args.events).open(encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            print(f"wardlink detectors run: {exc}", file=sys.stderr)
            return 2
        with stream:
            summary = replay.run(read_events(stream), until_ms)
    return 1 if summary.bad_lines or summary.rejected else 0


def _printer(stream: IO[str]) -> Any:
    def emit(record: dict[str, Any]) -> None:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    return emit


def _validate(args: argparse.Namespace) -> int:
    from wardlink.detectors.validation import (
        IOTEVENTS_BOTOCORE_VERSION,
        ShapeUnavailableError,
        ShapeValidator,
        load_iotevents_service,
        validate_files,
    )

    shapes = None
    if not args.no_shape:
        version = args.botocore_version or IOTEVENTS_BOTOCORE_VERSION
        try:
            shapes = ShapeValidator(load_iotevents_service(version))
        except ShapeUnavailableError as exc:
            print(f"wardlink detectors validate: {exc} (use --no-shape to skip)", file=sys.stderr)
            return 2
    reports = validate_files(args.files, shapes)
    failed = 0
    for report in reports:
        if report.ok:
            print(f"ok      {report.path} ({report.kind})")
            continue
        failed += 1
        print(f"INVALID {report.path} ({report.kind})")
        for problem in report.problems:
            print(f"        - {problem}")
    return 1 if failed else 0
