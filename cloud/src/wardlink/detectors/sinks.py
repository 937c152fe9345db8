"""Where rendered external actions go.

``ActionSink`` is the seam for AWS delivery. An adapter dispatches on
``action.kind`` and reads ``action.target`` (the action's resolved fields) and
``action.payload_text()``:

- ``sns``: ``target["targetArn"]`` -> SNS Publish(Message=payload_text)
- ``sqs``: ``target["queueUrl"]``, ``target.get("useBase64")`` -> SendMessage
- ``lambda``: ``target["functionArn"]`` -> Invoke(InvocationType="Event")
- ``iotTopicPublish``: ``target["mqttTopic"]`` -> iot-data Publish
- ``dynamoDBv2``: ``target["tableName"]``, payload is a JSON object -> PutItem (one
  attribute per top-level member)
- ``dynamoDB``: hashKey*/rangeKey*/operation/payloadField/tableName -> PutItem/...

``action.action_execution_id`` is deterministic for a given evaluation, so an
adapter can use it as an idempotency key when the engine retries.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Protocol

from wardlink.detectors.actions import RenderedAction


class ActionSink(Protocol):
    def deliver(self, action: RenderedAction) -> None:
        """Deliver one action. Raise to signal failure; the engine does not swallow it."""
        ...


class CollectingSink:
    """Keeps every delivered action in order (tests, local runs)."""

    def __init__(self) -> None:
        self.actions: list[RenderedAction] = []

    def deliver(self, action: RenderedAction) -> None:
        self.actions.append(action)

    def of_kind(self, kind: str) -> list[RenderedAction]:
        return [action for action in self.actions if action.kind == kind]


class JsonLinesSink:
    """Prints each action as one JSON line (for ``wardlink cloud local`` style demos)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout

    def deliver(self, action: RenderedAction) -> None:
        record: dict[str, Any] = {
            "model": action.detector_model,
            "key": action.key,
            "action": action.kind,
            "target": dict(action.target),
            "payload": action.payload,
        }
        if action.error:
            record["error"] = action.error
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()


class NullSink:
    """Discards actions (benchmarks)."""

    def deliver(self, action: RenderedAction) -> None:
        return None
