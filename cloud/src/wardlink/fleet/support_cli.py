"""``wardlink support devices``: fleet search for manufacturer support, one command.

    wardlink support devices [--category C] [--model PREFIX] [--firmware V|V*|LO..HI]
                             [--site S] [--gateway G] [--status STATE]
                             [--seen-within 1h] [--not-seen-for 1d] [--limit N] [--json]

Every filter is optional and they combine. ``--model`` is a case-insensitive prefix
(``glucose`` finds "Glucose Meter GM-200"); ``--firmware`` is exact (``1.2.0.4``),
a prefix of whole components (``1.2.*``) or an inclusive range compared as versions
(``1.2..1.10``, ``1.2..``, ``..1.10``). Category, model, exact firmware, gateway and site are
answered from indexes; other filters alone make the API scan the table, and the
command says so on stderr. ``--json`` prints a JSON list of device records (each
with ``gateway_id``, ``device_id``, ``serial_number``, ``model``, ``category``,
``firmware_version``, ``site_id``, ``last_seen``, ``source``).

The search goes through the API's ``GET /fleet/devices`` with support credentials
(``--env-file F`` or the usual chain, as every ``wardlink support`` command).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import IO, Any

MAX_PAGE = 100


def register_devices(commands: Any, common: argparse.ArgumentParser) -> None:
    devices = commands.add_parser(
        "devices", parents=[common], help="fleet search: category, model, firmware, site, ..."
    )
    devices.add_argument("--category", type=str.lower, help="e.g. glucose-meter")
    devices.add_argument("--model", metavar="PREFIX", help="model prefix, any case")
    devices.add_argument(
        "--firmware", type=parse_firmware, metavar="V|V*|LO..HI",
        help="exact 1.2.0.4, prefix 1.2.* or range 1.2..1.10 (compared as versions)",
    )  # fmt: skip
    devices.add_argument("--site", metavar="SITE_ID")
    devices.add_argument("--gateway", metavar="GATEWAY_ID")
    devices.add_argument(
        "--status", metavar="STATE",
        help="connectivity the gateway last reported: connected, disconnected, silent, ...",
    )  # fmt: skip
    devices.add_argument("--seen-within", type=parse_age, metavar="AGE", help="e.g. 1h, 2d")
    devices.add_argument("--not-seen-for", type=parse_age, metavar="AGE", help="e.g. 1d")
    devices.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    devices.set_defaults(func=_devices)


def parse_firmware(text: str) -> dict[str, str]:
    """``1.2.0.4`` | ``1.2.*`` | ``1.2..1.10`` -> the API's firmware query parameters."""
    raw = text.strip()
    if ".." in raw:
        low, _, high = raw.partition("..")
        if not low and not high:
            raise argparse.ArgumentTypeError("a firmware range needs at least one end")
        return {k: v for k, v in (("firmware_from", low), ("firmware_to", high)) if v}
    if raw.endswith("*"):
        return {"firmware_prefix": raw.rstrip("*").rstrip(".")}
    if not raw:
        raise argparse.ArgumentTypeError("empty firmware version")
    return {"firmware": raw}


def parse_age(text: str) -> int:
    """``90s``, ``15m``, ``2h``, ``1d12h`` -> seconds (any positive duration)."""
    from wardlink.cli.support import _DURATION

    raw = text.strip().lower()
    match = _DURATION.match(raw)
    if raw.isdigit():
        return int(raw)
    if not raw or match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90m, 2h or 1d12h")
    days, hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def _iso_ago(seconds: int, now: float | None = None) -> str:
    moment = datetime.fromtimestamp((time.time() if now is None else now) - seconds, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def search_parameters(args: argparse.Namespace, now: float | None = None) -> dict[str, str]:
    """The query of ``GET /fleet/devices`` for these arguments (absent filters left out)."""
    query: dict[str, str] = dict(args.firmware or {})
    for name, value in (
        ("category", args.category),
        ("model", args.model),
        ("site_id", args.site),
        ("gateway_id", args.gateway),
        ("status", args.status.lower() if args.status else None),
    ):
        if value:
            query[name] = value
    if args.seen_within is not None:
        query["seen_after"] = _iso_ago(args.seen_within, now)
    if args.not_seen_for is not None:
        query["seen_before"] = _iso_ago(args.not_seen_for, now)
    return query


def fetch(client: Any, query: dict[str, str], limit: int) -> tuple[list[Any], Any, bool]:
    """Follow pages until ``limit`` devices or the end: (devices, last page, more left)."""
    from wardlink.contract.fleet import FleetSearchPage

    devices: list[Any] = []
    token: str | None = None
    page = None
    while len(devices) < limit:
        wanted = {**query, "limit": str(min(MAX_PAGE, limit - len(devices)))}
        if token:
            wanted["next_token"] = token
        _, data = client.send("GET", "/fleet/devices", b"", wanted)
        page = FleetSearchPage.model_validate_json(data)
        devices.extend(page.items)
        token = page.next_token
        if not token:
            break
    return devices[:limit], page, bool(token)


def _devices(args: argparse.Namespace) -> int:
    from wardlink.cli.support import UsageError, _print_json, _with_client

    def run(client: Any, out: IO[str]) -> None:
        import sys

        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        devices, page, more = fetch(client, search_parameters(args), args.limit)
        if page is not None and page.scanned:
            print(f"note: {page.note}", file=sys.stderr)
        if args.json:
            _print_json(out, [d.model_dump(mode="json") for d in devices])
        else:
            out.write(device_table(devices) + "\n")
        if more:
            print(f"(more devices: raise --limit above {args.limit})", file=sys.stderr)

    return _with_client(args, run)


def device_table(devices: list[Any], now: float | None = None) -> str:
    from wardlink.cli.support import age, table

    if not devices:
        return "No devices match."
    rows = [
        [
            f"{d.gateway_id}/{d.device_id}" if d.gateway_id else "(not located)",
            d.serial_number or "-",
            d.model,
            d.category or "-",
            d.firmware_version or "-",
            d.site_id or "-",
            d.status or "-",
            f"{age(d.last_seen, now)} ago" if d.last_seen else "-",
            d.source,
        ]
        for d in devices
    ]
    headers = ["DEVICE", "SERIAL", "MODEL", "CATEGORY", "FIRMWARE", "SITE", "STATUS",
               "LAST SEEN", "SOURCE"]  # fmt: skip
    return table(headers, rows)
