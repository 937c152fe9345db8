"""Fetch the IoT Events API description from an older botocore release, once, into a cache.

botocore dropped ``iotevents`` after the service ended, but releases up to the
1.35/1.38 lines still carry ``botocore/data/iotevents/2018-07-27/service-2.json``
(gzip-compressed in recent wheels). We download that wheel with pip from PyPI
into ``~/.cache/wardlink/botocore`` and extract the JSON; AWS's file is never
committed to this repository.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

IOTEVENTS_BOTOCORE_VERSION = "1.35.99"
_MEMBER = "botocore/data/iotevents/2018-07-27/service-2.json"


class ShapeUnavailableError(RuntimeError):
    """The API description could not be obtained (no cache and no PyPI access)."""


def cache_dir() -> Path:
    """``$WARDLINK_CACHE_DIR`` or ``~/.cache/wardlink``, plus ``botocore``."""
    base = os.environ.get("WARDLINK_CACHE_DIR") or str(Path.home() / ".cache" / "wardlink")
    return Path(base) / "botocore"


def load_iotevents_service(
    version: str = IOTEVENTS_BOTOCORE_VERSION, directory: Path | None = None
) -> dict[str, Any]:
    """The parsed service-2.json of IoT Events from botocore ``version``."""
    directory = directory or cache_dir()
    extracted = directory / f"iotevents-2018-07-27-service-2.botocore-{version}.json"
    if extracted.is_file():
        data: dict[str, Any] = json.loads(extracted.read_text(encoding="utf-8"))
        return data
    wheel = _find_wheel(directory, version) or _download_wheel(directory, version)
    data = _extract(wheel)
    extracted.parent.mkdir(parents=True, exist_ok=True)
    tmp = extracted.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(extracted)
    return data


def _find_wheel(directory: Path, version: str) -> Path | None:
    matches = sorted(directory.glob(f"botocore-{version}-*.whl")) if directory.is_dir() else []
    return matches[0] if matches else None


def _download_wheel(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", f"botocore=={version}",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q",
        "-d", str(directory),
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)  # noqa: S603
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise ShapeUnavailableError(
            f"could not download botocore=={version} to {directory}: {detail.strip()[-500:]}"
        ) from exc
    wheel = _find_wheel(directory, version)
    if wheel is None:
        raise ShapeUnavailableError(
            f"pip reported success but no botocore {version} wheel is in {directory}"
        )
    return wheel


def _extract(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        if _MEMBER in names:
            raw = archive.read(_MEMBER)
        elif _MEMBER + ".gz" in names:
            raw = gzip.decompress(archive.read(_MEMBER + ".gz"))
        else:
            raise ShapeUnavailableError(f"{wheel.name} has no {_MEMBER}; pick an older botocore")
    data: dict[str, Any] = json.loads(raw)
    return data
