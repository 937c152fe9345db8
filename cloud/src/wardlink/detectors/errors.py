"""Errors of the detector engine."""

from __future__ import annotations


class DetectorModelError(ValueError):
    """A detector model that cannot be loaded; lists every problem found, not just the first."""

    def __init__(self, model_name: str, problems: list[str]) -> None:
        self.model_name = model_name
        self.problems = problems
        joined = "\n  - ".join(problems)
        super().__init__(f"detector model {model_name!r} is invalid:\n  - {joined}")


class InputRejectedError(ValueError):
    """An input message the engine cannot route, e.g. it lacks the model's key attribute.

    Raised instead of silently dropping the message, so the caller can dead-letter it.
    """


class ConcurrencyError(RuntimeError):
    """The state store kept reporting version conflicts; the evaluation was not committed."""
