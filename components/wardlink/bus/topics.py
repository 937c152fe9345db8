"""MQTT topic-filter matching, shared by every piece that routes by topic.

The edge bus's in-process pub/sub, the nucleus emulator's local pub/sub and IoT
Core bridge, and the embedded broker all match filters the same way, so they use
this one function (MQTT 5.0, 4.7: ``+`` is one level, ``#`` the rest; filters that
start with a wildcard never match ``$`` topics).
"""

from __future__ import annotations


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether the concrete ``topic`` matches ``topic_filter``."""
    filter_levels = topic_filter.split("/")
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels) or (level != "+" and level != topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)
