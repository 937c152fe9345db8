"""The DynamoDB StateStore against DynamoDB Local: round trips and optimistic concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.detectors_aws.conftest import Tables
from wardlink.detectors import DetectorEngine, DetectorModel, NullSink, VersionConflictError
from wardlink.detectors.aws.state_store import DynamoDBStateStore
from wardlink.detectors.instance import DetectorInstance
from wardlink.detectors.store import StoredInstance
from wardlink.detectors.timers import HeapTimerScheduler

COUNTER = {
    "detectorModelName": "counter",
    "key": "device_uid",
    "evaluationMethod": "SERIAL",
    "roleArn": "arn:aws:iam::123456789012:role/r",
    "detectorModelDefinition": {
        "initialStateName": "Counting",
        "states": [
            {
                "stateName": "Counting",
                "onEnter": {
                    "events": [
                        {
                            "eventName": "init",
                            "condition": "isUndefined($variable.n)",
                            "actions": [{"setVariable": {"variableName": "n", "value": "0"}}],
                        }
                    ]
                },
                "onInput": {
                    "events": [
                        {
                            "eventName": "count",
                            "actions": [
                                {"setVariable": {"variableName": "n", "value": "$variable.n + 1"}},
                                {
                                    "setVariable": {
                                        "variableName": "last",
                                        "value": "$input.Tick.who",
                                    }
                                },
                            ],
                        }
                    ],
                    "transitionEvents": [
                        {
                            "eventName": "full",
                            "condition": "$variable.n >= 2",
                            "actions": [],
                            "nextState": "Full",
                        }
                    ],
                },
            },
            {"stateName": "Full", "onInput": {"events": []}},
        ],
    },
}


def test_round_trip_keeps_integer_decimal_and_timers(ddb: Any, tables: Tables, gw_id: str) -> None:
    store = DynamoDBStateStore(ddb, tables.detector_state)
    instance = DetectorInstance(
        "Online",
        variables={"count": 3, "ratio": 30.0, "name": "pulse", "ok": True},
        timers={"heartbeat": 1_800_000_300_000},
        timer_durations={"heartbeat": 300},
        expired_timers={"old"},
        inputs={"WardlinkTelemetry": {"value": 97.5, "device_id": "pulse-1"}},
        created_ms=1_800_000_000_000,
        updated_ms=1_800_000_000_123,
    )
    assert store.get("m", f"{gw_id}/pulse-1") is None
    assert store.put("m", f"{gw_id}/pulse-1", instance, None) == 1
    stored = store.get("m", f"{gw_id}/pulse-1")
    assert stored is not None and stored.version == 1
    back = stored.instance
    assert back.to_json() == instance.to_json()
    assert type(back.variables["count"]) is int and type(back.variables["ratio"]) is float

    item = ddb.get_item(
        TableName=tables.detector_state, Key={"detector_key": {"S": f"m#{gw_id}/pulse-1"}}
    )
    readable = item["Item"]
    assert readable["state"] == {"S": "Online"}
    assert readable["timers"] == {"M": {"heartbeat": {"S": "2027-01-15T08:05:00Z"}}}
    assert readable["variables"]["M"]["count"] == {"N": "3"}
    assert readable["version"] == {"N": "1"}


def test_conditional_writes_refuse_stale_versions(ddb: Any, tables: Tables, gw_id: str) -> None:
    store = DynamoDBStateStore(ddb, tables.detector_state)
    m = f"model-{gw_id}"
    first = DetectorInstance("A")
    assert store.put(m, None, first, None) == 1
    with pytest.raises(VersionConflictError):
        store.put(m, None, DetectorInstance("B"), None)  # must not exist yet
    assert store.put(m, None, DetectorInstance("B"), 1) == 2
    with pytest.raises(VersionConflictError):
        store.put(m, None, DetectorInstance("C"), 1)  # someone committed version 2
    stored = store.get(m, None)
    assert stored is not None and (stored.instance.state_name, stored.version) == ("B", 2)


class PausingStore:
    """A real DynamoDB store that can hold one writer between its read and its write.

    This is how two shards interleave in AWS: both read version N, one commits N+1,
    the other's conditional write then fails.
    """

    def __init__(self, inner: DynamoDBStateStore) -> None:
        self.inner = inner
        self.read_done = threading.Event()
        self.may_write = threading.Event()
        self.pause_once = False
        self.conflicts = 0

    def get(self, model_name: str, key: str | None) -> StoredInstance | None:
        return self.inner.get(model_name, key)

    def put(
        self,
        model_name: str,
        key: str | None,
        instance: DetectorInstance,
        expected_version: int | None,
    ) -> int:
        if self.pause_once:
            self.pause_once = False
            self.read_done.set()
            assert self.may_write.wait(10), "the other writer never committed"
        try:
            return self.inner.put(model_name, key, instance, expected_version)
        except VersionConflictError:
            self.conflicts += 1
            raise


def test_two_concurrent_writers_one_loses_and_re_evaluates(
    ddb: Any, tables: Tables, gw_id: str
) -> None:
    model = DetectorModel.from_request(COUNTER)
    slow_store = PausingStore(DynamoDBStateStore(ddb, tables.detector_state))
    fast_store = DynamoDBStateStore(ddb, tables.detector_state)
    slow = DetectorEngine(model, slow_store, HeapTimerScheduler(), NullSink())
    fast = DetectorEngine(model, fast_store, HeapTimerScheduler(), NullSink())
    key = f"{gw_id}/pump-7"
    slow_store.pause_once = True

    results: dict[str, Any] = {}

    def run_slow() -> None:
        results["slow"] = slow.handle_message("Tick", {"device_uid": key, "who": "slow"}, 1000)

    thread = threading.Thread(target=run_slow)
    thread.start()
    assert slow_store.read_done.wait(10)  # slow has read "no instance" and evaluated n=1
    results["fast"] = fast.handle_message("Tick", {"device_uid": key, "who": "fast"}, 1001)
    slow_store.may_write.set()
    thread.join(10)
    assert not thread.is_alive()

    assert slow_store.conflicts == 1  # its first conditional write lost
    stored = fast_store.get("counter", key)
    assert stored is not None
    # both evaluations counted: the loser re-read fast's commit and evaluated again
    assert stored.instance.variables["n"] == 2
    assert stored.instance.variables["last"] == "slow"
    assert stored.instance.state_name == "Full"
    assert stored.version == 2
    assert [t.to_state for t in results["slow"].transitions] == ["Full"]
