"""Device registration, lookup and fleet search: the handlers against DynamoDB Local."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.cloudapi.conftest import HandlerCaller
from wardlink.cloudapi.repositories.items import from_item, to_attr
from wardlink.cloudclient import WardlinkApiClient


def _register(call: HandlerCaller, **fields: Any) -> tuple[int, Any]:
    return call("POST", f"/gateways/{fields.get('gateway_id', 'gw-unnamed')}/devices", fields)


def test_register_creates_then_upsert_preserves_registered_at(
    call_handler: HandlerCaller, services: Any, unique: str
) -> None:
    gw = f"gw-{unique}"
    status, first = _register(
        call_handler, gateway_id=gw, device_id="spo2-1", model="Nonin 3150",
        manufacturer="Nonin", serial_number="SN-1", firmware_version="1.2.0.4", site_id="site-a",
    )  # fmt: skip
    assert status == 201
    assert first["device_uid"] == f"{gw}/spo2-1"
    assert first["registered_at"] == first["last_seen"]

    status, second = _register(
        call_handler, gateway_id=gw, device_id="spo2-1", model="Nonin 3150",
        manufacturer="Nonin", firmware_version="1.2.0.5", site_id="site-a",
    )  # fmt: skip
    assert status == 200
    assert second["registered_at"] == first["registered_at"]
    assert second["last_seen"] > first["last_seen"]
    assert second["firmware_version"] == "1.2.0.5"
    assert second["serial_number"] is None  # registration replaces the description

    row = from_item(
        services.dynamodb.get_item(
            TableName=services.settings.devices_table,
            Key={"device_uid": to_attr(f"{gw}/spo2-1")},
        )["Item"]
    )
    assert row["firmware_sk"] == f"1.2.0.5#{gw}/spo2-1"  # the GSI key follows the version
    assert "serial_number" not in row

    gateway = services.dynamodb.get_item(
        TableName=services.settings.gateways_table, Key={"gateway_id": to_attr(gw)}
    )["Item"]
    assert from_item(gateway)["site_id"] == "site-a"


def test_lookup_by_encoded_uid_and_unknown_is_404(call_handler: HandlerCaller, unique: str) -> None:
    gw = f"gw-{unique}"
    _register(call_handler, gateway_id=gw, device_id="bp.cuff_2", model="UA-651")
    status, device = call_handler("GET", f"/gateways/{gw}/devices/bp.cuff_2")
    assert status == 200
    assert device["model"] == "UA-651"
    assert device["firmware_version"] is None

    status, error = call_handler("GET", f"/gateways/{gw}/devices/nope")
    assert (status, error["error"]) == (404, "NotFound")
    status, device = call_handler("GET", f"/devices/{quote(f'{gw}/bp.cuff_2', safe='')}")
    assert status == 200  # support's route to any device
    status, error = call_handler("GET", "/devices/not-a-uid")
    assert (status, error["error"]) == (400, "BadRequest")


def test_fleet_search_by_model_and_exact_firmware(call_handler: HandlerCaller, unique: str) -> None:
    model = f"Model-{unique}"
    for device_id, firmware in (
        ("a", "1.2.0.4"),
        ("b", "1.2.0.4"),
        ("c", "1.2.0.40"),
        ("d", "1.3.0.0"),
        ("e", None),
    ):
        _register(
            call_handler,
            gateway_id=f"gw-{unique}",
            device_id=device_id,
            model=model,
            firmware_version=firmware,
        )

    status, page = call_handler("GET", "/devices", query=f"model={model}&firmware_version=1.2.0.4")
    assert status == 200
    assert sorted(d["device_id"] for d in page["items"]) == ["a", "b"]  # not 1.2.0.40

    status, page = call_handler("GET", "/devices", query=f"model={model}")
    assert sorted(d["device_id"] for d in page["items"]) == ["a", "b", "c", "d", "e"]


def test_fleet_search_by_gateway_and_site_with_pagination(
    api: WardlinkApiClient, unique: str
) -> None:
    gw, other = f"gw-{unique}", f"gw2-{unique}"
    site = f"site-{unique}"
    for i in range(5):
        api.register_device(gateway_id=gw, device_id=f"dev-{i}", model="M", site_id=site)
    api.register_device(gateway_id=other, device_id="dev-x", model="M", site_id=site)

    first = api.search_devices(gateway_id=gw, limit=2)
    assert len(first.items) == 2 and first.next_token
    everything = list(api.iter_devices(gateway_id=gw, limit=2))
    assert [d.device_id for d in everything] == [f"dev-{i}" for i in range(5)]

    by_site = list(api.iter_devices(site_id=site))
    assert {d.device_uid for d in by_site} == {f"{gw}/dev-{i}" for i in range(5)} | {
        f"{other}/dev-x"
    }


def test_search_needs_exactly_one_selector(call_handler: HandlerCaller) -> None:
    for query in (
        "",
        "gateway_id=a&site_id=b",
        "firmware_version=1.0",
        "model=m&limit=0",
        "gateway_id=has%20space",
        "model=m&next_token=%2A%2A",
    ):
        status, error = call_handler("GET", "/devices", query=query)
        assert status == 400, query
        assert error["error"] in ("BadRequest", "ValidationError")


def test_registration_validation_errors_are_400(call_handler: HandlerCaller) -> None:
    bad_bodies: list[Any] = [
        {"device_id": "d", "model": "m"},  # gateway_id missing
        {"gateway_id": "g", "device_id": "bad/id", "model": "m"},  # '/' not allowed
        {"gateway_id": "g", "device_id": "d", "model": ""},
        {"gateway_id": "g", "device_id": "d", "model": "m", "firmware_version": "1#2"},
        {"gateway_id": "g", "device_id": "d", "model": "m", "unexpected": 1},
        {"gateway_id": "g", "device_id": "d", "model": "m", "status": "exploded"},
        ["not", "an", "object"],
    ]
    for body in bad_bodies:
        status, error = call_handler("POST", "/gateways/gw-v/devices", body)
        assert status == 400, body
        assert error["error"] == "ValidationError"
        assert error["details"]
    status, error = call_handler("POST", "/gateways/gw-v/devices", b"{not json")
    assert status == 400
