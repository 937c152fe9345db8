"""Support's fleet search: ``wardlink support devices`` and ``GET /fleet/devices``.

Runs against a local cloud of its own (own tables in the session's DynamoDB Local),
so "exactly the glucose meters on 1.2.0.4" is not disturbed by other tests' units.
The inventory goes in through the real ``wardlink fleet register --env-file F``;
registrations through the API as their gateways; searches through the SigV4 API with
support credentials, and a gateway's credentials are refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet_api import FleetApi, client_for
from wardlink.cli.main import main
from wardlink.cloudapi.repositories.fleet import firmware_key, model_key
from wardlink.cloudclient import ApiClientError
from wardlink.contract.fleet import FleetSearchPage
from wardlink.localcloud import LocalCloud

FIRMWARES = ("1.2.0.4", "1.2.0.40", "1.2.1", "1.10.0", "1.9.9")


@pytest.fixture(scope="module")
def cloud(dynamodb_local: str) -> Iterator[LocalCloud]:
    unique = uuid.uuid4().hex[:6]
    local = LocalCloud(
        dynamodb_endpoint=dynamodb_local, table_prefix=f"fs{unique}-",
        bucket=f"wardlink-fs{unique}", detectors=False, log_level="ERROR",
    )  # fmt: skip
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def env_file(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inventory (glucose meters on several firmwares, oximeters) and two gateways."""
    folder = tmp_path_factory.mktemp("fleet")
    env = folder / "cloud.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in cloud.environment().items()))
    rows = [
        {"serial_number": f"GM-{i:04d}", "model": "GlucoCheck 3" if i % 2 else "Glucose Pro",
         "category": "glucose-meter", "firmware_version": FIRMWARES[i % len(FIRMWARES)],
         "site_id": f"site-{i % 3}"}
        for i in range(40)
    ] + [
        {"serial_number": f"OX-{i:04d}", "model": "Nonin 3150", "category": "pulse-oximeter",
         "firmware_version": "1.2.0.4", "site_id": "site-0"}
        for i in range(10)
    ]  # fmt: skip
    inventory = folder / "inventory.jsonl"
    inventory.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["fleet", "register", "--env-file", str(env), str(inventory)]) == 0
    api = FleetApi(cloud)
    api.register_device(
        gateway_id="gw-north",
        device_id="gm-1",
        model="GLUCOCHECK 3",
        firmware_version="1.2.0.4",
        site_id="site-9",
        status="connected",
    )
    api.register_device(
        gateway_id="gw-north",
        device_id="bp-1",
        model="Omron BP7000",
        firmware_version="3.0",
        site_id="site-9",
        status="disconnected",
    )
    api.register_device(
        gateway_id="gw-south",
        device_id="gm-2",
        model="glucocheck 3",
        firmware_version="1.9.9",
        site_id="site-8",
        status="connected",
    )
    return env  # fmt: skip


def _cli(env_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[Any, str]:
    capsys.readouterr()
    code = main(["support", "devices", "--env-file", str(env_file), "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def test_done_when_glucose_meters_on_one_firmware_exactly(
    env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices, err = _cli(env_file, capsys, "--category", "glucose-meter", "--firmware", "1.2.0.4")
    expected = {f"GM-{i:04d}" for i in range(40) if FIRMWARES[i % len(FIRMWARES)] == "1.2.0.4"}
    assert {d["serial_number"] for d in devices} == expected  # not 1.2.0.40, no oximeters
    for device in devices:
        assert {"gateway_id", "device_id", "serial_number", "model", "category",
                "firmware_version", "site_id", "last_seen"} <= set(device)  # fmt: skip
        assert device["category"] == "glucose-meter" and device["firmware_version"] == "1.2.0.4"
        assert device["source"] == "inventory"
    assert "scanned" not in err


def test_model_prefix_is_case_insensitive_and_firmware_ranges_compare_as_versions(
    env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices, _ = _cli(env_file, capsys, "--model", "gluco", "--firmware", "1.9..1.10.0")
    assert {d["firmware_version"] for d in devices} == {"1.9.9", "1.10.0"}
    assert {"gw-south/gm-2"} <= {f"{d['gateway_id']}/{d['device_id']}" for d in devices}
    prefix, _ = _cli(env_file, capsys, "--category", "glucose-meter", "--firmware", "1.2.*")
    assert {d["firmware_version"] for d in prefix} == {"1.2.0.4", "1.2.0.40", "1.2.1"}
    exact, err = _cli(env_file, capsys, "--firmware", "1.2.0.4", "--model", "gLuCoChEcK")
    assert {d["model"].lower() for d in exact} == {"glucocheck 3"} and "scanned" not in err
    assert {d["firmware_version"] for d in exact} == {"1.2.0.4"}
    assert "gw-north/gm-1" in {f"{d['gateway_id']}/{d['device_id']}" for d in exact}
    alone, err = _cli(env_file, capsys, "--firmware", "1.2.0.4")
    assert len(alone) == 8 + 10 + 1 and "scanned" not in err  # meters, oximeters, gm-1
    north, _ = _cli(env_file, capsys, "--gateway", "gw-north", "--model", "GLUCO")
    assert [d["device_id"] for d in north] == ["gm-1"]
    assert north[0]["last_seen"] and north[0]["source"] == "gateway"


def test_other_filters_scan_and_say_so(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices, err = _cli(env_file, capsys, "--status", "disconnected")
    assert [d["device_id"] for d in devices] == ["bp-1"]
    assert "scanned" in err
    table_code = main(["support", "devices", "--env-file", str(env_file), "--site", "site-9"])
    out = capsys.readouterr().out
    assert table_code == 0 and "gw-north/gm-1" in out and "GLUCOCHECK 3" in out


def test_fleet_search_needs_support_credentials(cloud: LocalCloud, env_file: Path) -> None:
    support = client_for(cloud, cloud.support_credentials())
    _, data = support.send("GET", "/fleet/devices", b"", {"category": "pulse-oximeter"})
    page = FleetSearchPage.model_validate_json(data)
    assert len(page.items) == 10 and page.index == "by_category_firmware"
    gateway = client_for(cloud, cloud.gateway_credentials("gw-north"))
    with pytest.raises(ApiClientError) as refused:
        gateway.send("GET", "/fleet/devices", b"", {"gateway_id": "gw-north"})
    assert refused.value.status == 403


def test_pages_follow_next_token_without_loss(cloud: LocalCloud, env_file: Path) -> None:
    support = client_for(cloud, cloud.support_credentials())
    seen: list[str] = []
    token = None
    while True:
        query = {"category": "glucose-meter", "limit": "7", "next_token": token}
        page = FleetSearchPage.model_validate_json(support.send("GET", "/fleet/devices", b"",
                                                                query)[1])  # fmt: skip
        seen += [d.device_uid for d in page.items]
        token = page.next_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 40


def test_keys_sort_versions_and_fold_models() -> None:
    assert firmware_key("1.10") > firmware_key("1.9") > firmware_key("1.2.0.40")
    assert firmware_key("1.2.0.40") > firmware_key("1.2.0.4")
    assert model_key("  GlucoCheck\t3 ") == "glucocheck 3"
