"""The directories the CDK app ships as Lambda assets, staged from the source tree.

The Lambda code is the ``wardlink`` namespace as the cloud sees it: core and cloud
only, never the edge or the development kit, so a function cannot import gateway
code or simulators even by accident, and the asset does not change when they do.
Both parts live in separate source roots (``core/`` and ``cloud/src/``), and CDK
takes one directory per asset, so they are merged into a staging directory per
synthesis. CDK fingerprints assets by content, so staging anew does not change
the template.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CODE_ROOTS = (REPO_ROOT / "core", REPO_ROOT / "cloud" / "src")
CATALOG_DIR = REPO_ROOT / "cloud" / "src" / "wardlink" / "detectors" / "catalog"

# Only the importable package travels; caches, tests and build outputs do not.
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache", "*.egg-info",
    "tests", "*.sqlite3*", "py.typed",
)  # fmt: skip


@cache
def lambda_code_dir() -> Path:
    """A directory holding ``wardlink/`` merged from core and cloud."""
    for root in CODE_ROOTS:
        if not (root / "wardlink").is_dir():
            raise FileNotFoundError(f"Lambda code not found at {root / 'wardlink'}")
    staging = Path(tempfile.mkdtemp(prefix="wardlink-lambda-code-"))
    for root in CODE_ROOTS:
        shutil.copytree(root / "wardlink", staging / "wardlink", ignore=_IGNORE, dirs_exist_ok=True)
    return staging


@cache
def detector_layer_dir(models_dir: Path = CATALOG_DIR) -> Path:
    """A directory holding ``detectors/``: the catalog's JSON, mounted at /opt/detectors."""
    if not models_dir.is_dir():
        raise FileNotFoundError(f"detector models not found at {models_dir}")
    staging = Path(tempfile.mkdtemp(prefix="wardlink-detector-layer-"))
    shutil.copytree(
        models_dir, staging / "detectors", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return staging
