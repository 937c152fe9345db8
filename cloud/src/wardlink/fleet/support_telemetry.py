"""``wardlink support telemetry``: a device's recent telemetry as a table, JSON or a plot.

    wardlink support telemetry GATEWAY/DEVICE [--since 1h] [--limit N] [--json]
                               [--plot FILE.png]

Reads ``GET /devices/{gateway}%2F{device}/telemetry`` page by page (support
credentials, ``--env-file F`` or the usual chain). Prints a table of the samples
(time, metric, value, unit), or with ``--json`` the API's page shape with every
sample. ``--plot FILE.png`` writes one panel per metric with matplotlib, and, when
stdout is a terminal, also draws the metrics in the terminal with plotext. Both come
with the ``plot`` extra of wardlink-cloud; without it the command says so and still
prints the table.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from wardlink.fleet.support_cli import parse_age

MAX_WINDOW_S = 7 * 24 * 3600
_UID = re.compile(r"^[A-Za-z0-9:_-]{1,128}/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def register_telemetry(commands: Any, common: argparse.ArgumentParser) -> None:
    telemetry = commands.add_parser(
        "telemetry", parents=[common], help="a device's recent telemetry: table, JSON or plot"
    )
    telemetry.add_argument("device", metavar="GATEWAY/DEVICE")
    telemetry.add_argument(
        "--since", type=parse_age, default=3600, metavar="AGE",
        help="how far back, e.g. 15m, 1h, 2d (default 1h, at most 7d)",
    )  # fmt: skip
    telemetry.add_argument("--limit", type=int, default=5000, help="at most this many samples")
    telemetry.add_argument("--plot", type=Path, metavar="FILE.png", help="write a PNG plot")
    telemetry.set_defaults(func=_telemetry)


def fetch(client: Any, device_uid: str, since_s: int, limit: int) -> dict[str, Any]:
    """Every page of the window up to ``limit`` samples, as one TelemetryPage dict."""
    from urllib.parse import quote

    from wardlink.contract.fleet import TelemetryPage

    path = f"/devices/{quote(device_uid, safe='')}/telemetry"
    items: list[dict[str, Any]] = []
    token: str | None = None
    first: TelemetryPage | None = None
    while len(items) < limit:
        query = {"since_s": str(since_s), "limit": str(min(1000, limit - len(items)))}
        if token:
            query["next_token"] = token
        _, data = client.send("GET", path, b"", query)
        page = TelemetryPage.model_validate_json(data)
        first = first or page
        items.extend(s.model_dump(mode="json") for s in page.items)
        token = page.next_token
        if not token:
            break
    assert first is not None
    return {
        "device_uid": first.device_uid, "since": first.since, "until": first.until,
        "items": items[:limit], "more": bool(token),
    }  # fmt: skip


def _telemetry(args: argparse.Namespace) -> int:
    from wardlink.cli.support import UsageError, _print_json, _with_client

    def run(client: Any, out: IO[str]) -> None:
        if not _UID.match(args.device):
            raise UsageError(f"{args.device!r} is not GATEWAY/DEVICE, e.g. gw-1/bed-2-oximeter")
        if not 1 <= args.since <= MAX_WINDOW_S:
            raise UsageError("--since must be between 1 second and 7 days")
        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        result = fetch(client, args.device, args.since, args.limit)
        if args.json:
            _print_json(out, result)
        else:
            out.write(sample_table(result["items"]) + "\n")
        if result["more"]:
            print(f"(more samples: raise --limit above {args.limit})", file=sys.stderr)
        if args.plot is not None:
            write_png(result, args.plot)
            print(f"plot: {args.plot}", file=sys.stderr)
            if out.isatty() and not args.json:
                out.write(terminal_plot(result) + "\n")

    return _with_client(args, run)


def sample_table(items: list[dict[str, Any]]) -> str:
    from wardlink.cli.support import table

    if not items:
        return "No telemetry in this window."
    rows = [
        [
            s["time"],
            s["metric"],
            f"{s['value']:g}" if s.get("value") is not None else "-",
            s.get("unit") or "-",
        ]
        for s in items
    ]
    return table(["TIME", "METRIC", "VALUE", "UNIT"], rows)


def _series(result: dict[str, Any]) -> dict[str, tuple[list[datetime], list[float], str]]:
    series: dict[str, tuple[list[datetime], list[float], str]] = defaultdict(lambda: ([], [], ""))
    for sample in result["items"]:
        if sample.get("value") is None:
            continue
        times, values, _ = series[sample["metric"]]
        times.append(datetime.fromisoformat(sample["time"].replace("Z", "+00:00")))
        values.append(float(sample["value"]))
        series[sample["metric"]] = (times, values, sample.get("unit") or "")
    return dict(series)


def write_png(result: dict[str, Any], path: Path) -> None:
    """One panel per metric, shared time axis, written with matplotlib's Agg backend."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ValueError(
            "--plot needs matplotlib: install wardlink-cloud[plot] (bash .ci/bootstrap does)"
        ) from exc
    series = _series(result)
    panels = max(1, len(series))
    figure, axes = plt.subplots(panels, 1, sharex=True, figsize=(10, 2.2 * panels + 0.8),
                                squeeze=False)  # fmt: skip
    for axis, (metric, (times, values, unit)) in zip(axes[:, 0], sorted(series.items()),
                                                     strict=False):  # fmt: skip
        axis.plot(times, values, marker=".", linewidth=1)
        axis.set_ylabel(f"{metric}\n[{unit}]" if unit else metric, fontsize=8)
        axis.grid(True, alpha=0.3)
    if not series:
        axes[0, 0].text(0.5, 0.5, "no telemetry in this window", ha="center", va="center")
    figure.suptitle(f"{result['device_uid']}  {result['since']} .. {result['until']}",
                    fontsize=9)  # fmt: skip
    figure.autofmt_xdate()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)


def terminal_plot(result: dict[str, Any], width: int = 100, height: int = 12) -> str:
    """The metrics drawn with plotext as text (empty if plotext is not installed)."""
    try:
        import plotext as plx  # type: ignore[import-untyped]
    except ImportError:
        return ""
    drawings = []
    for metric, (times, values, unit) in sorted(_series(result).items()):
        plx.clear_figure()
        plx.theme("clear")  # the terminal's own colours
        plx.plotsize(width, height)
        plx.date_form("H:M:S")
        plx.plot(plx.datetimes_to_string(times), values, marker="braille")
        plx.title(f"{metric} [{unit}]" if unit else metric)
        drawings.append(plx.build())
    return "\n".join(drawings)
