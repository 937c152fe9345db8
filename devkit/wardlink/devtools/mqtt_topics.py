"""Topic names, topic filters and the AWS IoT Core limits on them.

The embedded broker stands in for IoT Core, so it applies IoT Core's topic
limits (256 UTF-8 bytes, at most 7 slashes, not counting the ``$aws/rules/<rule>/``
prefix of Basic Ingest) instead of the much looser MQTT ones: a topic the gateway
could publish here but not to IoT Core would be a bug found too late.
"""

from __future__ import annotations

_BASIC_INGEST_PREFIX = "$aws/rules/"


def _slashes(topic: str) -> int:
    count = topic.count("/")
    if topic.startswith(_BASIC_INGEST_PREFIX):
        count -= min(count, 3)
    return count


def topic_name_problem(topic: str, max_bytes: int = 256, max_slashes: int = 7) -> str | None:
    """Why ``topic`` cannot be published to, or None if it is acceptable."""
    if not topic:
        return "empty topic"
    if "+" in topic or "#" in topic:
        return "wildcard in topic name"
    if len(topic.encode("utf-8")) > max_bytes:
        return f"topic longer than {max_bytes} bytes"
    if _slashes(topic) > max_slashes:
        return f"topic has more than {max_slashes} slashes"
    return None


def topic_filter_problem(
    topic_filter: str, max_bytes: int = 256, max_slashes: int = 7
) -> str | None:
    """Why ``topic_filter`` cannot be subscribed to, or None if it is acceptable."""
    if not topic_filter:
        return "empty topic filter"
    if len(topic_filter.encode("utf-8")) > max_bytes:
        return f"topic filter longer than {max_bytes} bytes"
    if _slashes(topic_filter) > max_slashes:
        return f"topic filter has more than {max_slashes} slashes"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole, last level"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None
