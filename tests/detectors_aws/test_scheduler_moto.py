"""EventBridge Scheduler timers (moto): names, requests, lazy re-arming, replace, cancel."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from wardlink.detectors.aws.scheduler import (
    EventBridgeTimers,
    at_expression,
    parse_timer_event,
    schedule_name,
    timer_event,
)
from wardlink.detectors.timers import TimerRef
from wardlink.detectors.timeutil import parse_iso_ms

GROUP = "wardlink-test-detector-timers"
ENGINE = "arn:aws:lambda:eu-west-1:123456789012:function:wardlink-engine"
ROLE = "arn:aws:iam::123456789012:role/scheduler"
NOW = parse_iso_ms("2026-11-21T08:00:00Z")


@pytest.fixture
def scheduler() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client(
            "scheduler", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        client.create_schedule_group(Name=GROUP)
        yield client


def _timers(client: Any, clock: list[int]) -> EventBridgeTimers:
    return EventBridgeTimers(
        client,
        group_name=GROUP,
        target_arn=ENGINE,
        role_arn=ROLE,
        dead_letter_arn="arn:aws:sqs:eu-west-1:123456789012:timer-dlq",
        clock_ms=lambda: clock[0],
    )


def test_names_are_deterministic_short_and_distinct() -> None:
    long_key = "gw-" + "x" * 120 + "/device with spaces#1"
    names = {
        schedule_name(TimerRef("wardlink-device-offline", f"gw/{n}", "heartbeat"))
        for n in range(500)
    }
    assert len(names) == 500
    for ref in (
        TimerRef("wardlink-device-offline", long_key, "heartbeat"),
        TimerRef("m" * 200, None, "t" * 200),
        TimerRef("a", "b/c", "d"),
    ):
        name = schedule_name(ref)
        assert len(name) <= 64 and re.fullmatch(r"[0-9A-Za-z_.-]+", name)
        assert name == schedule_name(TimerRef(ref.model, ref.key, ref.name))
    # keys differing only in characters the readable prefix cannot hold still differ
    assert schedule_name(TimerRef("m", "gw/a b", "t")) != schedule_name(
        TimerRef("m", "gw/a-b", "t")
    )


def test_timer_event_round_trip_and_at_expression() -> None:
    ref = TimerRef("wardlink-device-offline", "gw/pulse-1", "heartbeat")
    event = json.loads(json.dumps(timer_event(ref, NOW + 300_500)))
    assert parse_timer_event(event["wardlinkTimer"]) == (ref, NOW + 300_500)
    assert at_expression(NOW + 300_500) == "at(2026-11-21T08:05:01)"  # never early
    with pytest.raises(ValueError, match="timer"):
        parse_timer_event({"model": "m", "key": "k"})


def test_schedule_creates_a_self_deleting_one_time_schedule(scheduler: Any) -> None:
    clock = [NOW]
    timers = _timers(scheduler, clock)
    ref = TimerRef("wardlink-device-offline", "gw/pulse-1", "heartbeat")
    timers.schedule(ref, NOW + 300_000)
    got = scheduler.get_schedule(Name=schedule_name(ref), GroupName=GROUP)
    assert got["ScheduleExpression"] == "at(2026-11-21T08:05:00)"
    assert got["ScheduleExpressionTimezone"] == "UTC"
    assert got["ActionAfterCompletion"] == "DELETE"
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert got["Target"]["Arn"] == ENGINE and got["Target"]["RoleArn"] == ROLE
    assert got["Target"]["DeadLetterConfig"]["Arn"].endswith(":timer-dlq")
    body = json.loads(got["Target"]["Input"])["wardlinkTimer"]
    assert body == {
        "model": "wardlink-device-offline",
        "key": "gw/pulse-1",
        "timer": "heartbeat",
        "due": "2026-11-21T08:05:00Z",
        "due_ms": NOW + 300_000,
    }


def test_resets_keep_the_earlier_schedule_and_earlier_dues_replace_it(scheduler: Any) -> None:
    clock = [NOW]
    timers = _timers(scheduler, clock)
    ref = TimerRef("wardlink-device-offline", "gw/pulse-1", "heartbeat")
    timers.schedule(ref, NOW + 300_000)
    for second in range(1, 30):  # a device reporting every second resets the heartbeat
        clock[0] = NOW + second * 1000
        timers.schedule(ref, clock[0] + 300_000)
    assert (timers.created, timers.skipped) == (1, 29)  # one schedule, not thirty

    timers.schedule(ref, NOW + 100_000)  # an earlier due must not wait for the later firing
    got = scheduler.get_schedule(Name=schedule_name(ref), GroupName=GROUP)
    assert got["ScheduleExpression"] == "at(2026-11-21T08:01:40)"
    assert timers.created == 2

    clock[0] = NOW + 200_000  # the armed firing is past: a new due needs a new schedule
    timers.schedule(ref, NOW + 500_000)
    assert timers.created == 3


def test_another_environment_replaces_an_existing_schedule(scheduler: Any) -> None:
    clock = [NOW]
    ref = TimerRef("wardlink-gateway-health", "gw", "heartbeat")
    _timers(scheduler, clock).schedule(ref, NOW + 300_000)
    other = _timers(scheduler, clock)  # knows nothing about that schedule
    other.schedule(ref, NOW + 360_000)
    got = scheduler.get_schedule(Name=schedule_name(ref), GroupName=GROUP)
    assert got["ScheduleExpression"] == "at(2026-11-21T08:06:00)"
    assert other.deleted == 1 and other.created == 1


def test_cancel_deletes_and_ignores_missing_schedules(scheduler: Any) -> None:
    clock = [NOW]
    timers = _timers(scheduler, clock)
    ref = TimerRef("m", "k", "t")
    timers.schedule(ref, NOW + 60_000)
    timers.cancel(ref)
    assert scheduler.list_schedules(GroupName=GROUP)["Schedules"] == []
    timers.cancel(ref)  # already gone (fired and self-deleted): not an error
    timers.schedule(ref, NOW + 90_000)  # and a new schedule is created after a cancel
    assert len(scheduler.list_schedules(GroupName=GROUP)["Schedules"]) == 1


def test_past_due_times_are_scheduled_slightly_ahead(scheduler: Any) -> None:
    clock = [NOW]
    timers = _timers(scheduler, clock)
    ref = TimerRef("m", "k", "t")
    timers.arm(ref, NOW - 5_000)  # overdue (slow processing): fire as soon as possible
    got = scheduler.get_schedule(Name=schedule_name(ref), GroupName=GROUP)
    assert got["ScheduleExpression"] == "at(2026-11-21T08:00:02)"
    assert json.loads(got["Target"]["Input"])["wardlinkTimer"]["due_ms"] == NOW - 5_000
