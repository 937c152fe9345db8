"""Action definitions (as loaded from a model) and rendered actions (as delivered).

Internal actions (setVariable, setTimer, resetTimer, clearTimer) change the
detector instance. Every other action is *external*: the engine renders its
fields and payload and hands a ``RenderedAction`` to an ``ActionSink``; it never
calls AWS itself, so the same code runs in Lambda and in a local replay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wardlink.detectors.expressions import (
    UNDEFINED,
    CompiledExpression,
    EvalContext,
    compile_expression,
    compile_template_text,
    to_text,
)

EXTERNAL_ACTION_KINDS = (
    "sns",
    "iotTopicPublish",
    "lambda",
    "sqs",
    "dynamoDBv2",
    "dynamoDB",
    "iotEvents",
    "firehose",
    "iotSiteWise",
)
INTERNAL_ACTION_KINDS = ("setVariable", "setTimer", "resetTimer", "clearTimer")
ALL_ACTION_KINDS = INTERNAL_ACTION_KINDS + EXTERNAL_ACTION_KINDS

PayloadType = Literal["STRING", "JSON", "DEFAULT"]
TriggerType = Literal["Message", "Timer"]


@dataclass(frozen=True, slots=True)
class SetVariable:
    name: str
    value: CompiledExpression


@dataclass(frozen=True, slots=True)
class SetTimer:
    name: str
    seconds: int | None
    duration: CompiledExpression | None


@dataclass(frozen=True, slots=True)
class ResetTimer:
    name: str


@dataclass(frozen=True, slots=True)
class ClearTimer:
    name: str


@dataclass(frozen=True, slots=True)
class PayloadSpec:
    content: CompiledExpression
    type: Literal["STRING", "JSON"]


FieldSpec = str | int | float | bool | CompiledExpression | Mapping[str, "FieldSpec"]
"""An action parameter: a literal, an expression to evaluate, or a nested structure."""


@dataclass(frozen=True, slots=True)
class ExternalAction:
    kind: str
    fields: Mapping[str, FieldSpec]
    payload: PayloadSpec | None


Action = SetVariable | SetTimer | ResetTimer | ClearTimer | ExternalAction


def compile_field(value: Any) -> FieldSpec:
    """Compile one action field (recursively for nested structures like iotSiteWise).

    The IoT Events API accepts both literals and expressions in fields such as
    ``tableName`` or ``mqttTopic``: text starting with a quote or ``$`` is an
    expression (``'MyTable'``, ``$input.X.table``), plain text with ``${...}`` is a
    template, anything else (ARNs, URLs) is taken literally.
    """
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("'", '"', "$"):
            return compile_expression(value)
        if "${" in value:
            return compile_template_text(value)
        return value
    if isinstance(value, Mapping):
        return {str(key): compile_field(item) for key, item in value.items() if item is not None}
    if isinstance(value, bool | int | float):
        return value
    raise TypeError(f"unsupported action field value {value!r}")


def resolve_field(spec: FieldSpec, context: EvalContext) -> Any:
    """Evaluate a compiled field; expression results become text, UNDEFINED raises."""
    if isinstance(spec, CompiledExpression):
        value = spec(context)
        text = to_text(value)
        if value is UNDEFINED or text is None:
            raise ValueError(f"field expression {spec.source!r} evaluated to undefined")
        return text
    if isinstance(spec, Mapping):
        return {key: resolve_field(item, context) for key, item in spec.items()}
    return spec


@dataclass(frozen=True, slots=True)
class TriggerDetails:
    """Why the evaluation that produced an action ran (IoT Events ``eventTriggerDetails``)."""

    trigger_type: TriggerType
    input_name: str | None = None
    message_id: str | None = None
    timer_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.input_name is not None:
            out["inputName"] = self.input_name
        if self.message_id is not None:
            out["messageId"] = self.message_id
        if self.timer_name is not None:
            out["timerName"] = self.timer_name
        out["triggerType"] = self.trigger_type
        return out


@dataclass(frozen=True, slots=True)
class RenderedAction:
    """An external action ready for delivery by an ``ActionSink``.

    ``payload`` is a ``str`` for STRING payloads and a JSON value (usually a dict)
    for JSON and default payloads; ``payload_text()`` gives the bytes to send.
    ``error`` is set (and ``payload`` is None) when the content expression could
    not be rendered: the action is still delivered so that nothing is silently
    dropped, and sinks decide whether to send a fallback or dead-letter it.
    """

    kind: str
    target: Mapping[str, Any]
    payload: Any
    payload_type: PayloadType
    detector_model: str
    key: str | None
    state_name: str
    event_name: str
    event_time_ms: int
    action_execution_id: str
    trigger: TriggerDetails
    error: str | None = None

    def payload_text(self) -> str:
        if self.payload is None:
            return ""
        if isinstance(self.payload, str):
            return self.payload
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)
