"""The engine Lambda's work, minus Lambda: Kinesis batches in, timer callbacks in.

``EngineRuntime`` is built once per Lambda environment (``from_settings``) and
handles two kinds of events:

- **Kinesis batches** from the IoT rules: each record is one envelope (base64),
  flattened into detector inputs (``wardlink.detectors.ingest``) and run through
  every model that uses them, in stream order. Records are processed strictly in
  order and processing stops at the first record that fails for a reason that
  may pass (throttling, a store error, too many version conflicts): it is reported
  in ``batchItemFailures`` and Lambda redelivers from there, keeping each
  gateway's order (its records share a shard). A record that can never succeed
  (not base64, not an envelope) and items a model rejects (no key) are logged
  with their sequence number and skipped, so a poison record cannot stall a shard.
  Powertools' ``BatchProcessor`` is deliberately not used: it would go on with the
  records after a failure, evaluating a gateway's messages out of order.
- **Timer callbacks** from EventBridge Scheduler: ``{"wardlinkTimer": {...}}``. A
  firing whose due time is no longer the stored one is stale; if the instance
  still has the timer, it was armed early (see ``scheduler``) and is re-armed at
  its current due time. Scheduler fires with 60-second precision, so a firing can
  also come before its own due time: it is not evaluated (a message arriving in
  the remaining seconds must still be able to reset the timer) but re-armed for
  the next full minute. Failures raise, so Lambda's async retries and the
  function's dead-letter queue keep the firing.

Every evaluation that changed a detector state is then applied to the alarms
(``AlarmRecorder``). An alarm write that fails is logged, not retried through
Kinesis: a redelivered input would not re-create the transition (the state has
already moved), so redelivery cannot repair it, and the next transition re-syncs.
Evaluation time is the processing time, as in IoT Events.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from wardlink.detectors.aws.alarm_bindings import AlarmCatalog
from wardlink.detectors.aws.alarm_store import AlarmRecorder
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.aws.scheduler import TIMER_EVENT_KEY, EventBridgeTimers, parse_timer_event
from wardlink.detectors.aws.settings import EngineSettings, unqualified_function_arn
from wardlink.detectors.aws.sink import AwsActionSink
from wardlink.detectors.aws.state_store import DynamoDBStateStore
from wardlink.detectors.ingest import DetectorSet, EnvelopeError, Evaluated, flatten_envelope
from wardlink.detectors.ingest import load_models as load_model_dir
from wardlink.detectors.store import StateStore
from wardlink.detectors.timeutil import format_iso_ms

log = logging.getLogger("wardlink.detectors.aws")

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10
)


@dataclass(slots=True)
class BatchReport:
    records: int = 0
    messages: int = 0
    evaluations: int = 0
    transitions: int = 0
    malformed_records: int = 0
    invalid_items: int = 0
    rejected: int = 0
    ignored: int = 0
    alarm_changes: int = 0
    alarm_failures: int = 0
    failed_from: str | None = None
    failures: list[str] = field(default_factory=list)

    def lambda_response(self) -> dict[str, list[dict[str, str]]]:
        items = [{"itemIdentifier": self.failed_from}] if self.failed_from else []
        return {"batchItemFailures": items}


class EngineRuntime:
    def __init__(
        self,
        detectors: DetectorSet,
        store: StateStore,
        timers: EventBridgeTimers,
        recorder: AlarmRecorder | None,
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.detectors = detectors
        self.store = store
        self.timers = timers
        self.recorder = recorder
        self.clock_ms = clock_ms
        """Evaluation time (epoch ms); the processing time, as in IoT Events."""

    @classmethod
    def from_settings(
        cls,
        settings: EngineSettings,
        *,
        function_arn: str | None = None,
        clients: Callable[[str], Any] | None = None,
    ) -> EngineRuntime:
        """Wire the AWS implementations of the three seams from the environment."""
        make = clients or _client_factory(settings)
        target = settings.engine_function_arn or function_arn
        if not target:
            raise ValueError("the engine's own function ARN is needed as the timer target")
        ddb = make("dynamodb")
        catalog = AlarmCatalog()
        directory = RegistryDirectory(ddb, settings.devices_table, settings.gateways_table)
        store = DynamoDBStateStore(ddb, settings.detector_state_table)
        timers = EventBridgeTimers(
            make("scheduler"),
            group_name=settings.schedule_group,
            target_arn=unqualified_function_arn(target),
            role_arn=settings.scheduler_role_arn,
            dead_letter_arn=settings.scheduler_dead_letter_arn,
        )
        sink = AwsActionSink(
            make,
            alert_topic_arn=settings.alert_topic_arn,
            directory=directory,
            catalog=catalog,
            runbook_base_url=settings.runbook_base_url,
            dead_letter_queue_url=settings.action_dead_letter_queue_url,
        )
        recorder = AlarmRecorder(
            ddb, settings.alarms_table, settings.alarm_audit_table,
            catalog=catalog, directory=directory,
        )  # fmt: skip
        detectors = DetectorSet(load_model_dir(settings.models_dir), store, timers, sink)
        return cls(detectors, store, timers, recorder)

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if TIMER_EVENT_KEY in event:
            return self.on_timer(event[TIMER_EVENT_KEY])
        if isinstance(event.get("Records"), list):
            return self.on_kinesis(event["Records"]).lambda_response()
        raise ValueError(
            "not a Kinesis batch or a wardlinkTimer callback; top-level keys: "
            + ", ".join(sorted(str(k) for k in event)[:10])
        )

    # -- Kinesis ---------------------------------------------------------------------------

    def on_kinesis(self, records: list[Any]) -> BatchReport:
        report = BatchReport()
        for record in records:
            kinesis = record.get("kinesis", {}) if isinstance(record, dict) else {}
            sequence = str(kinesis.get("sequenceNumber", ""))
            report.records += 1
            try:
                data = base64.b64decode(kinesis.get("data", ""), validate=True)
                flat = flatten_envelope(data)
            except (binascii.Error, ValueError, EnvelopeError) as exc:
                report.malformed_records += 1
                log.error(
                    "skipping a stream record that is not an envelope",
                    extra={"sequence_number": sequence, "reason": str(exc)[:500]},
                )
                continue
            for problem in flat.problems:
                report.invalid_items += 1
                log.error(
                    "skipping an envelope item",
                    extra={"sequence_number": sequence, "gateway_id": flat.gateway_id,
                           "seq": problem.seq, "reason": problem.reason[:500]},
                )  # fmt: skip
            try:
                for message in flat.messages:
                    report.messages += 1
                    routed = self.detectors.deliver(message, self.clock_ms())
                    if not routed.used:
                        report.ignored += 1
                    for rejection in routed.rejected:
                        report.rejected += 1
                        log.error(
                            "a detector model rejected an input",
                            extra={"sequence_number": sequence, "model": rejection.model,
                                   "message_id": message.message_id, "reason": rejection.reason},
                        )  # fmt: skip
                    for evaluated in routed.evaluated:
                        self._after(evaluated, report)
            except Exception as exc:
                report.failed_from = sequence
                report.failures.append(f"{type(exc).__name__}: {exc}"[:500])
                log.exception(
                    "evaluation failed; handing the rest of the batch back to Kinesis",
                    extra={"sequence_number": sequence, "gateway_id": flat.gateway_id},
                )
                break
        log.info("kinesis batch done", extra={"report": _summary(report)})
        return report

    # -- timers ----------------------------------------------------------------------------

    def on_timer(self, body: Any) -> dict[str, Any]:
        timer, due_ms = parse_timer_event(body)
        now = self.clock_ms()
        report = BatchReport()
        if now >= due_ms:
            evaluated = self.detectors.fire(timer, due_ms, now)
            if evaluated is not None:
                self._after(evaluated, report)
                return {"timer": "fired", "transitions": report.transitions}
        if timer.model not in self.detectors.engines:
            log.warning("timer for a model that is not loaded", extra={"model": timer.model})
            return {"timer": "unknown_model"}
        stored = self.store.get(timer.model, timer.key)
        current_due = stored.instance.timers.get(timer.name) if stored is not None else None
        if current_due is None:
            return {"timer": "stale"}
        if current_due <= now:
            evaluated = self.detectors.fire(timer, current_due, now)
            if evaluated is not None:
                self._after(evaluated, report)
                return {"timer": "fired", "transitions": report.transitions}
            return {"timer": "stale"}
        # armed early on purpose (a reset kept an earlier schedule), or Scheduler fired
        # within the minute but before the due second: arm again for the current due time
        early = now < due_ms
        self.timers.arm(timer, current_due, whole_minute=early)
        return {"timer": "early" if early else "rearmed", "due": format_iso_ms(current_due)}

    # -- after each committed evaluation ---------------------------------------------------

    def _after(self, evaluated: Evaluated, report: BatchReport) -> None:
        report.evaluations += 1
        transitions = evaluated.outcome.transitions
        report.transitions += len(transitions)
        for transition in transitions:
            if transition.from_state is not None:
                log.info(
                    "detector transition",
                    extra={"model": evaluated.model, "key": transition.key,
                           "from": transition.from_state, "to": transition.to_state},
                )  # fmt: skip
        if self.recorder is None or not transitions:
            return
        try:
            report.alarm_changes += len(self.recorder.record(evaluated.model, evaluated.outcome))
        except Exception:
            report.alarm_failures += 1
            log.exception(
                "alarm update failed; it is re-synced at the detector's next transition",
                extra={"model": evaluated.model, "key": evaluated.outcome.key,
                       "detector_state": evaluated.outcome.instance.state_name},
            )  # fmt: skip


def _client_factory(settings: EngineSettings) -> Callable[[str], Any]:
    cache: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in cache:
            options: dict[str, Any] = {"config": CLIENT_CONFIG}
            if service == "iot-data" and settings.iot_data_endpoint:
                options["endpoint_url"] = settings.iot_data_endpoint
            cache[service] = boto3.client(service, **options)
        return cache[service]

    return make


def _summary(report: BatchReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in (
        "records", "messages", "evaluations", "transitions", "malformed_records",
        "invalid_items", "rejected", "ignored", "alarm_changes", "alarm_failures",
        "failed_from",
    )}  # fmt: skip
