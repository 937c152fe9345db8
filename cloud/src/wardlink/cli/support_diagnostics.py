"""``wardlink support diagnostics``: ask a gateway for its diagnostics bundle, and fetch it.

    wardlink support diagnostics request  GATEWAY_ID --reason TEXT
    wardlink support diagnostics list     GATEWAY_ID [--state STATE]
    wardlink support diagnostics download GATEWAY_ID REQUEST_ID [-o FILE]

A request waits until a technician on site approves it in the gateway's UI (the
redacted bundle is then uploaded) or declines it; ``list`` shows where each
stands. ``download`` writes the bundle (a zip) once it is uploaded. The same
``--api``/``--region``/``--json`` options and exit statuses as ``wardlink
support alarms``; the API records who asked (your IAM identity) and why.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO, Any

STATES = ("pending", "approved", "declined", "uploaded")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    diagnostics = commands.add_parser(
        "diagnostics", help="ask a gateway for its redacted diagnostics bundle, and fetch it"
    )
    verbs = diagnostics.add_subparsers(dest="diagnostics_command", metavar="ACTION")
    ask = verbs.add_parser("request", parents=[common], help="ask a gateway for its bundle")
    ask.add_argument("gateway_id", metavar="GATEWAY_ID")
    ask.add_argument("--reason", required=True, help="why (shown to the technician on site)")
    ask.set_defaults(func=_request)
    listing = verbs.add_parser("list", parents=[common], help="a gateway's requests")
    listing.add_argument("gateway_id", metavar="GATEWAY_ID")
    listing.add_argument("--state", choices=STATES, help="only this state")
    listing.set_defaults(func=_list)
    download = verbs.add_parser("download", parents=[common], help="fetch an uploaded bundle")
    download.add_argument("gateway_id", metavar="GATEWAY_ID")
    download.add_argument("request_id", metavar="REQUEST_ID")
    download.add_argument(
        "-o", "--output", type=Path, help="file to write (default: diagnostics-REQUEST_ID.zip)"
    )
    download.set_defaults(func=_download)
    diagnostics.set_defaults(func=lambda args: _usage(diagnostics))


def _usage(parser: argparse.ArgumentParser) -> int:
    from wardlink.cli.support import EXIT_USAGE

    parser.print_help()
    return EXIT_USAGE


def _request(args: argparse.Namespace) -> int:
    from wardlink.cli.support import _print_json, _with_client
    from wardlink.cloudclient.diagnostics import request_diagnostics

    def run(client: Any, out: IO[str]) -> None:
        asked = request_diagnostics(client, args.gateway_id, args.reason)
        if args.json:
            _print_json(out, asked.model_dump(mode="json", exclude_none=True))
            return
        out.write(
            f"asked {asked.gateway_id} for its diagnostics bundle: request {asked.request_id}\n"
            "it waits for a technician on site to approve it\n"
        )

    return _with_client(args, run)


def _list(args: argparse.Namespace) -> int:
    from wardlink.cli.support import _print_json, _with_client, table
    from wardlink.cloudclient.diagnostics import list_diagnostics
    from wardlink.contract.diagnostics import DiagnosticsState

    def run(client: Any, out: IO[str]) -> None:
        state = DiagnosticsState(args.state) if args.state else None
        requests = list_diagnostics(client, args.gateway_id, state)
        if args.json:
            _print_json(out, [r.model_dump(mode="json", exclude_none=True) for r in requests])
            return
        if not requests:
            out.write("no diagnostics requests\n")
            return
        rows = [
            [r.request_id, r.state.value, r.requested_at, r.decided_by or "", r.reason[:60]]
            for r in requests
        ]
        out.write(table(["REQUEST", "STATE", "ASKED", "DECIDED BY", "REASON"], rows) + "\n")

    return _with_client(args, run)


def _download(args: argparse.Namespace) -> int:
    from wardlink.cli.support import _with_client
    from wardlink.cloudclient.diagnostics import download_diagnostics

    def run(client: Any, out: IO[str]) -> None:
        data = download_diagnostics(client, args.gateway_id, args.request_id)
        target = args.output or Path(f"diagnostics-{args.request_id}.zip")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        out.write(f"wrote {target} ({len(data)} bytes)\n")

    return _with_client(args, run)
