"""The scrubbed log tail and the redacted diagnostics bundle a technician hands to support.

Support needs configuration, versions, health, counters and recent logs to help
a site; it must never receive keys, tokens, passwords, stream credentials or
patient data. So the bundle is built from an allow-list of sources: the
configuration with every value whose key names a secret removed, the published
(already sealed) state of the site, package versions, and log lines that passed
the PHI log filter when they were written and are scrubbed again here. Before
it is handed out, the bundle is checked for the secrets this process knows
(``forbidden``): if one is found, nothing is handed out (fail closed).
"""

from __future__ import annotations

import io
import json
import logging
import platform
import re
import time
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from wardlink.ui.site_view import SiteView

_SECRET_KEY = re.compile(
    r"(pass(word|phrase)?|secret|token|credential|private|api[_-]?key|^key$|_key$|Key$|hmac|auth)",
    re.IGNORECASE,
)
REMOVED = "<removed>"
LOG_LINES = 2000
_DISTRIBUTIONS = (
    "wardlink-core",
    "wardlink-edge",
    "awsiotsdk",
    "awscrt",
    "pydantic",
    "pyserial",
    "bleak",
    "starlette",
    "uvicorn",
    "jinja2",
    "argon2-cffi",
    "cryptography",
)


class BundleRefused(RuntimeError):
    """The bundle would have carried a secret; it is not handed out."""


@lru_cache(maxsize=1)
def _scrubber() -> Any:
    from wardlink.phi.scrubber import Scrubber

    return Scrubber()


def scrub_line(line: str) -> str:
    """A log line scrubbed once more (it was scrubbed when it was written)."""
    try:
        return str(_scrubber().scrub(line))
    except Exception:  # no lexicon: withhold rather than show
        return "<log line withheld>"


class LogRing(logging.Handler):
    """Keeps the last log lines of this process, as the JSON formatter wrote them."""

    def __init__(self, size: int = LOG_LINES) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[str] = deque(maxlen=size)
        from wardlink.runtime.logs import JsonFormatter

        self.setFormatter(JsonFormatter("com.wardlink.GatewayUI"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)


def log_tail(ring: LogRing | None, files: Iterable[Path], limit: int, query: str = "") -> list[str]:
    """The last ``limit`` lines matching ``query`` (case-insensitive), scrubbed."""
    lines: list[str] = list(ring.lines) if ring is not None else []
    for path in files:
        try:
            with path.open("rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - 256 * 1024))
                lines += handle.read().decode("utf-8", "replace").splitlines()[1:]
        except OSError:
            continue
    needle = query.lower()
    chosen = [line for line in lines if needle in line.lower()][-limit:]
    return [scrub_line(line) for line in chosen]


def redact_config(value: Any, key: str = "") -> Any:
    """The configuration with every value under a secret-looking key removed."""
    if key and _SECRET_KEY.search(key):
        return REMOVED
    if isinstance(value, dict):
        return {str(k): redact_config(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_config(v) for v in value]
    if isinstance(value, str) and re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", value):
        return REMOVED
    return value


def versions() -> dict[str, str]:
    # Imported here, when a bundle is made: importlib.metadata (email, csv, zipfile with
    # it) would otherwise stay resident in the UI for a page that is rarely opened.
    from importlib import metadata

    found = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for name in _DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def health(view: SiteView) -> dict[str, Any]:
    return {
        "site": view.site,
        "devices": {
            device_id: {
                "state": device.state,
                "why": device.why(),
                "counters": device.info.get("counters"),
                "fault": device.info.get("fault"),
                "metrics": sorted(device.metrics),
            }
            for device_id, device in sorted(view.devices.items())
        },
    }


def build_bundle(
    config: dict[str, Any],
    view: SiteView,
    logs: list[str],
    forbidden: Iterable[bytes] = (),
) -> bytes:
    """The zip support receives; ``BundleRefused`` if a known secret would be in it."""
    members = {
        "README.txt": (
            "Wardlink gateway diagnostics. Redacted: no keys, tokens, passwords or patient data.\n"
        ),
        "config.json": json.dumps(redact_config(config), indent=1, default=str),
        "versions.json": json.dumps(versions(), indent=1),
        "health.json": json.dumps(health(view), indent=1, default=str),
        "logs.jsonl": "\n".join(logs) + "\n",
    }
    blob = "\n".join(members.values()).encode()
    for secret in forbidden:
        if secret and (secret in blob or secret.hex().encode() in blob):
            raise BundleRefused("a secret would have left in the diagnostics bundle")
    import zipfile  # only when a bundle is made (see versions)

    buffer = io.BytesIO()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), text)
    return buffer.getvalue()
