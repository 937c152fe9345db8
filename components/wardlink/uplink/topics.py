"""The MQTT topic scheme, checked against AWS IoT Core's topic limits.

    wardlink/v1/{gateway_id}/telemetry   observations (routine)
    wardlink/v1/{gateway_id}/status      device status: connectivity, battery, error codes
    wardlink/v1/{gateway_id}/alert       device alerts (highest priority)
    wardlink/v1/{gateway_id}/health      gateway heartbeat and health

The gateway id is the Greengrass thing name, so the IoT policy can scope every
gateway to its own topics with ``${iot:Connection.Thing.ThingName}``. IoT Core
allows at most 7 forward slashes and 256 bytes per topic; we use 3.
"""

from __future__ import annotations

import re

from wardlink.model import RecordKind

PREFIX = "wardlink/v1"
MAX_TOPIC_BYTES = 256
MAX_TOPIC_SLASHES = 7
_THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")  # IoT thing name alphabet


def uplink_topic(gateway_id: str, kind: RecordKind) -> str:
    if not _THING_NAME.match(gateway_id):
        raise ValueError(f"gateway id {gateway_id!r} is not a valid IoT thing name")
    topic = f"{PREFIX}/{gateway_id}/{kind.value}"
    check_topic(topic)
    return topic


def check_topic(topic: str) -> None:
    if len(topic.encode()) > MAX_TOPIC_BYTES:
        raise ValueError(f"topic longer than {MAX_TOPIC_BYTES} bytes: {topic!r}")
    if topic.count("/") > MAX_TOPIC_SLASHES:
        raise ValueError(f"topic has more than {MAX_TOPIC_SLASHES} slashes: {topic!r}")
