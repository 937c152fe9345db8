"""Detector timers as EventBridge Scheduler one-time schedules that call the engine back.

One schedule per ``TimerRef`` (model, key, timer), named deterministically so that
rescheduling and cancelling find it again without a lookup table: ``at(...)`` in
UTC, ``ActionAfterCompletion: DELETE`` (the schedule removes itself after firing),
flexible window off, and as target the engine Lambda with
``{"wardlinkTimer": {"model", "key", "timer", "due", "due_ms"}}`` as input.

Heartbeat models reset their timer on every message, which would mean a delete
and a create per telemetry item, far beyond Scheduler's API rates for a fleet.
So arming is *lazy*: a timer whose new due time is later than a schedule this
process already armed (still in the future) keeps that earlier schedule. When it
fires, the engine sees a stale due time, and the runtime re-arms the schedule at
the instance's current due time (``arm``). A busy device's heartbeat costs one
schedule per period instead of one per message. Firing early is always safe; the
engine ignores any firing whose due time is not the stored one, and evaluates a
late firing at the time it was due for.

The record of armed schedules lives in this process only. Another Lambda
environment that does not know about a schedule simply replaces it (create,
``ConflictException``, delete, create), which costs calls but never a missed timer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from wardlink.detectors.aws.retry import error_code
from wardlink.detectors.timers import TimerRef
from wardlink.detectors.timeutil import format_iso_ms, parse_iso_ms

log = logging.getLogger("wardlink.detectors.aws")

TIMER_EVENT_KEY = "wardlinkTimer"
MAX_SCHEDULE_NAME = 64
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]+")
_DIGEST_CHARS = 24
MIN_LEAD_MS = 2_000
"""A schedule is never created less than this far in the future (Scheduler rejects or
drops ``at()`` times in the past; the engine evaluates a late firing at its due time)."""


def schedule_name(timer: TimerRef) -> str:
    """Deterministic, at most 64 characters of ``[0-9A-Za-z_.-]``, readable prefix.

    The digest covers the exact (model, key, timer) triple, so two keys that only
    differ in characters the prefix had to replace still get different names.
    """
    identity = json.dumps([timer.model, timer.key, timer.name], separators=(",", ":"))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:_DIGEST_CHARS]
    prefix = _NAME_UNSAFE.sub("-", f"{timer.model}.{timer.name}").strip("-.") or "timer"
    return f"{prefix[: MAX_SCHEDULE_NAME - _DIGEST_CHARS - 1]}-{digest}"


def timer_event(timer: TimerRef, due_ms: int) -> dict[str, Any]:
    """The input a schedule delivers to the engine Lambda."""
    return {
        TIMER_EVENT_KEY: {
            "model": timer.model,
            "key": timer.key,
            "timer": timer.name,
            "due": format_iso_ms(due_ms),
            "due_ms": due_ms,
        }
    }


def parse_timer_event(body: Any) -> tuple[TimerRef, int]:
    """``wardlinkTimer`` body -> (timer, due ms); ``ValueError`` says what is wrong."""
    if not isinstance(body, Mapping):
        raise ValueError("wardlinkTimer must be an object")
    model, key, name = body.get("model"), body.get("key"), body.get("timer")
    if not isinstance(model, str) or not model:
        raise ValueError("wardlinkTimer.model must be a detector model name")
    if key is not None and not isinstance(key, str):
        raise ValueError("wardlinkTimer.key must be a string or null")
    if not isinstance(name, str) or not name:
        raise ValueError("wardlinkTimer.timer must be a timer name")
    due_ms = body.get("due_ms")
    if type(due_ms) is not int:
        due = body.get("due")
        if not isinstance(due, str):
            raise ValueError("wardlinkTimer needs due_ms (epoch ms) or due (ISO)")
        due_ms = parse_iso_ms(due)
    return TimerRef(model, key, name), due_ms


def at_expression(fire_ms: int) -> str:
    """``at(yyyy-mm-ddThh:mm:ss)`` in UTC, rounded up to the next whole second."""
    seconds = math.ceil(fire_ms / 1000)
    return f"at({datetime.fromtimestamp(seconds, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


class ArmedSchedules:
    """What this process armed: timer -> fire time (bounded; forgetting only costs calls)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._armed: dict[TimerRef, int] = {}
        self._max = max_entries

    def covers(self, timer: TimerRef, due_ms: int, now_ms: int) -> bool:
        armed = self._armed.get(timer)
        return armed is not None and now_ms < armed <= due_ms

    def note(self, timer: TimerRef, fire_ms: int) -> None:
        if len(self._armed) >= self._max:
            self._armed.clear()
        self._armed[timer] = fire_ms

    def forget(self, timer: TimerRef) -> None:
        self._armed.pop(timer, None)


class EventBridgeTimers:
    """``TimerScheduler`` over EventBridge Scheduler (a boto3 ``scheduler`` client)."""

    def __init__(
        self,
        client: Any,
        *,
        group_name: str,
        target_arn: str,
        role_arn: str,
        dead_letter_arn: str | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        lazy: bool = True,
    ) -> None:
        self._client = client
        self._group = group_name
        self._target_arn = target_arn
        self._role_arn = role_arn
        self._dead_letter_arn = dead_letter_arn
        self._clock_ms = clock_ms
        self._lazy = lazy
        self.armed = ArmedSchedules()
        self.created = 0
        self.skipped = 0
        self.deleted = 0

    # -- TimerScheduler --------------------------------------------------------------

    def schedule(self, timer: TimerRef, due_ms: int) -> None:
        if self._lazy and self.armed.covers(timer, due_ms, self._clock_ms()):
            self.skipped += 1
            return
        self.arm(timer, due_ms)

    def cancel(self, timer: TimerRef) -> None:
        self.armed.forget(timer)
        self._delete(schedule_name(timer))

    # -- re-arming after an early (stale) firing -------------------------------------

    def arm(self, timer: TimerRef, due_ms: int, *, whole_minute: bool = False) -> None:
        """Create (or replace) the schedule so that it fires at ``due_ms``.

        ``whole_minute`` rounds the firing up to the next minute boundary. Scheduler
        fires with 60-second precision (``at(1:00:30)`` may run anywhere in that
        minute), so after a firing that came before its due time, a schedule at the
        next full minute is the one that cannot be early again.
        """
        fire_ms = max(due_ms, self._clock_ms() + MIN_LEAD_MS)
        if whole_minute:
            fire_ms = -(-fire_ms // 60_000) * 60_000
        name = schedule_name(timer)
        request = self._request(name, timer, due_ms, fire_ms)
        for _ in range(3):
            try:
                self._client.create_schedule(**request)
            except ClientError as exc:
                if error_code(exc) != "ConflictException":
                    raise
                self._delete(name)  # replace: the old firing would be stale anyway
                continue
            self.created += 1
            self.armed.note(timer, fire_ms)
            return
        raise RuntimeError(f"schedule {name} kept conflicting; another writer is replacing it")

    def _request(self, name: str, timer: TimerRef, due_ms: int, fire_ms: int) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Arn": self._target_arn,
            "RoleArn": self._role_arn,
            "Input": json.dumps(timer_event(timer, due_ms), separators=(",", ":")),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185},
        }
        if self._dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self._dead_letter_arn}
        return {
            "Name": name,
            "GroupName": self._group,
            "ScheduleExpression": at_expression(fire_ms),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Description": f"wardlink detector timer {timer.name} of {timer.model}"[:512],
            "Target": target,
        }

    def _delete(self, name: str) -> None:
        try:
            self._client.delete_schedule(Name=name, GroupName=self._group)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            return
        self.deleted += 1
