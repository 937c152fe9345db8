"""Why a device is not running: a fault with a reason, instead of a dead component.

A gateway runs many devices in one DeviceProxy. One of them may be unable to start
- its serial port is not there, the Bluetooth library cannot be imported, its
profile or codec does not exist - and that must cost that one device, never the
others and never the component. The proxy turns whatever stopped a device into a
``DeviceFault``: a cause (a short code the cloud detectors and the UI can rely
on), a reason a technician can act on, and whether retrying can help.

The causes are decided by an ordered table of small named rules, first match
wins, so the next special case is one more row. Retrying helps only where the
world can change under the same configuration (a port that appears when the
adapter is plugged in); a bad profile or a missing library stays faulted until
the configuration or the installation changes.

Reasons are built from configuration and exception messages of our own code and
libraries; an exception we did not foresee is reported by its type only, since
its message could quote device data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from wardlink.model import Connectivity, DeviceStatus, WardlinkError
from wardlink.profiles import ProfileError
from wardlink.transports import TransportError

FAULT_CODE = "device-fault"
MAX_REASON = 240


class FaultCause(StrEnum):
    """What kind of thing stopped a device; published as ``device-fault:<cause>``."""

    LIBRARY_MISSING = "library-missing"
    PROFILE_ERROR = "profile-error"
    CODEC_UNKNOWN = "codec-unknown"
    CONFIGURATION_INVALID = "configuration-invalid"
    TRANSPORT_UNAVAILABLE = "transport-unavailable"
    LINK_ENDED = "link-ended"
    INTERNAL_ERROR = "internal-error"


class DeviceSetupError(WardlinkError, ValueError):
    """A device configuration the proxy cannot run, naming the fault it becomes.

    Raised while a device's worker is assembled (no codec, no port, no Bluetooth
    address...). It is a ``ValueError`` too, for callers that build workers
    directly and treat every configuration problem alike.
    """

    def __init__(self, cause: FaultCause, reason: str, *, retry: bool = False) -> None:
        super().__init__(reason)
        self.cause = cause
        self.retry = retry


@dataclass(frozen=True)
class Diagnosis:
    """A rule's verdict: the cause, whether to retry, and the reason in words."""

    cause: FaultCause
    retry: bool
    reason: str


@dataclass(frozen=True)
class DeviceFault:
    """A configured device that is not running, and why."""

    device_id: str
    cause: FaultCause
    reason: str
    retry: bool
    since: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def code(self) -> str:
        return f"{FAULT_CODE}:{self.cause.value}"

    def same_as(self, other: DeviceFault | None) -> bool:
        """Whether ``other`` is this fault again (a retry that failed the same way)."""
        return other is not None and (other.cause, other.reason) == (self.cause, self.reason)

    def status(self) -> DeviceStatus:
        """The raw device status that says so; the policy seals it like any other."""
        return DeviceStatus(
            device_id=self.device_id,
            at=self.since,
            connectivity=Connectivity.DISCONNECTED,
            error_codes=(FAULT_CODE, self.code),
            detail=self.reason,
        )


Rule = Callable[[BaseException], Diagnosis | None]


def _clip(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def setup_error(exc: BaseException) -> Diagnosis | None:
    """Our own assembly code already knows the cause."""
    if isinstance(exc, DeviceSetupError):
        return Diagnosis(exc.cause, exc.retry, _clip(str(exc)))
    return None


def missing_library(exc: BaseException) -> Diagnosis | None:
    """A library the device's transport needs is not installed (bleak on a serial-only box)."""
    if isinstance(exc, ImportError):
        name = exc.name or "a required library"
        return Diagnosis(
            FaultCause.LIBRARY_MISSING, False, _clip(f"{name} cannot be imported: {exc}")
        )
    return None


def bad_profile(exc: BaseException) -> Diagnosis | None:
    """The profile is unknown, unreadable or invalid; the message names it and the field."""
    if isinstance(exc, ProfileError):
        return Diagnosis(FaultCause.PROFILE_ERROR, False, _clip(str(exc)))
    return None


def transport_unavailable(exc: BaseException) -> Diagnosis | None:
    """The port, adapter or socket is not there now; it may be later."""
    if isinstance(exc, TransportError | OSError):
        return Diagnosis(FaultCause.TRANSPORT_UNAVAILABLE, True, _clip(str(exc) or repr(exc)))
    return None


def invalid_configuration(exc: BaseException) -> Diagnosis | None:
    """Settings the transport or model refused while the device was being assembled."""
    if isinstance(exc, ValueError):
        return Diagnosis(FaultCause.CONFIGURATION_INVALID, False, _clip(str(exc)))
    return None


def unexpected(exc: BaseException) -> Diagnosis | None:
    """Anything else: a bug. Retried with backoff; reported by type, its message may hold data."""
    return Diagnosis(
        FaultCause.INTERNAL_ERROR,
        True,
        f"unexpected {type(exc).__name__} in the device pipeline (details in the gateway log)",
    )


# While a worker is being built: configuration problems are permanent.
SETUP_RULES: tuple[Rule, ...] = (
    setup_error,
    missing_library,
    bad_profile,
    transport_unavailable,
    invalid_configuration,
    unexpected,
)
# While it runs: data has flowed through it, so only link failures keep their words.
RUN_RULES: tuple[Rule, ...] = (setup_error, missing_library, transport_unavailable, unexpected)


def diagnose(device_id: str, exc: BaseException, rules: tuple[Rule, ...]) -> DeviceFault:
    """The fault ``exc`` means for a device, by the first rule that recognises it."""
    for rule in rules:
        verdict = rule(exc)
        if verdict is not None:
            return DeviceFault(device_id, verdict.cause, verdict.reason, verdict.retry)
    raise AssertionError("the last rule recognises every exception")


def link_ended(device_id: str) -> DeviceFault:
    """The transport stopped yielding data although nobody asked it to stop."""
    return DeviceFault(device_id, FaultCause.LINK_ENDED, "the device link ended unexpectedly", True)
