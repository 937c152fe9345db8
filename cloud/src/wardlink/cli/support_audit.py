"""``wardlink support audit``: the latest Device Defender audit's non-compliant findings.

    wardlink support audit [--days N] [--task TASK_ID] [--limit N] [--json]

Reads ``GET /audit/findings`` of the cloud API with the caller's credentials (the
support role; a gateway's are refused), so support needs no IoT console rights. The
findings name certificates, client ids, IoT policies and roles: what Device Defender
found wrong (a shared or expiring certificate, an overly permissive policy, logging
off...) and why. Exit status as for ``wardlink support alarms``.

A module of its own beside ``wardlink.cli.support``, which adds it to ``wardlink
support``: the alarm commands and this one share only the client set-up and tables.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import IO, Any

from wardlink.cli import support

#: Device Defender's severities, worst first.
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
MAX_LIMIT = 1000



def _short(text: str, width: int) -> str:
    """One table cell: the reason on one line, cut at ``width`` (``--json`` has it whole)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"

def register(commands: Any, common: argparse.ArgumentParser) -> None:
    audit = commands.add_parser(
        "audit", parents=[common],
        help="the latest Device Defender audit's non-compliant findings",
    )  # fmt: skip
    audit.add_argument("--days", type=int, default=None, metavar="N",
                       help="look back N days for the latest completed audit (API default 7)")
    audit.add_argument("--task", metavar="TASK_ID", help="this audit task instead of the latest")
    audit.add_argument("--limit", type=int, default=200,
                       help=f"at most this many findings (default 200, max {MAX_LIMIT})")
    audit.set_defaults(func=_audit)


def _audit(args: argparse.Namespace) -> int:
    def run(client: Any, out: IO[str]) -> None:
        if not 1 <= args.limit <= MAX_LIMIT:
            raise support.UsageError(f"--limit must be 1..{MAX_LIMIT}")
        if args.days is not None and not 1 <= args.days <= 90:
            raise support.UsageError("--days must be 1..90 (Device Defender keeps 90 days)")
        page = client.list_audit_findings(days=args.days, task_id=args.task,
                                          limit=min(100, args.limit))  # fmt: skip
        task, findings, token = page.task, list(page.items), page.next_token
        while token and task is not None and len(findings) < args.limit:
            page = client.list_audit_findings(task_id=task.task_id, next_token=token,
                                              limit=min(100, args.limit - len(findings)))
            findings.extend(page.items)
            token = page.next_token
        if args.json:
            support._print_json(out, {
                "task": task.model_dump(mode="json") if task else None,
                "items": [f.model_dump(mode="json") for f in findings],
                "next_token": token,
            })  # fmt: skip
            return
        out.write(audit_report(task, findings) + "\n")
        if token:
            out.write(f"(more findings: raise --limit above {args.limit})\n")

    return support._with_client(args, run)


def audit_report(task: Any, findings: Sequence[Any]) -> str:
    """The audit's header line and its findings, worst first."""
    if task is None:
        return "No completed Device Defender audit in the window (is the daily audit running?)."
    started = task.started_at.isoformat() if task.started_at else "unknown"
    name = f" {task.scheduled_audit_name}" if task.scheduled_audit_name else ""
    checks = (f"{task.checks_non_compliant} of {task.checks_total} checks non-compliant"
              if task.checks_total is not None else "checks: unknown")  # fmt: skip
    header = (f"Audit {task.task_id} ({task.task_type}{name}), started {started} "
              f"({support.age(started)} ago): {checks}")  # fmt: skip
    if not findings:
        return header + "\nNo non-compliant findings."
    return header + "\n" + findings_table(findings)


def findings_table(findings: Sequence[Any]) -> str:
    def rank(finding: Any) -> tuple[int, str, str]:
        severity = finding.severity.upper()
        order = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 99
        return order, finding.check_name, finding.finding_id

    rows = [
        [f.severity, f.check_name, _resource(f.resource),
         _short(f.reason or f.reason_code or "", 60) or "-"]
        for f in sorted(findings, key=rank)
    ]  # fmt: skip
    return support.table(["SEVERITY", "CHECK", "RESOURCE", "REASON"], rows)


def _resource(resource: Any) -> str:
    if resource is None:
        return "-"
    ids = ", ".join(f"{k}={_cut(v)}" for k, v in sorted(resource.identifiers.items()))
    return f"{resource.resource_type} {ids}".strip()


def _cut(value: str) -> str:
    """Certificate ids are 64 hex digits: the first 12 find it in the console."""
    return value[:12] + "…" if len(value) == 64 and all(c in "0123456789abcdef" for c in value) \
        else value  # fmt: skip
