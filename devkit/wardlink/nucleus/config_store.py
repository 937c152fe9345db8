"""Component configuration with update timestamps and change subscriptions.

Mirrors what the IPC configuration operations see on a nucleus:

* ``get`` returns the object at a key path; a leaf comes back wrapped as
  ``{leafKey: value}`` because the IPC ``value`` field is always an object.
* ``update`` merges an object at a key path of the caller's own configuration.
  Each write carries a timestamp; a write older than the newest change under
  its key path loses with FailedUpdateConditionCheckError, which is how the
  nucleus resolves concurrent writers.
* ``subscribe`` reports the key path of every leaf that changed at or below
  the subscribed path.

``accessControl`` cannot be changed over IPC: authorization was decided at
start-up and a component must not be able to widen its own policy.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wardlink.nucleus.errors import (
    FailedUpdateConditionCheckError,
    InvalidArgumentsError,
    ResourceNotFoundError,
)

KeyPath = tuple[str, ...]
ChangeListener = Callable[[str, KeyPath], None]
PROTECTED_KEYS = frozenset({"accessControl"})


@dataclass(frozen=True)
class _Subscription:
    component: str
    key_path: KeyPath
    listener: ChangeListener


def _leaves(value: Any, prefix: KeyPath) -> list[tuple[KeyPath, Any]]:
    if isinstance(value, Mapping) and value:
        out: list[tuple[KeyPath, Any]] = []
        for key, child in value.items():
            out.extend(_leaves(child, (*prefix, str(key))))
        return out
    return [(prefix, value)]


class ConfigStore:
    """Thread-safe configuration of every component the emulator knows."""

    def __init__(
        self,
        configurations: Mapping[str, Mapping[str, Any]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._configs: dict[str, dict[str, Any]] = {
            name: copy.deepcopy(dict(config)) for name, config in configurations.items()
        }
        self._modified: dict[str, dict[KeyPath, float]] = {name: {} for name in self._configs}
        self._subscriptions: dict[int, _Subscription] = {}
        self._ids = itertools.count(1)
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def components(self) -> list[str]:
        return sorted(self._configs)

    def snapshot(self, component: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._require(component))

    def _require(self, component: str) -> dict[str, Any]:
        config = self._configs.get(component)
        if config is None:
            raise ResourceNotFoundError(
                f"component {component} is not known to the nucleus",
                resource_type="Component",
                resource_name=component,
            )
        return config

    def get(self, component: str, key_path: Sequence[str]) -> dict[str, Any]:
        with self._lock:
            node: Any = self._require(component)
            for key in key_path:
                if not isinstance(node, dict) or key not in node:
                    raise ResourceNotFoundError(
                        f"key {'/'.join(key_path)} not found in the configuration of {component}",
                        resource_type="Configuration",
                        resource_name="/".join(key_path),
                    )
                node = node[key]
            if isinstance(node, dict):
                return copy.deepcopy(node)
            if not key_path:
                return {}
            return {key_path[-1]: copy.deepcopy(node)}

    def update(
        self,
        component: str,
        key_path: Sequence[str],
        value_to_merge: Mapping[str, Any],
        timestamp: float | None = None,
    ) -> list[KeyPath]:
        """Merge ``value_to_merge`` at ``key_path``; returns the changed leaf paths."""
        path: KeyPath = tuple(key_path)
        if not isinstance(value_to_merge, Mapping):
            raise InvalidArgumentsError("valueToMerge must be an object")
        touched = {path[0]} if path else set(value_to_merge)
        if touched & PROTECTED_KEYS:
            raise InvalidArgumentsError("accessControl cannot be changed over IPC")
        stamp = self._clock() if timestamp is None else float(timestamp)
        with self._lock:
            config = self._require(component)
            modified = self._modified[component]
            newest = max(
                (t for p, t in modified.items() if p[: len(path)] == path or path[: len(p)] == p),
                default=0.0,
            )
            if stamp < newest:
                raise FailedUpdateConditionCheckError(
                    f"update of {component} at {'/'.join(path) or '/'} has timestamp {stamp}, "
                    f"older than the last change at {newest}"
                )
            changed: list[KeyPath] = []
            for leaf_path, value in _leaves(value_to_merge, path):
                node = config
                for key in leaf_path[:-1]:
                    child = node.get(key)
                    if not isinstance(child, dict):
                        child = {}
                        node[key] = child
                    node = child
                if not leaf_path:
                    continue
                last = leaf_path[-1]
                new_value = copy.deepcopy(value)
                if last in node and node[last] == new_value:
                    continue
                node[last] = new_value
                modified[leaf_path] = stamp
                changed.append(leaf_path)
            listeners = [s for s in self._subscriptions.values() if s.component == component]
        for leaf_path in changed:
            for subscription in listeners:
                sub = subscription.key_path
                if leaf_path[: len(sub)] == sub or sub[: len(leaf_path)] == leaf_path:
                    subscription.listener(component, leaf_path)
        return changed

    def subscribe(
        self, component: str, key_path: Sequence[str], listener: ChangeListener
    ) -> Callable[[], None]:
        """Call ``listener(component, changed_path)`` on changes; returns an unsubscribe."""
        with self._lock:
            self._require(component)
            subscription_id = next(self._ids)
            self._subscriptions[subscription_id] = _Subscription(
                component, tuple(key_path), listener
            )

        def unsubscribe() -> None:
            with self._lock:
                self._subscriptions.pop(subscription_id, None)

        return unsubscribe
