"""The detector engine inside the local cloud: the catalog models on every bridged envelope.

In AWS the engine Lambda reads the Kinesis stream, keeps detector state in
DynamoDB, fires timers from EventBridge Scheduler, sends alerts to SNS and
applies every state change to the Alarms/AlarmAudit tables. Locally,
``CloudDetectors`` wires the same pieces that exist here:

- ``LocalDetectors`` (same engine, in-memory state, wall-clock asyncio timers)
  runs the packaged catalog (``wardlink.detectors.catalog``, identical to
  ``cloud/detectors``), optionally with shortened timers for demos;
- it is a consumer of the local Kinesis feed, next to the telemetry writer;
- alerts go to a ``LocalAlertSink`` (kept in memory and appended to a JSON-lines
  file) instead of SNS;
- ``AlarmRecorder``, the engine Lambda's own alarm writer, applies each state
  change to the Alarms/AlarmAudit tables in DynamoDB Local, joined with registry
  facts, so ``GET /alarms`` and ``wardlink support alarms`` show the alarms.

An alert is announced (to ``alerts()``, listeners and waiters) only after the
alarm change of the evaluation that sent it has been written, so whoever reacts
to an alert finds its alarm through the API at once. (The engine delivers the
actions of every model a message reaches before ``on_evaluated`` runs for the
first of them, so alerts wait per model and key; whatever an interrupted
evaluation leaves waiting is announced at the end of the batch.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wardlink.detectors.aws.alarm_store import AlarmRecorder
from wardlink.detectors.aws.directory import RegistryDirectory
from wardlink.detectors.catalog import models_dir as catalog_dir
from wardlink.detectors.ingest import Evaluated, load_models
from wardlink.detectors.local_runner import (
    LocalAlert,
    LocalAlertSink,
    LocalDetectors,
    load_models_with_timers,
)

log = logging.getLogger(__name__)

REGISTRY_CACHE_S = 2.0
"""Registry facts are cached this long (5 min in Lambda): a demo registers devices
while alarms are already being raised, and local reads cost nothing."""

AlertListener = Callable[[LocalAlert], None]
AlertMatch = Callable[[dict[str, Any]], bool]


class CloudDetectors:
    """Catalog models + local alert sink + alarm recorder, fed by the local Kinesis feed."""

    def __init__(
        self,
        dynamodb: Any,
        table_names: Mapping[str, str],
        alerts_path: Path,
        *,
        timer_seconds: Mapping[str, float] | None = None,
        models_dir: Path | None = None,
    ) -> None:
        """``table_names`` maps env var names to tables (``tables.table_names``).

        Raises ``ValueError`` (``DetectorModelError`` is one) for unusable models
        or a timer name no model uses.
        """
        directory_path = models_dir or catalog_dir()
        models = (
            load_models_with_timers(directory_path, timer_seconds)
            if timer_seconds
            else load_models(directory_path)
        )
        self.alerts_path = alerts_path
        self.timer_seconds = dict(timer_seconds or {})
        self._lock = threading.Condition()
        self._pending: list[LocalAlert] = []
        self._published: list[LocalAlert] = []
        self._listeners: list[AlertListener] = []
        self.alarm_changes = 0
        self.alarm_failures = 0
        self.sink = LocalAlertSink(alerts_path, echo=False, on_alert=self._collect)
        directory = RegistryDirectory(
            dynamodb,
            table_names["DEVICES_TABLE"],
            table_names["GATEWAYS_TABLE"],
            ttl_s=REGISTRY_CACHE_S,
        )
        self.recorder = AlarmRecorder(
            dynamodb,
            table_names["ALARMS_TABLE"],
            table_names["ALARM_AUDIT_TABLE"],
            directory=directory,
        )
        self.runner = LocalDetectors(None, self.sink, models=models, on_evaluated=self._evaluated)

    @property
    def model_names(self) -> list[str]:
        return [model.name for model in self.runner.models]

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> CloudDetectors:
        self.runner.start_in_thread()
        return self

    def stop(self) -> None:
        self.runner.stop()
        self._publish_pending()  # anything an interrupted evaluation left behind

    # -- the feed's consumer ---------------------------------------------------------------

    def consumer(self, event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        """Kinesis-style batch in; returns once every envelope in it is evaluated."""
        try:
            return self.runner.kinesis_consumer(event)
        finally:
            self._publish_pending()

    # -- alerts -------------------------------------------------------------------------

    def add_listener(self, listener: AlertListener) -> None:
        """Called once per alert (on the detectors' thread: keep it short)."""
        with self._lock:
            self._listeners.append(listener)

    def alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [alert.to_json() for alert in self._published]

    def alerts_sent(self) -> int:
        with self._lock:
            return len(self._published)

    def wait_for_alert(
        self, match: AlertMatch, timeout_s: float, *, after: int = 0
    ) -> dict[str, Any] | None:
        """The first alert from index ``after`` on that ``match``es; None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                for alert in self._published[after:]:
                    document = alert.to_json()
                    if match(document):
                        return document
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)

    def short_line(self, alert: LocalAlert) -> str:
        return self.sink.short_line(alert)

    # -- internals (the detectors' loop thread) --------------------------------------------

    def _collect(self, alert: LocalAlert) -> None:
        with self._lock:
            self._pending.append(alert)

    def _evaluated(self, evaluated: Evaluated) -> None:
        """After an evaluation (its actions are delivered): alarms first, then announce."""
        try:
            writes = self.recorder.record(evaluated.model, evaluated.outcome)
        except Exception:
            with self._lock:
                self.alarm_failures += 1
            log.exception(
                "alarm change of %s#%s not recorded", evaluated.model, evaluated.outcome.key
            )
        else:
            with self._lock:
                self.alarm_changes += len(writes)
        finally:
            self._publish_pending(evaluated.model, evaluated.outcome.key)

    def _publish_pending(self, model: str | None = None, key: str | None = None) -> None:
        """Announce the waiting alerts of one model and key, or all of them."""
        with self._lock:
            fresh = [
                alert
                for alert in self._pending
                if model is None or (alert.model == model and alert.key == key)
            ]
            if not fresh:
                return
            self._pending = [alert for alert in self._pending if alert not in fresh]
            self._published.extend(fresh)
            listeners = list(self._listeners)
            self._lock.notify_all()
        for alert in fresh:
            for listener in listeners:
                try:
                    listener(alert)
                except Exception:
                    log.exception("alert listener failed")
