"""The values of the patient contexts this process holds right now, for the log filter.

The text scrubber recognises names from a lexicon and from context; a surname it has
never seen ("Oyelaran-Quist") in a log line with no context ("field [...]") passes.
The one thing that always knows the patient's values is the ``PatientContext`` the
codec built. This registry lets the log filter (``wardlink.phi.logfilter``) ask
"which values does this process hold?" without holding a reference to any context:

* ``PatientContext`` registers itself as it is built (``model_post_init``), so every
  codec, present and future, fills the registry without having to remember to;
* the context is held by a weak reference, and its entry goes when the context is
  garbage-collected: the registry knows exactly the patients the process still
  holds (a DeviceWorker keeps its device's latest context), never a history;
* it is per process and never serialized: it is a module-level object, refuses
  pickling and its ``repr`` shows counts only. Nothing sends it anywhere.

It lives in core, next to ``PatientContext``, and imports only the standard library,
so that the log filter, which every component installs, can read it without loading
pydantic models into a process (the Uplink) that never holds a patient.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any, NoReturn

from wardlink.model.errors import PHIBoundaryError

__all__ = ["LIVE_PATIENTS", "LivePatientValues", "live_patient_values"]


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise PHIBoundaryError("the live patient values never leave this process")


class _KeyedRef(weakref.ref[Any]):
    """A weak reference that remembers its registry key (the owner's ``id``)."""

    __slots__ = ("key",)
    key: int


class LivePatientValues:
    """Weakly held owners (patient contexts) and the identifying strings each holds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[_KeyedRef, tuple[str, ...]]] = {}
        # Weak-reference callbacks run inside the garbage collector, possibly while this
        # thread holds the lock: they only queue the dead reference, the next call drains.
        self._dead: deque[_KeyedRef] = deque()
        self._snapshot: tuple[str, ...] | None = ()

    def hold(self, owner: object, values: Iterable[str]) -> None:
        """Remember ``values`` for as long as ``owner`` lives (or until ``release``)."""
        kept = tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
        ref = _KeyedRef(owner, self._dead.append)
        ref.key = id(owner)
        with self._lock:
            self._drain()
            if kept:
                self._entries[id(owner)] = (ref, kept)
            else:
                self._entries.pop(id(owner), None)
            self._snapshot = None

    def release(self, owner: object) -> None:
        """Forget ``owner``'s values now (a worker that hands its patient back)."""
        with self._lock:
            self._drain()
            entry = self._entries.get(id(owner))
            if entry is not None and entry[0]() is owner:
                del self._entries[id(owner)]
                self._snapshot = None

    def values(self) -> tuple[str, ...]:
        """Every value of every live owner, each once, longest first.

        The same tuple object is returned until the set changes, so a caller can cache
        what it derives from it by identity.
        """
        with self._lock:
            self._drain()
            snapshot = self._snapshot
            if snapshot is None:
                found = dict.fromkeys(
                    value
                    for ref, values in self._entries.values()
                    if ref() is not None
                    for value in values
                )
                snapshot = self._snapshot = tuple(sorted(found, key=lambda v: (-len(v), v)))
            return snapshot

    def __len__(self) -> int:
        with self._lock:
            self._drain()
            return sum(1 for ref, _ in self._entries.values() if ref() is not None)

    def _drain(self) -> None:
        while self._dead:
            ref = self._dead.popleft()
            entry = self._entries.get(ref.key)
            if entry is not None and entry[0] is ref:  # not a newer owner at the same address
                del self._entries[ref.key]
                self._snapshot = None

    def __repr__(self) -> str:
        return f"LivePatientValues(<{len(self)} live contexts>)"

    __reduce__ = _refuse
    __reduce_ex__ = _refuse
    __getstate__ = _refuse
    __copy__ = _refuse
    __deepcopy__ = _refuse


#: The process's registry: filled by ``PatientContext``, read by the log filter.
LIVE_PATIENTS = LivePatientValues()


def live_patient_values() -> tuple[str, ...]:
    """The values of the patient contexts alive in this process, longest first."""
    return LIVE_PATIENTS.values()
