"""Checks for detector-model and input request files.

Three layers, each catching what the previous cannot:

1. the published API request shape (``CreateDetectorModel``/``CreateInput`` from
   botocore's IoT Events description): required members, types, lengths, enums;
2. loading with the engine: expressions parse, states and timers resolve, quotas;
3. cross-file references: every ``$input.X.path`` and the model ``key`` refer to an
   attribute that input ``X`` declares.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wardlink.detectors.errors import DetectorModelError
from wardlink.detectors.model import DetectorModel, KeyPath
from wardlink.detectors.validation.botocore_source import (
    IOTEVENTS_BOTOCORE_VERSION,
    ShapeUnavailableError,
    load_iotevents_service,
)
from wardlink.detectors.validation.shapes import ShapeProblem, ShapeValidator

__all__ = [
    "IOTEVENTS_BOTOCORE_VERSION",
    "FileReport",
    "ShapeProblem",
    "ShapeUnavailableError",
    "ShapeValidator",
    "check_input_references",
    "load_iotevents_service",
    "validate_files",
]


@dataclass(slots=True)
class FileReport:
    path: str
    kind: str  # "detector-model", "input" or "unknown"
    problems: list[str] = field(default_factory=list)
    model: DetectorModel | None = None
    request: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_files(paths: Iterable[str | Path], shapes: ShapeValidator | None) -> list[FileReport]:
    """Validate each file; with ``shapes`` None the API shape layer is skipped."""
    reports = [_validate_file(Path(path), shapes) for path in paths]
    inputs = {
        str(report.request.get("inputName")): report.request
        for report in reports
        if report.kind == "input" and report.request is not None
    }
    if inputs:
        for report in reports:
            if report.model is not None:
                report.problems.extend(check_input_references(report.model, inputs))
    return reports


def _validate_file(path: Path, shapes: ShapeValidator | None) -> FileReport:
    try:
        request = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return FileReport(str(path), "unknown", [f"cannot read JSON: {exc}"])
    if not isinstance(request, dict):
        return FileReport(str(path), "unknown", ["top level must be a JSON object"])
    if "detectorModelDefinition" in request:
        report = FileReport(str(path), "detector-model", request=request)
        if shapes is not None:
            report.problems.extend(
                str(p) for p in shapes.validate_input("CreateDetectorModel", request)
            )
        try:
            report.model = DetectorModel.from_request(request)
        except DetectorModelError as exc:
            report.problems.extend(exc.problems)
        return report
    if "inputDefinition" in request:
        report = FileReport(str(path), "input", request=request)
        if shapes is not None:
            report.problems.extend(str(p) for p in shapes.validate_input("CreateInput", request))
        return report
    return FileReport(
        str(path),
        "unknown",
        ["neither a CreateDetectorModel (detectorModelDefinition) nor a CreateInput request"],
    )


def check_input_references(
    model: DetectorModel, inputs: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Problems where the model reads an input or attribute that no input declares."""
    problems: list[str] = []
    declared: dict[str, list[tuple[str, ...]]] = {}
    for name, request in inputs.items():
        attributes = request.get("inputDefinition", {}).get("attributes", [])
        paths = []
        for attribute in attributes:
            try:
                paths.append(KeyPath.parse(str(attribute.get("jsonPath"))).segments)
            except ValueError:
                continue
        declared[name] = paths
    for name in sorted(model.inputs):
        if name not in declared:
            problems.append(f"model uses input {name!r}, which no input file defines")
            continue
        if model.key is not None and model.key.segments not in declared[name]:
            problems.append(f"input {name!r} does not declare the model key {model.key.source!r}")
    for expression in model.expressions:
        for name, path in expression.input_paths:
            if name not in declared:
                continue
            fields = tuple(segment for segment in path if isinstance(segment, str))
            if not path or not any(fields[: len(attr)] == attr for attr in declared[name]):
                dotted = ".".join(str(s) for s in path) or "<whole payload>"
                problems.append(
                    f"$input.{name}.{dotted} is not under any attribute input {name!r} declares"
                )
    return sorted(set(problems))
