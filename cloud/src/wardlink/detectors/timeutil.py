"""Instants as integer epoch milliseconds, converted to ISO 8601 only at the edges.

The engine compares and adds times on every event, so it keeps them as ``int``
milliseconds (the unit of IoT Events' ``eventTime``); JSON state and replay output
carry ISO 8601 strings in UTC so that people and DynamoDB consoles can read them.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso_ms(text: str) -> int:
    """Parse an ISO 8601 instant (``Z`` or an offset required) to epoch milliseconds."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"expected an ISO 8601 timestamp, got {text!r}")
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone; add 'Z' or an offset")
    return round(value.timestamp() * 1000)


def format_iso_ms_fixed(epoch_ms: int) -> str:
    """Like ``format_iso_ms`` but always with milliseconds, so strings sort by time.

    Used for stored sort keys (Alarms ``last_change``, AlarmAudit ``at_seq``).
    """
    seconds, millis = divmod(int(epoch_ms), 1000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z"


def format_iso_ms(epoch_ms: int) -> str:
    """Format epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS[.mmm]Z`` (UTC)."""
    seconds, millis = divmod(int(epoch_ms), 1000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"
