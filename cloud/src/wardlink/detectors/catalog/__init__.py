"""The shipped detector models: the one copy, packaged so an installed wheel has them.

This directory is where the models are edited. The CDK app ships it as the
engine's Lambda layer (``wardlink_infra.detectors``), the Lambda code asset carries
it inside the package, and ``wardlink cloud local`` runs the very same files. The
JSON files are package data (``cloud/pyproject.toml``).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def models_dir() -> Path:
    """Directory of the CreateDetectorModel requests; ``inputs/`` holds the CreateInput ones."""
    return _HERE


__all__ = ["models_dir"]
