"""The shipped detector models, packaged with ``wardlink`` so that an installed wheel has them.

``cloud/detectors/`` is where the models are edited, and what the CDK app ships as
the engine's Lambda layer. This directory is a byte-identical copy of it, because a
wheel cannot reach the repository's ``cloud/`` tree and ``wardlink cloud local``
must run the very models the cloud runs. ``tests/localcloud/test_catalog_copy.py``
fails as soon as the two differ; refresh the copy with

    cp -r cloud/detectors/. components/wardlink/detectors/catalog/

The JSON files are package data (``pyproject.toml``: ``**/*.json``).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def models_dir() -> Path:
    """Directory of the CreateDetectorModel requests; ``inputs/`` holds the CreateInput ones."""
    return _HERE


__all__ = ["models_dir"]
