"""``components/requirements.lock``: the gateway's third-party dependencies, pinned by hash.

The gateway installs exactly the files this lock names (``--require-hashes``), so
it is resolved once, universally (every Linux platform and CPython >= 3.11, with
environment markers), from the dependencies that core's and edge's
``pyproject.toml`` declare. ``uv pip compile`` does the resolution; it is a dev
kit dependency and talks to the same package index pip uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LOCK_FILE = Path("components") / "requirements.lock"
SOURCES = ("./core", "./components")
EXCLUDED = ("wardlink-core", "wardlink-edge")
MIN_PYTHON = "3.11"


class LockError(Exception):
    """The lock cannot be resolved; the message says why."""


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise LockError("uv is not installed (it is in the dev kit's test extra)")
    return found


def write_lock(repo_root: Path) -> Path:
    """Resolve and write the lock file; returns its path."""
    command = [
        _uv(), "pip", "compile", "-", "--universal", "--generate-hashes",
        "--python-version", MIN_PYTHON, "--custom-compile-command", "wardlink components lock",
        "--quiet", "-o", str(LOCK_FILE),
    ]  # fmt: skip
    for name in EXCLUDED:
        command += ["--no-emit-package", name]
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        command,
        input="\n".join(SOURCES) + "\n",
        capture_output=True,
        text=True,
        check=False,
        cwd=repo_root,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    if done.returncode != 0:
        raise LockError((done.stderr.strip() or done.stdout.strip())[-3000:])
    return repo_root / LOCK_FILE
