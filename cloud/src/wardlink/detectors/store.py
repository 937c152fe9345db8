"""Where detector instances live between evaluations.

``StateStore`` is the seam for the cloud: the DynamoDB implementation maps
``put(expected_version=...)`` to a conditional write (``attribute_not_exists`` for
a new instance, ``version = :expected`` otherwise), so two Kinesis shards or a
timer callback racing an input cannot both commit on top of the same version.
The engine retries on ``VersionConflictError`` by re-reading and re-evaluating.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from wardlink.detectors.instance import DetectorInstance


def detector_key(model_name: str, key: str | None) -> str:
    """The DetectorState partition key: ``{detectorModelName}#{keyValue}``."""
    return f"{model_name}#{key if key is not None else ''}"


class VersionConflictError(Exception):
    """Another writer committed first; re-read and evaluate again."""


@dataclass(frozen=True, slots=True)
class StoredInstance:
    instance: DetectorInstance
    version: int


class StateStore(Protocol):
    """Versioned get/put of detector instances (optimistic concurrency)."""

    def get(self, model_name: str, key: str | None) -> StoredInstance | None:
        """The instance and its version, or None if no instance exists for the key."""
        ...

    def put(
        self,
        model_name: str,
        key: str | None,
        instance: DetectorInstance,
        expected_version: int | None,
    ) -> int:
        """Write if the stored version is ``expected_version`` (None: must not exist).

        Returns the new version; raises ``VersionConflictError`` otherwise. The caller
        hands ``instance`` over: it must not mutate it afterwards (the engine only
        ever mutates fresh copies), so a store may keep the object as it is.
        """
        ...


class InMemoryStateStore:
    """A dict-backed store for local runs, tests and benchmarks.

    ``round_trip_json=True`` stores the JSON form, proving every state the engine
    produces survives serialization as the DynamoDB store will need.
    """

    def __init__(self, *, round_trip_json: bool = False) -> None:
        self._items: dict[str, tuple[int, DetectorInstance | str]] = {}
        self._round_trip = round_trip_json

    def get(self, model_name: str, key: str | None) -> StoredInstance | None:
        item = self._items.get(detector_key(model_name, key))
        if item is None:
            return None
        version, stored = item
        if isinstance(stored, str):
            return StoredInstance(DetectorInstance.from_json(json.loads(stored)), version)
        return StoredInstance(stored, version)

    def put(
        self,
        model_name: str,
        key: str | None,
        instance: DetectorInstance,
        expected_version: int | None,
    ) -> int:
        item_key = detector_key(model_name, key)
        current = self._items.get(item_key)
        current_version = current[0] if current is not None else None
        if current_version != expected_version:
            raise VersionConflictError(
                f"{item_key}: expected version {expected_version}, found {current_version}"
            )
        new_version = (current_version or 0) + 1
        stored: DetectorInstance | str = (
            json.dumps(instance.to_json(), sort_keys=True) if self._round_trip else instance
        )
        self._items[item_key] = (new_version, stored)
        return new_version

    def keys(self, model_name: str) -> list[str]:
        """Key values of the model's instances (for inspection and tests)."""
        prefix = f"{model_name}#"
        return sorted(k[len(prefix) :] for k in self._items if k.startswith(prefix))
