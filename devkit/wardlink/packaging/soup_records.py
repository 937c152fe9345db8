"""The build records of one component: SOUP list, CycloneDX SBOM and vulnerability report.

IEC 62304 asks that every item of SOUP a device ships be named with its supplier
and version and why it is used, and regulators ask for an SBOM; both must describe
the files that actually ship, so they are made from the built wheelhouses (every
platform and Python of the component's archives) checked against the lock. The
vulnerability report judges the same pins against the committed assessments.

The build fails (:class:`RecordsError`) when a dependency has no recorded purpose,
a shipped wheel is not the one the lock pins, or a known vulnerability has no
recorded assessment. A package the advisory source could not answer for is listed
as not audited in the report and passes, unless ``strict`` (a release build).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from wardlink.packaging import audit, soup


class RecordsError(Exception):
    """A record cannot be written, or it shows something the build must refuse."""


def _all_wheels(wheelhouses: Mapping[str, Path], into: Path) -> Path:
    """One directory with every third-party wheel of every platform and Python."""
    for house in wheelhouses.values():
        for wheel in sorted(house.glob("cp3*/*.whl")):
            if not (into / wheel.name).exists():
                shutil.copy2(wheel, into / wheel.name)
    return into


def write_component_records(
    *,
    component: str,
    version: str,
    lock: Path,
    wheelhouses: Mapping[str, Path],
    out_dir: Path,
    strict: bool = False,
) -> tuple[Path, ...]:
    """Write ``soup.md``, ``sbom.cdx.json`` and ``vulnerabilities.{json,md}``.

    They go to ``out_dir/<component>/``; returns their paths.
    """
    target = out_dir / component
    target.mkdir(parents=True, exist_ok=True)
    paths = {
        "soup": target / "soup.md",
        "sbom": target / "sbom.cdx.json",
        "audit_json": target / "vulnerabilities.json",
        "audit_md": target / "vulnerabilities.md",
    }
    try:
        with tempfile.TemporaryDirectory(prefix="wardlink-soup-") as scratch:
            wheels = _all_wheels(wheelhouses, Path(scratch)) if wheelhouses else None
            items = soup.soup_items(lock, part="edge", wheels_dir=wheels)
        write = soup.write_soup_markdown
        write(items, paths["soup"], title=f"SOUP list: {component} {version}")
        soup.write_cyclonedx(items, paths["sbom"], component, version)
        report = audit.audit(lock)
        audit.write_audit_json(report, paths["audit_json"])
        audit.write_audit_markdown(report, paths["audit_md"])
        audit.check_audit(report, strict=strict)
    except (soup.SoupError, audit.AuditError) as exc:
        raise RecordsError(f"{component}: {exc}") from exc
    return tuple(paths.values())
