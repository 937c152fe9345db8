"""Delivering rendered detector actions to AWS: SNS, SQS, Lambda, IoT Core, DynamoDB.

The engine delivers only after it committed the evaluation, and does not re-run
it, so a failed delivery cannot be fixed by redelivering the input: by then the
state has moved on and the same evaluation will not happen again. This sink
therefore retries retryable failures with backoff and, when that is exhausted
or the failure cannot succeed, dead-letters the action (SQS ``ACTION_DLQ_URL``
when configured, and always one ERROR log record with everything needed to
re-send it) and carries on with the next action. It never raises: nothing is
dropped silently, and one bad action does not block the alerts behind it.

Idempotency key: ``RenderedAction.action_execution_id``, deterministic per
evaluation. It is the ``MessageDeduplicationId`` for FIFO topics and queues, and
a message attribute (``wardlink_action_id``) everywhere else, so subscribers can
drop duplicates.

SNS alerts for support (``sns`` actions):

- the models' placeholder topic (account ``123456789012``) maps to ``ALERT_TOPIC_ARN``;
- the text is the model's, with the placeholder runbook host rewritten to
  ``RUNBOOK_BASE_URL``, plus registry facts (model, firmware, site, gateway) read by
  key, the alarm id to triage with, and the detector state;
- PHI-free by construction: model texts contain no patient data (the catalog tests
  check), registry facts are an allow-list without serial numbers, and JSON
  payloads lose any ``patient_ref``/``annotation``/``detail`` member before sending.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from wardlink.detectors.actions import RenderedAction
from wardlink.detectors.aws.alarm_bindings import AlarmCatalog
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.aws.retry import Backoff, error_code, is_retryable
from wardlink.detectors.timeutil import format_iso_ms

log = logging.getLogger("wardlink.detectors.aws")

PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_RUNBOOK_BASE = "https://support.wardlink.example/runbooks"
PHI_MEMBERS = frozenset({"patient_ref", "annotation", "detail"})
_SUBJECT_UNSAFE = re.compile(r"[^ -~]+")

ClientFactory = Callable[[str], Any]
"""Returns the boto3 client for a service name (``sns``, ``sqs``, ``lambda``, ...)."""


class UndeliverableAction(Exception):
    """An action that cannot succeed however often it is retried."""


class AwsActionSink:
    """``ActionSink`` for the engine Lambda."""

    def __init__(
        self,
        clients: ClientFactory,
        *,
        alert_topic_arn: str,
        directory: RegistryDirectory | None = None,
        catalog: AlarmCatalog | None = None,
        runbook_base_url: str | None = None,
        dead_letter_queue_url: str | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._clients = clients
        self._alert_topic = alert_topic_arn
        self._directory = directory
        self._catalog = catalog or AlarmCatalog()
        self._runbook_base = runbook_base_url.rstrip("/") if runbook_base_url else None
        self._dlq_url = dead_letter_queue_url
        self._backoff = backoff or Backoff()
        self._serializer = TypeSerializer()
        self.delivered = 0
        self.dead_lettered = 0

    def deliver(self, action: RenderedAction) -> None:
        try:
            self._backoff.call(lambda: self._dispatch(action))
        except Exception as exc:
            self._dead_letter(action, exc)
            return
        self.delivered += 1

    # -- dispatch ---------------------------------------------------------------------

    def _dispatch(self, action: RenderedAction) -> None:
        kind = action.kind
        if kind == "sns":
            self._sns(action)
        elif action.error is not None or action.payload is None:
            raise UndeliverableAction(f"payload could not be rendered: {action.error}")
        elif kind == "sqs":
            self._sqs(action)
        elif kind == "lambda":
            self._lambda(action)
        elif kind == "iotTopicPublish":
            self._iot_publish(action)
        elif kind == "dynamoDBv2":
            self._dynamodb_v2(action)
        elif kind == "dynamoDB":
            self._dynamodb_v1(action)
        else:
            raise UndeliverableAction(f"action kind {kind} is not supported by this engine")

    def _sns(self, action: RenderedAction) -> None:
        topic = self.topic_for(str(action.target.get("targetArn", "")))
        request: dict[str, Any] = {
            "TopicArn": topic,
            "Message": self.alert_message(action),
            "MessageAttributes": _string_attributes(self._attributes(action)),
        }
        subject = alert_subject(action)
        if subject:
            request["Subject"] = subject
        if topic.endswith(".fifo"):
            request["MessageGroupId"] = action.key or action.detector_model
            request["MessageDeduplicationId"] = action.action_execution_id
        self._clients("sns").publish(**request)

    def _sqs(self, action: RenderedAction) -> None:
        url = str(action.target["queueUrl"])
        body = _without_phi_text(action)
        if str(action.target.get("useBase64", "")).lower() == "true":
            body = base64.b64encode(body.encode()).decode()
        request: dict[str, Any] = {
            "QueueUrl": url,
            "MessageBody": body,
            "MessageAttributes": _string_attributes(
                {"wardlink_action_id": action.action_execution_id}
            ),
        }
        if url.endswith(".fifo"):
            request["MessageGroupId"] = action.key or action.detector_model
            request["MessageDeduplicationId"] = action.action_execution_id
        self._clients("sqs").send_message(**request)

    def _lambda(self, action: RenderedAction) -> None:
        text = _without_phi_text(action)
        try:
            json.loads(text)
        except ValueError:
            text = json.dumps(text)  # Lambda only takes JSON; a STRING payload travels quoted
        self._clients("lambda").invoke(
            FunctionName=str(action.target["functionArn"]),
            InvocationType="Event",
            Payload=text.encode(),
        )

    def _iot_publish(self, action: RenderedAction) -> None:
        qos = action.target.get("qos", 1)
        self._clients("iot-data").publish(
            topic=str(action.target["mqttTopic"]),
            qos=int(qos) if str(qos).isdigit() else 1,
            payload=_without_phi_text(action).encode(),
        )

    def _dynamodb_v2(self, action: RenderedAction) -> None:
        document = json.loads(_without_phi_text(action), parse_float=Decimal)
        if not isinstance(document, dict) or not document:
            raise UndeliverableAction("dynamoDBv2 needs a JSON object payload")
        self._clients("dynamodb").put_item(
            TableName=str(action.target["tableName"]),
            Item={name: self._serializer.serialize(value) for name, value in document.items()},
        )

    def _dynamodb_v1(self, action: RenderedAction) -> None:
        target = action.target

        def typed(value: Any, kind: Any) -> dict[str, str]:
            return {"N": str(value)} if str(kind).upper() == "NUMBER" else {"S": str(value)}

        hash_key = typed(target["hashKeyValue"], target.get("hashKeyType"))
        key = {str(target["hashKeyField"]): hash_key}
        if target.get("rangeKeyField"):
            key[str(target["rangeKeyField"])] = typed(
                target["rangeKeyValue"], target.get("rangeKeyType")
            )
        table = str(target["tableName"])
        client = self._clients("dynamodb")
        if str(target.get("operation", "INSERT")).upper() == "DELETE":
            client.delete_item(TableName=table, Key=key)
            return
        field = str(target.get("payloadField") or "payload")
        client.put_item(TableName=table, Item={**key, field: {"S": _without_phi_text(action)}})

    # -- alerts -------------------------------------------------------------------------

    def topic_for(self, target_arn: str) -> str:
        """The deployed topic for a model's target: placeholders map to ALERT_TOPIC_ARN."""
        parts = target_arn.split(":")
        if not target_arn or (len(parts) >= 6 and parts[4] == PLACEHOLDER_ACCOUNT):
            return self._alert_topic
        return target_arn

    def alert_message(self, action: RenderedAction) -> str:
        """The SNS text: the model's message, registry facts, how to triage. No PHI."""
        if action.payload is None:
            log.error(
                "alert text could not be rendered; sending the fallback text",
                extra=_action_record(action),
            )
            body = (
                f"Wardlink alert from detector {action.detector_model} (event "
                f"{action.event_name}, state {action.state_name}) for {action.key}. The alert "
                "text could not be rendered; see the engine log for this alert id."
            )
        elif isinstance(action.payload, str):
            body = self._rewrite_runbook(action.payload)
        else:
            body = json.dumps(_strip_phi(action.payload), separators=(",", ":"))
        lines = [body, ""]
        if action.key is not None and self._directory is not None:
            lines.append(self._directory.facts(action.key).sentence())
        for alarm_id, _severity in self._catalog.breached(
            action.detector_model, action.key, action.state_name
        ):
            lines.append(f"Alarm: {alarm_id}  (triage: wardlink support alarms show '{alarm_id}')")
        lines.append(
            f"Detector {action.detector_model}, state {action.state_name}, event "
            f"{action.event_name}, at {format_iso_ms(action.event_time_ms)}; "
            f"alert id {action.action_execution_id}."
        )
        return "\n".join(lines).strip()

    def _rewrite_runbook(self, text: str) -> str:
        if self._runbook_base is None:
            return text
        return text.replace(PLACEHOLDER_RUNBOOK_BASE, self._runbook_base)

    def _attributes(self, action: RenderedAction) -> dict[str, str]:
        attributes = {
            "detector_model": action.detector_model,
            "detector_state": action.state_name,
            "event": action.event_name,
            "wardlink_action_id": action.action_execution_id,
        }
        if action.key is not None:
            attributes["key"] = action.key
        recovery = self._catalog.is_recovery(action.detector_model, action.event_name)
        attributes["alert_type"] = "recovery" if recovery else "alert"
        breached = self._catalog.breached(action.detector_model, action.key, action.state_name)
        if breached:
            attributes["alarm_id"] = breached[0][0]
            if not recovery:  # a pager filtering on severity is not woken by "back online"
                attributes["severity"] = str(min(severity for _, severity in breached))
        if action.key is not None and self._directory is not None:
            facts = self._directory.facts(action.key)
            for name in ("gateway_id", "site_id"):
                value = getattr(facts, name)
                if value:
                    attributes[name] = value
        return attributes

    # -- failure ------------------------------------------------------------------------

    def _dead_letter(self, action: RenderedAction, exc: Exception) -> None:
        self.dead_lettered += 1
        record = _action_record(action)
        record["reason"] = f"{type(exc).__name__}: {error_code(exc) or exc}"[:1000]
        record["retryable"] = is_retryable(exc)
        log.error("action not delivered; dead-lettered", extra={"undelivered_action": record})
        if not self._dlq_url:
            return
        try:
            self._clients("sqs").send_message(
                QueueUrl=self._dlq_url, MessageBody=json.dumps(record, default=str)
            )
        except Exception as dlq_error:
            log.error(
                "dead-letter queue unavailable; the log record above is the only copy",
                extra={"action_execution_id": action.action_execution_id,
                       "error": str(dlq_error)[:300]},
            )  # fmt: skip


def alert_subject(action: RenderedAction) -> str | None:
    """An SNS subject from the first sentence of a text alert (ASCII, at most 100 chars)."""
    if not isinstance(action.payload, str) or not action.payload.strip():
        return f"Wardlink {action.detector_model}: {action.event_name}"[:100]
    first = action.payload.strip().split(". ", 1)[0].splitlines()[0]
    subject = _SUBJECT_UNSAFE.sub(" ", first).strip()
    if not subject:
        return None
    return subject if len(subject) <= 100 else subject[:97].rstrip() + "..."


def _string_attributes(values: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": "String", "StringValue": value[:1024]}
        for name, value in values.items()
        if value
    }


def _strip_phi(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_phi(v) for k, v in value.items() if k not in PHI_MEMBERS}
    if isinstance(value, list):
        return [_strip_phi(item) for item in value]
    return value


def _without_phi_text(action: RenderedAction) -> str:
    if isinstance(action.payload, dict | list):
        return json.dumps(_strip_phi(action.payload), separators=(",", ":"))
    return action.payload_text()


def _action_record(action: RenderedAction) -> dict[str, Any]:
    """Everything needed to re-send an action by hand (payloads are PHI-free)."""
    return {
        "action": action.kind,
        "target": dict(action.target),
        "payload": _strip_phi(action.payload),
        "payload_type": action.payload_type,
        "detector_model": action.detector_model,
        "key": action.key,
        "state": action.state_name,
        "event": action.event_name,
        "event_time": format_iso_ms(action.event_time_ms),
        "action_execution_id": action.action_execution_id,
        "render_error": action.error,
    }
