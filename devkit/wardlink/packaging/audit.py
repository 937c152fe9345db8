"""Known vulnerabilities in what a gateway ships, and what Wardlink decided about each.

IEC 62304 7.1.3 asks that the published anomaly lists of every SOUP item be
evaluated, and a medical device's cybersecurity file asks the same of published
vulnerabilities. The component build therefore checks the gateway's lock against
an advisory database with pip-audit and judges every finding against a reviewed,
committed record of decisions (``vulnerability-assessments.yaml``):

* a vulnerability with a recorded assessment (not-affected, mitigated or
  risk-accepted, with the reasoning, who and when) is listed and passes;
* a vulnerability with no assessment fails the build (:func:`check_audit`);
* a package the advisory source could not answer for is listed loudly as *not
  audited*: the report then proves nothing about it. It passes unless ``strict``,
  because an unreachable advisory service must not stop a development build, while
  a release build should set ``strict``.

The decision logic (:func:`report_from_pip_audit`) is a pure function of the pins,
pip-audit's JSON and the assessments, so it is tested without a network;
:func:`audit` adds the one impure step, running pip-audit.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wardlink.packaging.soup import GATEWAY_TARGETS, Pin, Target, applicable_pins

__all__ = [
    "ASSESSMENTS_FILE",
    "DECISIONS",
    "Assessment",
    "AuditError",
    "AuditFailedError",
    "AuditReport",
    "NotAudited",
    "PipAuditRun",
    "PipAuditRunner",
    "Vulnerability",
    "audit",
    "check_audit",
    "load_assessments",
    "report_from_pip_audit",
    "run_pip_audit",
    "write_audit_json",
    "write_audit_markdown",
]

ASSESSMENTS_FILE = Path(__file__).with_name("vulnerability-assessments.yaml")
DECISIONS = ("not-affected", "mitigated", "risk-accepted")
PIP_AUDIT_TIMEOUT_S = 600


class AuditError(Exception):
    """The audit cannot be made (bad assessments file, pip-audit missing)."""


class AuditFailedError(AuditError):
    """The audit found what a build must not ship; ``failures`` lists each reason."""

    def __init__(self, failures: Sequence[str]) -> None:
        self.failures = tuple(failures)
        super().__init__(
            "the vulnerability audit failed:\n" + "\n".join(f"  - {f}" for f in failures)
        )


# --- assessments ----------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """A reviewed decision about one advisory for one package."""

    package: str
    advisory: str
    decision: str
    assessment: str
    by: str
    date: date

    def matches(self, package: str, advisory_ids: Iterable[str]) -> bool:
        ids = {advisory.upper() for advisory in advisory_ids}
        return self.package == package and self.advisory.upper() in ids


def load_assessments(path: Path = ASSESSMENTS_FILE) -> tuple[Assessment, ...]:
    """The assessments file, checked; every problem is raised at once."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AuditError(f"cannot read {path}: {exc}") from exc
    entries = data.get("assessments") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise AuditError(f"{path}: expected 'assessments:' with a list (may be empty)")
    problems: list[str] = []
    found: list[Assessment] = []
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(entries, 1):
        where = f"entry {number}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a mapping")
            continue
        unknown = sorted(
            set(entry) - {"package", "advisory", "decision", "assessment", "by", "date"}
        )
        if unknown:
            problems.append(f"{where}: unknown keys {unknown}")
        texts = {
            key: entry.get(key) for key in ("package", "advisory", "decision", "assessment", "by")
        }
        empty = [
            key for key, value in texts.items() if not isinstance(value, str) or not value.strip()
        ]
        if empty:
            problems.append(f"{where}: {', '.join(empty)} must be non-empty text")
            continue
        when = entry.get("date")
        if isinstance(when, str):
            try:
                when = date.fromisoformat(when)
            except ValueError:
                when = None
        if not isinstance(when, date):
            problems.append(f"{where}: date must be YYYY-MM-DD")
            continue
        decision = str(texts["decision"]).strip()
        if decision not in DECISIONS:
            problems.append(f"{where}: decision {decision!r} is not one of {list(DECISIONS)}")
            continue
        assessment = Assessment(
            package=canonicalize_name(str(texts["package"]).strip()),
            advisory=str(texts["advisory"]).strip(),
            decision=decision,
            assessment=" ".join(str(texts["assessment"]).split()),
            by=str(texts["by"]).strip(),
            date=when,
        )
        key = (assessment.package, assessment.advisory.upper())
        if key in seen:
            problems.append(
                f"{where}: a second assessment of {assessment.advisory} for {assessment.package}"
            )
            continue
        seen.add(key)
        found.append(assessment)
    if problems:
        raise AuditError(f"{path}:\n" + "\n".join(f"  - {p}" for p in problems))
    return tuple(found)


# --- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class Vulnerability:
    """A published advisory that affects a pinned version, with its assessment if any."""

    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    description: str
    assessment: Assessment | None


@dataclass(frozen=True)
class NotAudited:
    """A pin the advisory source gave no answer for: nothing is known about it."""

    package: str
    version: str
    reason: str


@dataclass(frozen=True)
class AuditReport:
    """What the audit found, for the build to judge (:func:`check_audit`) and to publish."""

    lock: str
    targets: tuple[str, ...]
    service: str
    tool: str
    generated_at: datetime
    audited: tuple[str, ...]
    vulnerabilities: tuple[Vulnerability, ...]
    not_audited: tuple[NotAudited, ...]
    unmatched_assessments: tuple[Assessment, ...] = field(default=())

    @property
    def unassessed(self) -> tuple[Vulnerability, ...]:
        return tuple(v for v in self.vulnerabilities if v.assessment is None)

    @property
    def assessed(self) -> tuple[Vulnerability, ...]:
        return tuple(v for v in self.vulnerabilities if v.assessment is not None)

    def failures(self, *, strict: bool = False) -> list[str]:
        """Why a build must stop: unassessed vulnerabilities, and with ``strict`` unaudited pins."""
        reasons = [
            f"{v.package}=={v.version}: {v.advisory} ({', '.join(v.aliases) or 'no aliases'}) "
            f"has no assessment in vulnerability-assessments.yaml"
            for v in self.unassessed
        ]
        if strict:
            reasons += [
                f"{n.package}=={n.version} was not audited: {n.reason}" for n in self.not_audited
            ]
        return reasons

    @property
    def verdict(self) -> str:
        if self.unassessed:
            return "fail"
        return "incomplete" if self.not_audited else "pass"


def check_audit(report: AuditReport, *, strict: bool = False) -> None:
    """Raise :class:`AuditFailedError` if the report shows what must not ship."""
    failures = report.failures(strict=strict)
    if failures:
        raise AuditFailedError(failures)


@dataclass(frozen=True)
class PipAuditRun:
    """One run of pip-audit: its JSON output, or why there is none."""

    output: Mapping[str, Any] | None
    error: str | None
    tool: str = "pip-audit"


def report_from_pip_audit(
    pins: Sequence[Pin],
    run: PipAuditRun,
    assessments: Sequence[Assessment],
    *,
    lock: str,
    service: str,
    targets: Sequence[Target] = GATEWAY_TARGETS,
    generated_at: datetime | None = None,
) -> AuditReport:
    """Judge pip-audit's JSON (``--format json``) for ``pins`` against ``assessments``.

    A pin that pip-audit skipped (its ``skip_reason``), did not mention, or could
    not check at all (``run.output`` is None) is *not audited*, with the reason.
    """
    dependencies = run.output.get("dependencies") if run.output is not None else None
    error = run.error
    if run.output is not None and not isinstance(dependencies, list):
        dependencies, error = None, "pip-audit's output has no 'dependencies' list"
    versions: dict[str, list[Pin]] = {}
    for pin in pins:
        versions.setdefault(pin.name, []).append(pin)
    answered: set[tuple[str, str]] = set()
    audited: list[str] = []
    vulnerabilities: list[Vulnerability] = []
    not_audited: list[NotAudited] = []
    for dependency in dependencies or []:
        if not isinstance(dependency, Mapping) or not isinstance(dependency.get("name"), str):
            continue
        name = canonicalize_name(dependency["name"])
        if "skip_reason" in dependency:
            for pin in versions.get(name, []):
                answered.add((pin.name, _normal(pin.version)))
                not_audited.append(
                    NotAudited(pin.name, pin.version, str(dependency["skip_reason"]))
                )
            continue
        version = str(dependency.get("version", ""))
        answered.add((name, _normal(version)))
        audited.append(f"{name}=={version}")
        for vuln in dependency.get("vulns") or []:
            advisory = str(vuln.get("id", "unknown advisory"))
            aliases = tuple(str(alias) for alias in vuln.get("aliases") or [])
            match = next((a for a in assessments if a.matches(name, (advisory, *aliases))), None)
            vulnerabilities.append(
                Vulnerability(
                    package=name,
                    version=version,
                    advisory=advisory,
                    aliases=aliases,
                    fix_versions=tuple(str(v) for v in vuln.get("fix_versions") or []),
                    description=" ".join(str(vuln.get("description") or "").split()),
                    assessment=match,
                )
            )
    silent = "pip-audit returned no result for it" if dependencies is not None else None
    for pin in pins:
        if (pin.name, _normal(pin.version)) not in answered:
            reason = silent or f"pip-audit could not run: {error or 'no output'}"
            not_audited.append(NotAudited(pin.name, pin.version, reason))
    used = {v.assessment for v in vulnerabilities if v.assessment is not None}
    return AuditReport(
        lock=lock,
        targets=tuple(str(t) for t in targets),
        service=service,
        tool=run.tool,
        generated_at=generated_at or datetime.now(UTC),
        audited=tuple(sorted(audited)),
        vulnerabilities=tuple(sorted(vulnerabilities, key=lambda v: (v.package, v.advisory))),
        not_audited=tuple(sorted(not_audited, key=lambda n: (n.package, n.version))),
        unmatched_assessments=tuple(a for a in assessments if a not in used),
    )


def _normal(version: str) -> str:
    """pip-audit prints normalised versions; a lock may not."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


# --- running pip-audit ------------------------------------------------------------------

PipAuditRunner = Callable[[Sequence[Pin], str], PipAuditRun]


def run_pip_audit(pins: Sequence[Pin], service: str) -> PipAuditRun:
    """Run pip-audit on exactly ``pins`` (hash-pinned, markers already applied).

    pip-audit evaluates a lock's markers for the machine it runs on; giving it the
    target's pins instead makes the audit the gateway's, wherever the build runs.
    """
    if importlib.util.find_spec("pip_audit") is None:
        raise AuditError("pip-audit is not installed: it is a wardlink-devkit dependency")
    tool = f"pip-audit {importlib.metadata.version('pip-audit')}"
    with tempfile.TemporaryDirectory(prefix="wardlink-audit-") as scratch:
        requirements = Path(scratch, "requirements.txt")
        output = Path(scratch, "pip-audit.json")
        requirements.write_text(
            "".join(
                f"{pin.name}=={pin.version}"
                + "".join(f" --hash=sha256:{digest}" for digest in pin.hashes)
                + "\n"
                for pin in pins
            ),
            encoding="utf-8",
        )
        command = [
            sys.executable, "-m", "pip_audit",
            "--requirement", str(requirements),
            "--require-hashes", "--disable-pip",
            "--vulnerability-service", service,
            "--format", "json", "--desc", "on", "--aliases", "on",
            "--progress-spinner", "off",
            "--output", str(output),
        ]  # fmt: skip
        try:
            finished = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
                command, capture_output=True, text=True, timeout=PIP_AUDIT_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            return PipAuditRun(None, f"no answer within {PIP_AUDIT_TIMEOUT_S} s", tool)
        # pip-audit exits 1 when it finds vulnerabilities and still writes its JSON.
        try:
            return PipAuditRun(json.loads(output.read_text(encoding="utf-8")), None, tool)
        except (OSError, ValueError):
            lines = [line for line in finished.stderr.splitlines() if line.strip()]
            reason = lines[-1].strip() if lines else f"exit status {finished.returncode}"
            return PipAuditRun(None, reason, tool)


def audit(
    lock: Path,
    assessments: Path = ASSESSMENTS_FILE,
    *,
    targets: Sequence[Target] = GATEWAY_TARGETS,
    service: str = "pypi",
    runner: PipAuditRunner = run_pip_audit,
) -> AuditReport:
    """Audit the pins of ``lock`` that ``targets`` install, judged against ``assessments``.

    ``service`` is pip-audit's ``--vulnerability-service`` (``pypi`` or ``osv``).
    Returns the report whatever it found; :func:`check_audit` decides the build.
    """
    recorded = load_assessments(assessments)
    pins = applicable_pins(lock, targets)
    return report_from_pip_audit(
        pins, runner(pins, service), recorded, lock=str(lock), service=service, targets=targets
    )


# --- writers ----------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_audit_json(report: AuditReport, path: Path) -> None:
    """Write the report as JSON, with its verdict and counts first."""
    body = asdict(report)
    document = {
        "verdict": report.verdict,
        "counts": {
            "audited": len(report.audited),
            "not_audited": len(report.not_audited),
            "vulnerabilities": len(report.vulnerabilities),
            "unassessed": len(report.unassessed),
        },
        **body,
    }
    path.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n", encoding="utf-8")


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def write_audit_markdown(report: AuditReport, path: Path) -> None:
    """Write the report for people: what fails first, what was not audited loudly."""
    total = len(report.audited) + len(report.not_audited)
    lines = [
        f"# Known vulnerabilities: {report.lock}",
        "",
        f"{total} pinned distributions for {', '.join(report.targets)}, checked with "
        f"{report.tool} against the `{report.service}` advisory service on "
        f"{report.generated_at.isoformat(timespec='seconds')}. Verdict: **{report.verdict}**.",
    ]
    if report.not_audited:
        lines += [
            "",
            f"> **NOT AUDITED: {len(report.not_audited)} of {total} distributions could not be "
            "checked.** This report says nothing about their known vulnerabilities; check them "
            "by another route before a release.",
        ]
    lines += ["", "## Vulnerabilities without an assessment (these fail the build)", ""]
    if report.unassessed:
        lines += _table(
            ("Package", "Version", "Advisory", "Aliases", "Fixed in", "Description"),
            (
                (v.package, v.version, v.advisory, ", ".join(v.aliases),
                 ", ".join(v.fix_versions) or "no fix", v.description)
                for v in report.unassessed
            ),
        )  # fmt: skip
    else:
        lines.append("None.")
    lines += ["", "## Assessed vulnerabilities", ""]
    if report.assessed:
        lines += _table(
            ("Package", "Version", "Advisory", "Fixed in", "Decision", "Assessment", "By", "Date"),
            (
                (v.package, v.version, v.advisory, ", ".join(v.fix_versions) or "no fix",
                 a.decision, a.assessment, a.by, a.date.isoformat())
                for v in report.assessed
                if (a := v.assessment) is not None
            ),
        )  # fmt: skip
    else:
        lines.append("None.")
    lines += ["", "## Not audited", ""]
    if report.not_audited:
        lines += _table(
            ("Package", "Version", "Why"),
            ((n.package, n.version, n.reason) for n in report.not_audited),
        )
    else:
        lines.append("None: every distribution was checked.")
    lines += ["", "## Audited", ""]
    lines.append(", ".join(f"`{name}`" for name in report.audited) or "None.")
    if report.unmatched_assessments:
        lines += ["", "## Assessments that matched nothing in this audit", ""]
        lines += _table(
            ("Package", "Advisory", "Decision", "Date"),
            (
                (a.package, a.advisory, a.decision, a.date.isoformat())
                for a in report.unmatched_assessments
            ),
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
