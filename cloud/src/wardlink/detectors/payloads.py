"""Rendering of action payloads: the IoT Events default payload and content expressions.

Without a ``payload``, IoT Events sends a standard JSON document describing the
detector instance and the event. Its shape here follows the examples in the IoT
Events developer guide (the over-pressure motor example's SNS messages)::

    {"eventTime": <epoch ms>,
     "payload": {"actionExecutionId": "<uuid>",
                 "detector": {"detectorModelName": .., "keyValue": ..,
                              "detectorModelVersion": "1"},
                 "eventTriggerDetails": {"inputName": .., "messageId": ..,
                                         "triggerType": "Message"},
                 "state": {"stateName": .., "variables": {..}, "timers": {..}}},
     "eventName": ..}

``keyValue`` is left out for models without a key. For a timer trigger,
``eventTriggerDetails`` is ``{"timerName": .., "triggerType": "Timer"}`` and
``timers`` maps each active timer to its ISO due time (both inferred: the guide
shows neither).
"""

from __future__ import annotations

import json
from typing import Any

from wardlink.detectors.actions import PayloadSpec, PayloadType, TriggerDetails
from wardlink.detectors.expressions import UNDEFINED, EvalContext, to_text, type_name
from wardlink.detectors.instance import DetectorInstance
from wardlink.detectors.timeutil import format_iso_ms


def default_payload(
    *,
    model_name: str,
    model_version: str,
    key: str | None,
    instance: DetectorInstance,
    event_name: str,
    trigger: TriggerDetails,
    time_ms: int,
    execution_id: str,
) -> dict[str, Any]:
    detector: dict[str, Any] = {"detectorModelName": model_name}
    if key is not None:
        detector["keyValue"] = key
    detector["detectorModelVersion"] = model_version
    return {
        "eventTime": time_ms,
        "payload": {
            "actionExecutionId": execution_id,
            "detector": detector,
            "eventTriggerDetails": trigger.to_json(),
            "state": {
                "stateName": instance.state_name,
                "variables": dict(instance.variables),
                "timers": {name: format_iso_ms(due) for name, due in instance.timers.items()},
            },
        },
        "eventName": event_name,
    }


class PayloadRenderError(ValueError):
    """A content expression that did not produce a payload of its declared type."""


def render_content(spec: PayloadSpec, context: EvalContext) -> tuple[Any, PayloadType]:
    """Evaluate a custom payload.

    STRING: the expression's value as text. JSON: the expression must give a
    string holding a JSON document (as IoT Events requires); a reference to a JSON
    object or array is accepted as it is.
    """
    value = spec.content(context)
    if value is UNDEFINED:
        raise PayloadRenderError(
            f"contentExpression {spec.content.source!r} evaluated to undefined"
        )
    if spec.type == "STRING":
        text = to_text(value)
        if text is None:  # pragma: no cover - every defined value has a text form
            raise PayloadRenderError(f"cannot render {type_name(value)} as text")
        return text, "STRING"
    if type(value) is dict or type(value) is list:
        return value, "JSON"
    if type(value) is not str:
        raise PayloadRenderError(
            f"JSON payload must evaluate to a string holding JSON, got {type_name(value)}"
        )
    try:
        return json.loads(value), "JSON"
    except json.JSONDecodeError as exc:
        raise PayloadRenderError(
            f"JSON payload is not valid JSON ({exc}): {value[:200]!r}"
        ) from exc
