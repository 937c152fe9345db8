"""Two gateways against the local cloud: each reaches only its own data.

Gateway B holds real credentials of its own (minted by the running local cloud for
its thing name, as the IoT credentials provider does) and tries every route at
gateway A's devices and uploads; each attempt is refused, and the refusal names
nothing of A's. A succeeds on its own data, and support may search the fleet.
"""

from __future__ import annotations

import json

import pytest

from tests.support.fleet_api import client_for
from wardlink.cloudclient import ApiClientError, WardlinkApiClient
from wardlink.contract.models import AlarmAction
from wardlink.localcloud import LocalCloud


def _refused(call: object, *secrets: str) -> ApiClientError:
    assert callable(call)
    with pytest.raises(ApiClientError) as caught:
        call()
    error = caught.value
    assert error.status == 403, error
    for secret in secrets:
        assert secret not in str(error), f"the refusal names {secret!r}"
    return error


@pytest.fixture
def two_gateways(local_cloud: LocalCloud, unique: str) -> tuple[str, str]:
    return f"gw-a-{unique}", f"gw-b-{unique}"


def test_gateway_b_is_refused_on_every_route_for_a(
    local_cloud: LocalCloud, two_gateways: tuple[str, str], unique: str
) -> None:
    gw_a, gw_b = two_gateways
    a = client_for(local_cloud, local_cloud.gateway_credentials(gw_a))
    b = client_for(local_cloud, local_cloud.gateway_credentials(gw_b))
    model, site = f"Model-{unique}", f"site-a-{unique}"
    device = a.register_device(
        gateway_id=gw_a, device_id="spo2-1", model=model, site_id=site, serial_number="SN-A-1"
    )
    secrets = (device.device_id, model, site, "SN-A-1")

    # overwrite A's device, in A's path and with A named in B's own path's body
    _refused(lambda: b.register_device(gateway_id=gw_a, device_id="spo2-1", model="x"), *secrets)
    _refused(
        lambda: b.send(
            "POST",
            f"/gateways/{gw_b}/devices",
            json.dumps({"gateway_id": gw_a, "device_id": "spo2-1", "model": "x"}).encode(),
        ),
        *secrets,
    )
    _refused(lambda: b.get_device(device.device_uid), *secrets)
    _refused(lambda: b.search_devices(gateway_id=gw_a), *secrets)
    _refused(lambda: b.send("GET", f"/gateways/{gw_b}/devices?gateway_id={gw_a}"), *secrets)
    _refused(lambda: b.search_devices(model=model), *secrets)  # fleet search: support only
    _refused(lambda: b.search_devices(site_id=site), *secrets)
    _refused(lambda: b.send("GET", f"/devices/{gw_a}%2Fspo2-1"), *secrets)
    _refused(lambda: b.request_upload_url(device.device_uid, "trace.bin"), *secrets)
    _refused(lambda: b.list_alarms(), *secrets)
    _refused(lambda: b.act_on_alarm(f"m#{gw_a}#{gw_a}/spo2-1", AlarmAction.ACK, "n"), *secrets)

    # B's own search sees none of A's devices; A's record is untouched
    assert b.search_devices(gateway_id=gw_b, model=model).items == []
    mine = a.get_device(device.device_uid)
    assert mine is not None and mine.model == model and mine.data_files == []
    ticket = a.request_upload_url(device.device_uid, "trace.bin")
    assert ticket.key.startswith(f"devices/{gw_a}/spo2-1/")
    assert [d.device_uid for d in a.search_devices(gateway_id=gw_a, model=model).items] == [
        device.device_uid
    ]


def test_support_searches_the_fleet_but_registers_nothing(
    local_cloud: LocalCloud, two_gateways: tuple[str, str], unique: str
) -> None:
    gw_a, gw_b = two_gateways
    model = f"Model-{unique}"
    for gw in (gw_a, gw_b):
        client_for(local_cloud, local_cloud.gateway_credentials(gw)).register_device(
            gateway_id=gw, device_id="bp-1", model=model
        )
    support: WardlinkApiClient = client_for(local_cloud, local_cloud.support_credentials())
    found = {d.gateway_id for d in support.search_devices(model=model).items}
    assert found == {gw_a, gw_b}
    assert support.get_device(f"{gw_a}/bp-1") is not None
    _refused(lambda: support.register_device(gateway_id=gw_a, device_id="bp-2", model=model))


@pytest.mark.parametrize(
    "body",
    [b"{" * 100_000 + b"}" * 100_000, b'{"gateway_id": ', b"[" * 5000 + b"]" * 5000],
    ids=["deeply-nested", "truncated", "nested-array"],
)
def test_malformed_or_deeply_nested_json_is_a_400(
    local_cloud: LocalCloud, unique: str, body: bytes
) -> None:
    gw = f"gw-{unique}"
    client = client_for(local_cloud, local_cloud.gateway_credentials(gw))
    with pytest.raises(ApiClientError) as caught:
        client.send("POST", f"/gateways/{gw}/devices", body)
    assert caught.value.status == 400
