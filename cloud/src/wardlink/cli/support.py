"""``wardlink support``: alarm triage, fleet search and telemetry for manufacturer support.

    wardlink support devices   [filters] [--json]           (wardlink.fleet.support_cli)
    wardlink support telemetry GATEWAY/DEVICE [--since 1h] [--plot F.png]
                                                           (wardlink.fleet.support_telemetry)

    wardlink support alarms list   [--state STATE] [--limit N]
    wardlink support alarms show   ALARM_ID [--history N]
    wardlink support alarms ack    ALARM_ID --note TEXT
    wardlink support alarms snooze ALARM_ID --duration 2h --note TEXT
    wardlink support alarms reset|disable|enable ALARM_ID --note TEXT
    wardlink support diagnostics request|list|download ...  (``support_diagnostics``)
    wardlink support audit [--days N] [--task TASK_ID] [--limit N]   (wardlink.cli.support_audit)

Every sub-command also takes ``--api URL`` (default ``$WARDLINK_API_ENDPOINT``),
``--region`` (default ``$AWS_REGION``, or the region in an execute-api URL),
``--env-file F`` (endpoint, region and credentials from the file ``wardlink cloud
local --env-file F`` writes) and ``--json`` (machine-readable output instead of
tables).

Requests go through the cloud API's IAM-authorized alarm endpoints, signed with
SigV4 by ``wardlink.cloudclient`` using the standard AWS credential chain (your
profile or environment). The API records the signing identity as *who* and
``--note`` as *why* in the alarm's audit trail, so every acknowledgement is
attributable; there is no way to act on an alarm without a note.

Exit status: 0 done, 1 the API refused or failed (the message says why, e.g. a
409 when the alarm changed state since you looked), 2 bad usage or setup.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
MIN_SNOOZE_S = 60
MAX_SNOOZE_S = 7 * 24 * 3600
ACTIONS = ("ack", "snooze", "reset", "disable", "enable")
MAX_LISTED = 1000
#: What these alarms are, and what they are not (IEC 60601-1-8 alarm systems).
SERVICE_NOTE = (
    "Device service alerts for manufacturer support, not clinical alarms: they do not "
    "notify clinicians and are no alarm system in the sense of IEC 60601-1-8."
)
STATES = ("NORMAL", "ACTIVE", "ACKNOWLEDGED", "LATCHED", "SNOOZE_DISABLED", "DISABLED")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class UsageError(Exception):
    """Bad arguments or missing setup; exit status 2."""


# -- arguments -------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "support", help="manufacturer support: alarms, fleet, telemetry, diagnostics, IoT audit"
    )
    commands = parser.add_subparsers(dest="support_command", metavar="SUBCOMMAND")
    alarms = commands.add_parser("alarms", help="list, inspect and act on alarms")
    verbs = alarms.add_subparsers(dest="alarms_command", metavar="ACTION")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--api", metavar="URL", help="API invoke URL incl. stage (default: $WARDLINK_API_ENDPOINT)"
    )
    common.add_argument("--region", help="AWS region for SigV4 (default: $AWS_REGION)")
    common.add_argument(
        "--env-file", type=Path, metavar="F",
        help="API endpoint, region and credentials from this file (the one "
        "`wardlink cloud local --env-file F` writes) instead of the environment",
    )  # fmt: skip
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")

    listing = verbs.add_parser(
        "list", parents=[common], help="alarms that need attention, joined with their devices"
    )
    listing.add_argument(
        "--state", choices=STATES, type=str.upper, action="append",
        help="only this state, repeatable (default: ACTIVE, LATCHED, ACKNOWLEDGED, "
        "SNOOZE_DISABLED)",
    )  # fmt: skip
    listing.add_argument("--site", metavar="SITE_ID", help="only alarms of this site")
    listing.add_argument("--model", metavar="PREFIX", help="only devices whose model starts so")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.set_defaults(func=_list)

    show = verbs.add_parser("show", parents=[common], help="one alarm, its device and history")
    show.add_argument("alarm_id", metavar="ALARM_ID")
    show.add_argument("--history", type=int, default=50, metavar="N", help="audit entries")
    show.set_defaults(func=_show)

    helps = {
        "ack": "acknowledge: you are on it (ACTIVE -> ACKNOWLEDGED, LATCHED -> NORMAL)",
        "snooze": "silence for --duration (SNOOZE_DISABLED), then NORMAL again",
        "reset": "back to NORMAL",
        "disable": "stop evaluating (DISABLED) until enabled",
        "enable": "evaluate again (NORMAL)",
    }
    for action in ACTIONS:
        verb = verbs.add_parser(action, parents=[common], help=helps[action])
        verb.add_argument("alarm_id", metavar="ALARM_ID")
        verb.add_argument("--note", required=True, help="why (recorded in the audit trail)")
        if action == "snooze":
            verb.add_argument(
                "--duration", required=True, type=parse_duration, metavar="DURATION",
                help="e.g. 90m, 2h, 1d12h or seconds (60 s .. 7 d)",
            )  # fmt: skip
        verb.set_defaults(func=_act, action=action)

    from wardlink.cli import support_diagnostics

    support_diagnostics.register(commands, common)

    from wardlink.cli import support_audit

    support_audit.register(commands, common)
    alarms.set_defaults(func=lambda args: _usage(alarms))
    from wardlink.fleet.support_cli import register_devices
    from wardlink.fleet.support_telemetry import register_telemetry

    register_devices(commands, common)
    register_telemetry(commands, common)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d12h`` -> seconds, within the API's snooze range."""
    raw = text.strip().lower()
    if raw.isdigit():
        seconds = int(raw)
    else:
        match = _DURATION.match(raw)
        if not raw or match is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90m, 2h or 1d12h")
        days, hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if not MIN_SNOOZE_S <= seconds <= MAX_SNOOZE_S:
        raise argparse.ArgumentTypeError(
            f"snooze duration must be between 1 minute and 7 days, got {seconds} s"
        )
    return seconds


# -- commands --------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    def run(client: Any, out: IO[str]) -> None:
        from wardlink.contract.models import AlarmState

        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        states = [AlarmState(state) for state in args.state] if args.state else [None]
        alarms: list[Any] = []
        truncated = False
        for state in dict.fromkeys(states):
            token: str | None = None
            while len(alarms) < MAX_LISTED:
                page = client.list_alarms(state, limit=100, next_token=token)
                alarms.extend(page.items)
                token = page.next_token
                if not token:
                    break
            truncated = truncated or bool(token)
        chosen = sort_alarms(filter_alarms(alarms, args.site, args.model))
        shown = chosen[: args.limit]
        if args.json:
            _print_json(out, {"items": [a.model_dump(mode="json") for a in shown],
                              "more": len(chosen) > args.limit or truncated})  # fmt: skip
            return
        out.write(SERVICE_NOTE + "\n" + alarm_table(shown) + "\n")
        if len(chosen) > args.limit:
            out.write(f"({len(chosen) - args.limit} more: raise --limit above {args.limit})\n")
        if truncated:
            out.write(f"(only the first {MAX_LISTED} alarms were read: narrow with --state)\n")

    return _with_client(args, run)


def filter_alarms(alarms: Sequence[Any], site: str | None, model: str | None) -> list[Any]:
    """Alarms of ``site`` (the alarm's or its device's) and of a model prefix (any case)."""
    prefix = " ".join(model.lower().split()) if model else None
    chosen = []
    for alarm in alarms:
        device = alarm.device
        alarm_site = alarm.site_id or (device.site_id if device else None)
        if site and alarm_site != site:
            continue
        if prefix is not None:
            name = " ".join((device.model if device else "").lower().split())
            if not name.startswith(prefix):
                continue
        chosen.append(alarm)
    return chosen


def sort_alarms(alarms: Sequence[Any]) -> list[Any]:
    """Most severe first (1 is critical), then the longest-standing first."""
    return sorted(
        alarms,
        key=lambda a: (a.severity if a.severity is not None else 99, a.since or a.last_change),
    )


def _show(args: argparse.Namespace) -> int:
    def run(client: Any, out: IO[str]) -> None:
        alarm = client.get_alarm(args.alarm_id)
        history = client.alarm_history(args.alarm_id, limit=max(1, min(100, args.history))).items
        if args.json:
            _print_json(out, {"alarm": alarm.model_dump(mode="json"),
                              "history": [h.model_dump(mode="json") for h in history]})  # fmt: skip
            return
        out.write(SERVICE_NOTE + "\n" + alarm_details(alarm) + "\n\nHistory (oldest first):\n")
        out.write(history_table(history) + "\n")

    return _with_client(args, run)


def _act(args: argparse.Namespace) -> int:
    def run(client: Any, out: IO[str]) -> None:
        from wardlink.contract.models import AlarmAction

        note = args.note.strip()
        if not note:
            raise UsageError("--note must say why (it goes into the audit trail)")
        snooze = args.duration if args.action == "snooze" else None
        alarm = client.act_on_alarm(args.alarm_id, AlarmAction(args.action), note, snooze)
        if args.json:
            _print_json(out, alarm.model_dump(mode="json"))
            return
        out.write(f"{args.action}: {alarm.alarm_id} is now {alarm.state.value}\n")
        if alarm.snooze_until:
            out.write(f"snoozed until {alarm.snooze_until}\n")

    return _with_client(args, run)


def _with_client(args: argparse.Namespace, run: Callable[[Any, IO[str]], None]) -> int:
    from wardlink.cloudclient import ApiClientError, ApiUnavailableError, NoCredentialsError

    try:
        client = support_client(args)
        run(client, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`... | head`): nothing more to say, and no traceback
        # when the interpreter flushes stdout at exit either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (UsageError, NoCredentialsError, ValueError) as exc:
        print(f"wardlink support: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiClientError as exc:
        print(f"wardlink support: the API refused: {exc}", file=sys.stderr)
        return EXIT_API
    except ApiUnavailableError as exc:
        print(f"wardlink support: the API is unavailable: {exc}", file=sys.stderr)
        return EXIT_API
    return EXIT_OK


def support_client(args: argparse.Namespace) -> Any:
    """The signed API client: from ``--env-file`` when given, else options and environment."""
    from wardlink.cloudclient import WardlinkApiClient

    env_file: Path | None = getattr(args, "env_file", None)
    if env_file is None:
        endpoint = api_endpoint(args.api)
        region = api_region(args.region, endpoint)
        return WardlinkApiClient(endpoint, region, user_agent="wardlink-support-cli")
    from botocore.credentials import Credentials

    from wardlink.fleet.operator import read_env_file

    try:
        env = read_env_file(env_file)
    except OSError as exc:
        raise UsageError(f"cannot read --env-file {env_file}: {exc.strerror or exc}") from exc
    endpoint = api_endpoint(args.api, env)
    region = api_region(args.region, endpoint, env)
    try:
        credentials = Credentials(
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_SESSION_TOKEN") or None,
        )
    except KeyError as exc:
        raise UsageError(f"--env-file {env_file} names no {exc.args[0]}") from exc
    return WardlinkApiClient(endpoint, region, credentials, user_agent="wardlink-support-cli")


def api_endpoint(explicit: str | None, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    endpoint = explicit or env.get("WARDLINK_API_ENDPOINT") or env.get("WARDLINK_API_URL")
    if not endpoint:
        raise UsageError("no API: pass --api URL or set WARDLINK_API_ENDPOINT")
    return endpoint


def api_region(explicit: str | None, endpoint: str, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    region = explicit or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        return region
    match = _EXECUTE_API_HOST.search(endpoint)
    if match:
        return match.group(1)
    raise UsageError("no region: pass --region or set AWS_REGION")


# -- rendering -------------------------------------------------------------------------


def _print_json(out: IO[str], document: Any) -> None:
    out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def age(iso: str | None, now: float | None = None) -> str:
    """'12m', '3h05m', '2d04h' since an ISO instant; '-' if unknown."""
    if not iso:
        return "-"
    try:
        then = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "-"
    seconds = max(0, int((time.time() if now is None else now) - then))
    if seconds < 3600:
        return f"{seconds // 60}m" if seconds >= 60 else f"{seconds}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def alarm_table(alarms: Sequence[Any], now: float | None = None) -> str:
    if not alarms:
        return "No alarms need attention."
    rows = []
    for alarm in alarms:
        device = alarm.device
        rows.append(
            [
                alarm.alarm_id,
                alarm.state.value,
                str(alarm.severity) if alarm.severity is not None else "-",
                age(alarm.since, now),
                alarm.title or "-",
                (device.model if device else None) or "-",
                (device.firmware_version if device else None) or "-",
                (device.site_id if device else None) or alarm.site_id or "-",
                f"{age(device.last_seen, now)} ago" if device else "-",
            ]
        )
    headers = ["ALARM ID", "STATE", "SEV", "AGE", "TITLE", "MODEL", "FIRMWARE", "SITE",
               "LAST SEEN"]  # fmt: skip
    return table(headers, rows)


def alarm_details(alarm: Any) -> str:
    model, name, key = [*alarm.alarm_id.split("#", 2), "", ""][:3]
    fields: list[tuple[str, str]] = [
        ("Alarm", alarm.alarm_id),
        ("Detector", f"{model} / {name}"),
        ("Subject", key),
        ("State", alarm.state.value),
        ("Severity", str(alarm.severity) if alarm.severity is not None else "-"),
        ("Since", f"{alarm.since or '-'} ({age(alarm.since)} ago)"),
        ("Last change", alarm.last_change),
    ]
    if alarm.title:
        fields.insert(1, ("Title", alarm.title))
    if alarm.snooze_until:
        fields.append(("Snoozed until", alarm.snooze_until))
    if alarm.notes:
        fields.append(("Last note", alarm.notes))
    device = alarm.device
    if device is not None:
        serial = (
            device.serial_number or "withheld by the site's PHI policy (not sent by the gateway)"
        )
        fields += [
            ("Device", f"{device.device_id} on gateway {device.gateway_id}"),
            ("Model", _maker(device.model, device.manufacturer)),
            ("Serial number", serial),
            ("Firmware", device.firmware_version or "unknown"),
            ("Site", device.site_id or "unknown"),
            ("Device status", device.status),
            ("Last seen", f"{device.last_seen} ({age(device.last_seen)} ago; newest stored data "
                          "or registration)"),
        ]  # fmt: skip
    elif alarm.device_uid:
        fields.append(("Device", f"{alarm.device_uid} (not in the device registry)"))
    elif alarm.gateway_id:
        fields.append(("Gateway", f"{alarm.gateway_id} (site {alarm.site_id or 'unknown'})"))
    width = max(len(label) for label, _ in fields)
    lines = [f"{label.ljust(width)}  {value}" for label, value in fields]
    if alarm.last_alert:
        lines += ["", "Alert text:", *_wrap(alarm.last_alert)]
    if alarm.runbook:
        where = alarm.runbook
        if not where.startswith("https://"):
            where += " (the link in the alert text; docs/support-guide.md, the alerts one by one)"
        lines += ["", f"Runbook: {where}"]
    return "\n".join(lines)


def _wrap(text: str, width: int = 88) -> list[str]:
    import textwrap

    return textwrap.wrap(" ".join(text.split()), width, initial_indent="  ",
                         subsequent_indent="  ") or ["  -"]  # fmt: skip


def history_table(history: Sequence[Any]) -> str:
    if not history:
        return "(no changes recorded)"
    rows = [
        [
            entry.at,
            entry.who,
            entry.action,
            f"{entry.from_state or '?'} -> {entry.to_state or '?'}",
            " ".join((entry.why or "").split()),
        ]
        for entry in history
    ]
    return table(["AT", "WHO", "ACTION", "CHANGE", "WHY"], rows)


def _maker(model: str, manufacturer: str | None) -> str:
    known = manufacturer and manufacturer != "unknown"
    return f"{model} ({manufacturer})" if known else model
