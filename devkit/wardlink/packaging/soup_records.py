"""The build records of one component: SOUP list, SBOM and vulnerability report (stub)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class RecordsError(Exception):
    """A record cannot be written, or it shows something the build must refuse."""


def write_component_records(
    *,
    component: str,
    version: str,
    lock: Path,
    wheelhouses: Mapping[str, Path],
    out_dir: Path,
) -> tuple[Path, ...]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return ()
