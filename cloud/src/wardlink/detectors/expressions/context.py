"""What an expression can see while it is evaluated."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _no_timers(name: str) -> bool:
    return False


class EvalContext:
    """Variables, retained input payloads and trigger details of one evaluation.

    A plain class with slots rather than a dataclass: compiled expressions read
    these attributes on every evaluation, and slot access is the cheapest.
    """

    __slots__ = ("current_input", "inputs", "timer_probe", "trigger_type", "variables")

    def __init__(
        self,
        *,
        variables: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        current_input: str | None = None,
        trigger_type: str = "Message",
        timer_probe: Callable[[str], bool] = _no_timers,
    ) -> None:
        self.variables: Mapping[str, Any] = variables if variables is not None else {}
        self.inputs: Mapping[str, Any] = inputs if inputs is not None else {}
        self.current_input = current_input
        self.trigger_type = trigger_type
        self.timer_probe = timer_probe
