"""The detector engine embedded in ``wardlink cloud local``: real time, in memory, local alerts.

In AWS the engine runs behind Kinesis with DynamoDB state and EventBridge
Scheduler timers. Locally, ``LocalDetectors`` runs the same engine and the same
catalog models on the envelopes the MQTT bridge delivers, with:

- an in-memory store that round-trips every instance through JSON (so local runs
  catch state the DynamoDB store could not persist);
- ``AsyncioTimers``: timers as ``loop.call_later`` callbacks on the wall clock,
  so a device that goes silent really raises its offline alert after the model's
  timeout;
- a sink of your choice, typically ``LocalAlertSink``, which records each alert
  (a list, plus a JSON-lines file) and prints one short line per alert.

All engine work happens on one asyncio loop: either the caller's (``async with
LocalDetectors(...)``) or a private loop thread (``start_in_thread()``) for
threaded hosts such as the local cloud. ``submit`` and ``kinesis_consumer`` may be
called from any other thread; they hand the work to the loop.

Hook for the local cloud: ``cloud.add_consumer("detectors", runner.kinesis_consumer)``
after ``runner.start_in_thread()``; ``on_evaluated`` can mirror alarm changes into
DynamoDB Local (``wardlink.detectors.aws.alarm_store.AlarmRecorder.record``) so that
``wardlink support alarms`` works against the local API too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from wardlink.detectors.actions import RenderedAction
from wardlink.detectors.ingest import (
    DetectorSet,
    EnvelopeError,
    Evaluated,
    flatten_envelope,
    load_models,
)
from wardlink.detectors.model import DetectorModel
from wardlink.detectors.sinks import ActionSink
from wardlink.detectors.store import InMemoryStateStore
from wardlink.detectors.timers import TimerRef
from wardlink.detectors.timeutil import format_iso_ms

log = logging.getLogger(__name__)

Envelope = bytes | str | Mapping[str, Any]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def load_models_with_timers(
    models_dir: str | Path, timer_seconds: Mapping[str, float]
) -> list[DetectorModel]:
    """The models in ``models_dir`` with named timers shortened, for demos.

    The files are not touched: each request is loaded, every ``setTimer`` whose
    ``timerName`` is in ``timer_seconds`` gets that duration, and so does the
    ``<timer>_s`` variable the models set beside each timer, which the alert texts
    quote ("for ${$variable.heartbeat_s} s"), so a text states the timer that ran.
    The engine rounds a fractional duration down to whole seconds, as IoT Events
    does. A name that no model's ``setTimer`` uses is an error (a typo would
    otherwise leave the shipped duration in place without a word).
    """
    if any(not seconds >= 1 for seconds in timer_seconds.values()):
        raise ValueError("timers must last at least 1 second")
    models: list[DetectorModel] = []
    found: set[str] = set()
    for path in sorted(Path(models_dir).glob("*.json")):
        request = json.loads(path.read_text(encoding="utf-8"))
        _shorten(request, timer_seconds, found)
        models.append(DetectorModel.from_request(request))
    unknown = sorted(set(timer_seconds) - found)
    if unknown:
        raise ValueError(f"no model in {models_dir} sets the timer(s) {', '.join(unknown)}")
    return models


def _shorten(node: Any, timer_seconds: Mapping[str, float], found: set[str]) -> None:
    if isinstance(node, dict):
        timer = node.get("setTimer")
        if isinstance(timer, dict) and timer.get("timerName") in timer_seconds:
            found.add(timer["timerName"])
            timer.pop("seconds", None)
            timer["durationExpression"] = f"{timer_seconds[timer['timerName']]:g}"
        variable = node.get("setVariable")
        if isinstance(variable, dict):
            name = str(variable.get("variableName", ""))
            if name.endswith("_s") and name[:-2] in timer_seconds:
                variable["value"] = f"{timer_seconds[name[:-2]]:g}"
        for value in node.values():
            _shorten(value, timer_seconds, found)
    elif isinstance(node, list):
        for value in node:
            _shorten(value, timer_seconds, found)


# -- alerts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalAlert:
    """One delivered action as the local sink records it."""

    at: str
    model: str
    key: str | None
    state: str
    event: str
    action: str
    target: dict[str, Any]
    message: str
    action_execution_id: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LocalAlertSink:
    """Records every external action; prints one short line per alert.

    ``alerts`` holds them in delivery order; with ``path`` each is also appended
    to a JSON-lines file (flushed per alert, so ``tail -f`` shows it at once).
    ``on_alert`` lets a host react (a demo waiting for the offline alert).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        stream: IO[str] | None = None,
        *,
        on_alert: Callable[[LocalAlert], None] | None = None,
        echo: bool = True,
        width: int = 160,
    ) -> None:
        self.alerts: list[LocalAlert] = []
        self._path = Path(path) if path is not None else None
        self._stream = stream
        self._on_alert = on_alert
        self._echo = echo
        self._width = width
        self._lock = threading.Lock()
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)

    def deliver(self, action: RenderedAction) -> None:
        alert = LocalAlert(
            at=format_iso_ms(action.event_time_ms),
            model=action.detector_model,
            key=action.key,
            state=action.state_name,
            event=action.event_name,
            action=action.kind,
            target=dict(action.target),
            message=action.payload_text(),
            action_execution_id=action.action_execution_id,
            error=action.error,
        )
        with self._lock:
            self.alerts.append(alert)
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(alert.to_json(), ensure_ascii=False) + "\n")
            if self._echo:
                stream = self._stream if self._stream is not None else sys.stdout
                stream.write(self.short_line(alert) + "\n")
                stream.flush()
        if self._on_alert is not None:
            self._on_alert(alert)

    def short_line(self, alert: LocalAlert) -> str:
        text = " ".join(alert.message.split()) or f"({alert.error or 'empty payload'})"
        line = f"[{alert.action}] {alert.at} {alert.key or alert.model}: {text}"
        return line if len(line) <= self._width else line[: self._width - 3] + "..."

    def of_model(self, model: str) -> list[LocalAlert]:
        with self._lock:
            return [alert for alert in self.alerts if alert.model == model]


# -- timers ----------------------------------------------------------------------------


class AsyncioTimers:
    """``TimerScheduler`` on an asyncio loop: one ``call_later`` handle per timer."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fire: Callable[[TimerRef, int], None],
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._loop = loop
        self._fire = fire
        self._clock_ms = clock_ms
        self._handles: dict[TimerRef, tuple[int, asyncio.TimerHandle]] = {}

    def schedule(self, timer: TimerRef, due_ms: int) -> None:
        self.cancel(timer)
        delay_s = max(0, due_ms - self._clock_ms()) / 1000
        handle = self._loop.call_later(delay_s, self._expire, timer, due_ms)
        self._handles[timer] = (due_ms, handle)

    def cancel(self, timer: TimerRef) -> None:
        entry = self._handles.pop(timer, None)
        if entry is not None:
            entry[1].cancel()

    def pending(self) -> dict[TimerRef, int]:
        return {timer: due for timer, (due, _) in self._handles.items()}

    def close(self) -> None:
        for _, handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _expire(self, timer: TimerRef, due_ms: int) -> None:
        entry = self._handles.get(timer)
        if entry is not None and entry[0] == due_ms:
            del self._handles[timer]
        self._fire(timer, due_ms)


# -- the runner ------------------------------------------------------------------------


@dataclass(slots=True)
class LocalStats:
    envelopes: int = 0
    malformed: int = 0
    messages: int = 0
    invalid_items: int = 0
    rejected: int = 0
    evaluations: int = 0
    transitions: int = 0
    timers_fired: int = 0
    errors: int = 0


@dataclass(slots=True)
class IngestReport:
    messages: int = 0
    evaluations: int = 0
    transitions: int = 0
    rejected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class LocalDetectors:
    """The engine on the local cloud's bridged envelopes; see the module docstring."""

    def __init__(
        self,
        models_dir: str | Path | None,
        sink: ActionSink,
        *,
        models: Sequence[DetectorModel] | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        on_evaluated: Callable[[Evaluated], object] | None = None,
    ) -> None:
        if models is None:
            if models_dir is None:
                raise ValueError("give models_dir or models")
            models = load_models(models_dir)
        self.models = list(models)
        self.sink = sink
        self.store = InMemoryStateStore(round_trip_json=True)
        self.stats = LocalStats()
        self._clock_ms = clock_ms
        self._on_evaluated = on_evaluated
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: AsyncioTimers | None = None
        self._detectors: DetectorSet | None = None
        self._thread: threading.Thread | None = None
        self._thread_stop: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> LocalDetectors:
        """Bind to the running loop; all evaluation happens on it from now on."""
        if self._loop is not None:
            raise RuntimeError("LocalDetectors is already started")
        self._loop = asyncio.get_running_loop()
        self._timers = AsyncioTimers(self._loop, self._fire, self._clock_ms)
        self._detectors = DetectorSet(self.models, self.store, self._timers, self.sink)
        return self

    async def aclose(self) -> None:
        if self._timers is not None:
            self._timers.close()

    async def __aenter__(self) -> LocalDetectors:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start_in_thread(self, timeout_s: float = 10.0) -> LocalDetectors:
        """Run on a private loop in a daemon thread (for threaded hosts)."""
        started = threading.Event()

        async def main() -> None:
            await self.start()
            self._thread_stop = asyncio.Event()
            started.set()
            await self._thread_stop.wait()
            await self.aclose()

        self._thread = threading.Thread(
            target=lambda: asyncio.run(main()), name="wardlink-local-detectors", daemon=True
        )
        self._thread.start()
        if not started.wait(timeout_s):
            raise RuntimeError("the local detectors loop did not start")
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the private loop thread started by ``start_in_thread``."""
        if self._thread is None or self._loop is None or self._thread_stop is None:
            return
        self._loop.call_soon_threadsafe(self._thread_stop.set)
        self._thread.join(timeout_s)
        self._thread = None

    # -- input -----------------------------------------------------------------------------

    async def ingest(self, envelope: Envelope) -> IngestReport:
        """Evaluate one envelope (as the bridge delivers it). Call on the runner's loop."""
        detectors = self._require_started()
        report = IngestReport()
        self.stats.envelopes += 1
        try:
            flat = flatten_envelope(envelope)
        except EnvelopeError as exc:
            self.stats.malformed += 1
            report.problems.append(str(exc))
            log.warning("ignoring data that is not an envelope: %s", exc)
            return report
        for problem in flat.problems:
            self.stats.invalid_items += 1
            report.problems.append(f"item {problem.index}: {problem.reason}")
            log.warning("ignoring envelope item %d: %s", problem.index, problem.reason)
        for message in flat.messages:
            report.messages += 1
            self.stats.messages += 1
            try:
                routed = detectors.deliver(message, self._clock_ms())
            except Exception:
                self.stats.errors += 1
                log.exception("evaluation of %s failed", message.message_id)
                continue
            for rejection in routed.rejected:
                self.stats.rejected += 1
                report.rejected.append(f"{rejection.model}: {rejection.reason}")
            for evaluated in routed.evaluated:
                report.evaluations += 1
                report.transitions += len(evaluated.outcome.transitions)
                self._evaluated(evaluated)
        return report

    def submit(self, envelope: Envelope) -> concurrent.futures.Future[IngestReport]:
        """``ingest`` from any thread other than the loop's."""
        loop = self._require_loop()
        return asyncio.run_coroutine_threadsafe(self.ingest(envelope), loop)

    def kinesis_consumer(self, event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
        """A consumer for the local bridge's Kinesis-style batches (blocks until evaluated).

        Every record is evaluated or logged as malformed; the local runner never asks
        for redelivery, so the result always has empty ``batchItemFailures``.
        """
        loop = self._require_loop()
        if _running_loop() is loop:
            raise RuntimeError("kinesis_consumer must not be called on the detectors' loop")
        for record in event.get("Records", []):
            data = record.get("kinesis", {}).get("data", "") if isinstance(record, dict) else ""
            try:
                envelope = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                self.stats.malformed += 1
                log.warning("ignoring a stream record whose data is not base64")
                continue
            try:
                self.submit(envelope).result(timeout=30)
            except Exception:
                self.stats.errors += 1
                log.exception("a bridged envelope could not be evaluated")
        return {"batchItemFailures": []}

    # -- inspection ---------------------------------------------------------------------

    def state_of(self, model: str, key: str | None) -> str | None:
        stored = self.store.get(model, key)
        return stored.instance.state_name if stored is not None else None

    def pending_timers(self) -> dict[TimerRef, int]:
        return self._timers.pending() if self._timers is not None else {}

    # -- internals ----------------------------------------------------------------------

    def _fire(self, timer: TimerRef, due_ms: int) -> None:
        detectors = self._require_started()
        try:
            evaluated = detectors.fire(timer, due_ms, self._clock_ms())
        except Exception:
            self.stats.errors += 1
            log.exception("timer %s of %s#%s failed", timer.name, timer.model, timer.key)
            return
        if evaluated is not None:
            self.stats.timers_fired += 1
            self._evaluated(evaluated)

    def _evaluated(self, evaluated: Evaluated) -> None:
        self.stats.evaluations += 1
        self.stats.transitions += len(evaluated.outcome.transitions)
        if self._on_evaluated is None:
            return
        try:
            self._on_evaluated(evaluated)
        except Exception:
            self.stats.errors += 1
            log.exception("on_evaluated hook failed for %s", evaluated.model)

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("LocalDetectors is not started (start() or start_in_thread())")
        return self._loop

    def _require_started(self) -> DetectorSet:
        if self._detectors is None:
            raise RuntimeError("LocalDetectors is not started (start() or start_in_thread())")
        return self._detectors


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
