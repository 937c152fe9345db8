"""A device's site-assigned location under the policy: by default only the unit leaves.

The technician assigns unit, room and bed on the gateway; ``location.send`` in the
policy says which of them go out with the device's telemetry. Something that is not
a ward label (a name, a long number) never leaves, whatever the policy says.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wardlink.model import DeviceIdentity, Metric, Observation
from wardlink.phi import PolicyError, RedactionPolicy

DEVICE = DeviceIdentity(device_id="bed-1-oximeter", model="Nonin 9560")
WHERE = {"unit": "ICU-2", "room": "12", "bed": "B"}


def _sealed(policy: RedactionPolicy, location: dict[str, str] | None) -> dict[str, object]:
    observation = Observation(
        device_id="bed-1-oximeter",
        metric=Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2"),
        value=97.0,
        unit="%",
        measured_at=datetime(2026, 11, 3, 14, 22, 5, tzinfo=UTC),
    )
    [out] = policy.redact_observations([observation], DEVICE, None, location)
    return {k: v for k, v in out.model_dump().items() if k.startswith("location_")}


def test_by_default_only_the_unit_leaves() -> None:
    policy = RedactionPolicy.default()
    assert _sealed(policy, WHERE) == {
        "location_unit": "ICU-2", "location_room": None, "location_bed": None,
    }  # fmt: skip
    assert _sealed(policy, None) == dict.fromkeys(
        ("location_unit", "location_room", "location_bed")
    )


def test_the_policy_chooses_what_leaves() -> None:
    nothing = RedactionPolicy.from_config({"location": {"send": []}})
    assert set(_sealed(nothing, WHERE).values()) == {None}
    everything = RedactionPolicy.from_config({"location": {"send": ["unit", "room", "bed"]}})
    assert _sealed(everything, WHERE) == {
        "location_unit": "ICU-2", "location_room": "12", "location_bed": "B",
    }  # fmt: skip
    with pytest.raises(PolicyError):
        RedactionPolicy.from_config({"location": {"send": ["street"]}})


def test_what_is_not_a_ward_label_stays_on_site() -> None:
    policy = RedactionPolicy.from_config({"location": {"send": ["unit", "room", "bed"]}})
    sealed = _sealed(policy, {"unit": "Quinn Zorblax", "room": "0012345678", "bed": "B"})
    assert sealed == {"location_unit": None, "location_room": None, "location_bed": "B"}


def _registered(policy: RedactionPolicy, location: dict[str, str] | None) -> dict[str, object]:
    """The registration the Uplink sends for a device the DeviceProxy announced."""
    import json
    from types import SimpleNamespace

    from wardlink.contract.models import DeviceRegistration
    from wardlink.gateway.device_worker import WorkerCounters
    from wardlink.gateway.proxy import device_announcement
    from wardlink.model import Connectivity
    from wardlink.uplink.registrar import DeviceRegistrar

    worker = SimpleNamespace(
        identity=DEVICE,
        connectivity=Connectivity.CONNECTED,
        counters=WorkerCounters(),
        expected_interval_s=1.0,
        location=(lambda device_id: location) if location is not None else None,
    )
    [announced] = json.loads(device_announcement(policy, [worker]))  # type: ignore[list-item]
    registrar = DeviceRegistrar(lambda: None, "gw-1")
    registrar.offer(announced)
    [registration] = registrar._wanted.values()
    DeviceRegistration.model_validate(registration)  # the API accepts it as it is
    return {k: v for k, v in registration.items() if k.startswith("location_")}


def test_registration_follows_the_same_setting() -> None:
    assert _registered(RedactionPolicy.default(), WHERE) == {"location_unit": "ICU-2"}
    assert _registered(RedactionPolicy.default(), None) == {}
    nothing = RedactionPolicy.from_config({"location": {"send": []}})
    assert _registered(nothing, WHERE) == {}
    everything = RedactionPolicy.from_config({"location": {"send": ["unit", "room", "bed"]}})
    assert _registered(everything, WHERE) == {
        "location_unit": "ICU-2", "location_room": "12", "location_bed": "B",
    }  # fmt: skip
    odd = {"unit": "Quinn Zorblax", "room": "0012345678", "bed": "B"}
    assert _registered(everything, odd) == {"location_bed": "B"}
