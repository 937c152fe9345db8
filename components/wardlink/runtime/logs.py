"""Structured logging for components: one JSON object per line, PHI-scrubbed.

Greengrass captures a component's stdout/stderr into its log file, and LogManager
may ship that file to CloudWatch, so every line is treated as leaving the premises:
the PHI log filter from ``wardlink.phi.logfilter`` is installed before the first
record is emitted. It withholds what third-party loggers on the device path pass
as arguments, removes the values of the patient contexts the process holds, and
keeps device paths, codec names and broker addresses readable for technicians
(``keep`` adds the site's own, such as a broker host without a port).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Render a record and its ``extra`` fields as one JSON line."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": self.component,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = (
                    value if isinstance(value, int | float | bool | type(None)) else str(value)
                )
        if record.exc_info and record.exc_info[0] is not None:
            # the filter leaves the scrubbed traceback in exc_text
            doc["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(
    component: str, level: str = "INFO", stream: Any = None, keep: Iterable[str] = ()
) -> None:
    """Send JSON logs to stderr (Greengrass captures it) through the PHI filter.

    ``keep`` names operational terms from the site configuration that must stay
    readable (``wardlink.phi.logfilter.keep_readable``). The CRT's own loggers stay
    at WARNING whatever ``level`` says: at DEBUG they trace every packet.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(component))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("awscrt").setLevel(logging.WARNING)
    from wardlink.phi.logfilter import install_log_filter, keep_readable

    keep_readable(*keep)
    install_log_filter()
