"""The vulnerability audit's decisions, fed pip-audit's JSON from a fixture (no network)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.support import DATA, GATEWAY_LOCK, Entry, write_lock
from wardlink.packaging.audit import (
    ASSESSMENTS_FILE,
    Assessment,
    AuditError,
    AuditFailedError,
    AuditReport,
    PipAuditRun,
    audit,
    check_audit,
    load_assessments,
    report_from_pip_audit,
    write_audit_json,
    write_audit_markdown,
)
from wardlink.packaging.soup import Pin, applicable_pins

FAKE = "ab" * 32
PINS = (
    Pin("hl7", "0.4.5", None, (FAKE,)),
    Pin("pyserial", "3.5", None, (FAKE,)),
    Pin("six", "1.17.00", None, (FAKE,)),  # not normalised: pip-audit says 1.17.0
    Pin("urllib3", "2.8.0", None, (FAKE,)),
)
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _pip_audit_output() -> dict[str, Any]:
    output: dict[str, Any] = json.loads((DATA / "pip-audit-report.json").read_text("utf-8"))
    return output


def _report(assessments: Sequence[Assessment] = (), run: PipAuditRun | None = None) -> AuditReport:
    return report_from_pip_audit(
        PINS,
        run or PipAuditRun(_pip_audit_output(), None, "pip-audit 2.10.1"),
        assessments,
        lock="components/requirements.lock",
        service="pypi",
        generated_at=WHEN,
    )


def _assessment(package: str = "urllib3", advisory: str = "CVE-2099-00001") -> Assessment:
    return Assessment(
        package=package,
        advisory=advisory,
        decision="not-affected",
        assessment="The cloud API client turns redirects off, so the header never leaks.",
        by="A. Reviewer (software safety)",
        date=date(2026, 2, 27),
    )


def _written(report: AuditReport, tmp_path: Path) -> tuple[dict[str, Any], str]:
    write_audit_json(report, tmp_path / "audit.json")
    write_audit_markdown(report, tmp_path / "audit.md")
    document: dict[str, Any] = json.loads((tmp_path / "audit.json").read_text("utf-8"))
    return document, (tmp_path / "audit.md").read_text("utf-8")


def test_a_vulnerability_without_an_assessment_fails_the_build(tmp_path: Path) -> None:
    report = _report()
    (finding,) = report.unassessed
    assert (finding.package, finding.version, finding.advisory) == (
        "urllib3",
        "2.8.0",
        "GHSA-wl00-test-0001",
    )
    assert finding.fix_versions == ("2.8.1",)
    assert report.verdict == "fail"
    with pytest.raises(AuditFailedError) as raised:
        check_audit(report)
    assert raised.value.failures == (
        "urllib3==2.8.0: GHSA-wl00-test-0001 (CVE-2099-00001, PYSEC-2099-1) has no assessment "
        "in vulnerability-assessments.yaml",
    )
    document, markdown = _written(report, tmp_path)
    assert document["verdict"] == "fail"
    assert document["counts"]["unassessed"] == 1
    assert "these fail the build" in markdown
    assert "| urllib3 | 2.8.0 | GHSA-wl00-test-0001 |" in markdown


def test_an_assessed_vulnerability_passes_and_is_reported(tmp_path: Path) -> None:
    # Recorded under an alias (the CVE), matched through pip-audit's aliases.
    report = _report([_assessment()])
    assert report.unassessed == ()
    (finding,) = report.assessed
    assert finding.assessment == _assessment()
    check_audit(report)
    document, markdown = _written(report, tmp_path)
    assert document["vulnerabilities"][0]["assessment"]["decision"] == "not-affected"
    assert document["vulnerabilities"][0]["assessment"]["date"] == "2026-02-27"
    assert "turns redirects off" in markdown
    assert "A. Reviewer (software safety)" in markdown


def test_an_assessment_of_another_package_does_not_cover_the_finding() -> None:
    report = _report([_assessment(package="requests")])
    assert len(report.unassessed) == 1
    assert report.unmatched_assessments == (_assessment(package="requests"),)


def test_an_unauditable_package_is_listed_loudly_and_fails_only_when_strict(
    tmp_path: Path,
) -> None:
    report = _report([_assessment()])
    not_audited = {n.package: n.reason for n in report.not_audited}
    assert not_audited == {
        "hl7": "Dependency not found on PyPI and could not be audited: hl7 (0.4.5)",
        "pyserial": "pip-audit returned no result for it",
    }
    assert report.audited == ("six==1.17.0", "urllib3==2.8.0")
    assert report.verdict == "incomplete"
    check_audit(report)  # a development build goes on
    with pytest.raises(AuditFailedError) as raised:
        check_audit(report, strict=True)
    assert len(raised.value.failures) == 2
    document, markdown = _written(report, tmp_path)
    assert document["counts"] == {
        "audited": 2,
        "not_audited": 2,
        "vulnerabilities": 1,
        "unassessed": 0,
    }
    assert "**NOT AUDITED: 2 of 4 distributions could not be checked.**" in markdown


def test_when_pip_audit_cannot_run_every_pin_is_not_audited() -> None:
    report = _report(run=PipAuditRun(None, "ConnectionError: cannot resolve api.osv.dev"))
    assert [n.package for n in report.not_audited] == [pin.name for pin in PINS]
    assert {n.reason for n in report.not_audited} == {
        "pip-audit could not run: ConnectionError: cannot resolve api.osv.dev"
    }
    assert report.audited == ()
    assert report.vulnerabilities == ()
    check_audit(report)
    with pytest.raises(AuditFailedError):
        check_audit(report, strict=True)


def test_audit_gives_pip_audit_the_targets_pins_only(tmp_path: Path) -> None:
    seen: list[tuple[Sequence[Pin], str]] = []

    def runner(pins: Sequence[Pin], service: str) -> PipAuditRun:
        seen.append((pins, service))
        return PipAuditRun(_pip_audit_output(), None, "fake pip-audit")

    report = audit(GATEWAY_LOCK, ASSESSMENTS_FILE, service="osv", runner=runner)
    ((pins, service),) = seen
    assert service == "osv"
    assert list(pins) == applicable_pins(GATEWAY_LOCK)
    assert not any(pin.name.startswith(("pyobjc", "winrt")) for pin in pins)
    assert report.tool == "fake pip-audit"
    assert report.service == "osv"
    assert len(report.audited) + len(report.not_audited) == len(pins)


def test_the_committed_assessments_file_loads() -> None:
    for assessment in load_assessments(ASSESSMENTS_FILE):
        assert assessment.assessment


def test_malformed_assessments_are_refused_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "assessments.yaml"
    path.write_text(
        """
assessments:
  - {package: urllib3, advisory: CVE-1, decision: fine, assessment: x, by: me, date: 2026-01-01}
  - {package: six, advisory: CVE-2, decision: mitigated, assessment: '', by: me, date: 2026-01-01}
  - {package: six, advisory: CVE-3, decision: mitigated, assessment: x, by: me, date: soon}
  - {package: six, advisory: CVE-4, decision: mitigated, assessment: x, by: me, date: 2026-01-01}
  - {package: Six, advisory: cve-4, decision: mitigated, assessment: x, by: me, date: 2026-01-02}
""",
        encoding="utf-8",
    )
    with pytest.raises(AuditError) as raised:
        load_assessments(path)
    message = str(raised.value)
    assert "entry 1: decision 'fine'" in message
    assert "entry 2: assessment must be non-empty" in message
    assert "entry 3: date must be YYYY-MM-DD" in message
    assert "entry 5: a second assessment of cve-4 for six" in message
    assert "entry 4" not in message


@pytest.mark.skipif(importlib.util.find_spec("pip_audit") is None, reason="pip-audit not installed")
def test_the_real_pip_audit_produces_a_report_for_the_real_lock(tmp_path: Path) -> None:
    # Optional, and it may reach PyPI. Wherever the advisory source is unreachable the
    # report says "not audited"; only that a complete report is produced is asserted.
    report = audit(GATEWAY_LOCK)
    pins = applicable_pins(GATEWAY_LOCK)
    covered = {name.split("==")[0] for name in report.audited}
    covered |= {n.package for n in report.not_audited}
    assert covered == {pin.name for pin in pins}
    assert report.tool.startswith("pip-audit ")
    document, markdown = _written(report, tmp_path)
    assert document["verdict"] in {"pass", "incomplete", "fail"}
    assert markdown.startswith("# Known vulnerabilities")


def test_a_lock_of_fixture_pins_round_trips_through_audit(tmp_path: Path) -> None:
    lock = write_lock(
        tmp_path / "requirements.lock",
        [
            Entry("urllib3", "2.8.0", [FAKE]),
            Entry("six", "1.17.0", [FAKE], "sys_platform == 'win32'"),
        ],
    )
    assessments = tmp_path / "assessments.yaml"
    assessments.write_text(
        "assessments:\n"
        "  - package: urllib3\n"
        "    advisory: GHSA-wl00-test-0001\n"
        "    decision: mitigated\n"
        "    assessment: Redirects are off in every client Wardlink builds.\n"
        "    by: A. Reviewer\n"
        "    date: 2026-02-27\n",
        encoding="utf-8",
    )
    report = audit(
        lock,
        assessments,
        runner=lambda pins, service: PipAuditRun(_pip_audit_output(), None),
    )
    assert [v.assessment.decision for v in report.vulnerabilities if v.assessment] == ["mitigated"]
    assert report.not_audited == ()  # six is Windows-only: not the gateway's
    assert report.verdict == "pass"
    check_audit(report, strict=True)
