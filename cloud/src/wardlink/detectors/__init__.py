"""An AWS IoT Events detector-model engine in pure Python.

IoT Events ended on 2026-05-20; Wardlink keeps its detector models in the
CreateDetectorModel request format and runs them here, in the engine Lambda
(behind Kinesis, with DynamoDB state and EventBridge Scheduler timers) and in
local replays, with the same code. Nothing in this package imports boto3.

Layers, from the inside out:

- ``expressions``: tokenizer, Pratt parser and closure compiler of the expression language;
- ``model``: a CreateDetectorModel request loaded and compiled (``DetectorModel``);
- ``evaluator``: one pure evaluation of one instance (``evaluate``);
- ``engine``: commit with optimistic concurrency, then timers and actions (``DetectorEngine``);
- seams: ``StateStore``, ``TimerScheduler``, ``ActionSink`` with local implementations;
- ``replay``: the ``wardlink detectors run`` driver; ``alarms``: alarm state machine;
- ``validation``: checks against the published API request shape.
"""

from wardlink.detectors.actions import RenderedAction, TriggerDetails
from wardlink.detectors.engine import DetectorEngine
from wardlink.detectors.errors import ConcurrencyError, DetectorModelError, InputRejectedError
from wardlink.detectors.evaluator import Notice, Outcome, Transition, Trigger, evaluate
from wardlink.detectors.instance import DetectorInstance
from wardlink.detectors.model import DetectorModel, EvaluationMethod
from wardlink.detectors.sinks import ActionSink, CollectingSink, JsonLinesSink, NullSink
from wardlink.detectors.store import (
    InMemoryStateStore,
    StateStore,
    StoredInstance,
    VersionConflictError,
    detector_key,
)
from wardlink.detectors.timers import HeapTimerScheduler, TimerRef, TimerScheduler

__all__ = [
    "ActionSink",
    "CollectingSink",
    "ConcurrencyError",
    "DetectorEngine",
    "DetectorInstance",
    "DetectorModel",
    "DetectorModelError",
    "EvaluationMethod",
    "HeapTimerScheduler",
    "InMemoryStateStore",
    "InputRejectedError",
    "JsonLinesSink",
    "Notice",
    "NullSink",
    "Outcome",
    "RenderedAction",
    "StateStore",
    "StoredInstance",
    "TimerRef",
    "TimerScheduler",
    "Transition",
    "Trigger",
    "TriggerDetails",
    "VersionConflictError",
    "detector_key",
    "evaluate",
]
