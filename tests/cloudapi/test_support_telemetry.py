"""Support reads a device's telemetry: ``GET /devices/{uid}/telemetry`` and the CLI.

Telemetry goes in through the local cloud's IoT rule stand-in into the real local
InfluxDB; reads go through the SigV4 API with support credentials (a gateway's are
refused), page by page, and through ``wardlink support telemetry`` (table, JSON, PNG).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.fleet_api import FleetApi, client_for
from wardlink.cli.main import main
from wardlink.cloudclient import ApiClientError
from wardlink.contract.fleet import TelemetryPage
from wardlink.localcloud import LocalCloud

COUNT = 30


def _envelope(gateway: str, now: datetime) -> bytes:
    items = []
    for i in range(COUNT):
        at = (now - timedelta(seconds=COUNT - i)).isoformat()
        common = {"device_id": "spo2-1", "device_model": "Nonin 3150", "measured_at": at,
                  "quality": "valid", "flags": []}  # fmt: skip
        items.append(
            {
                **common,
                "seq": 2 * i + 1,
                "mdc_code": 150456,
                "mdc_name": "MDC_PULS_OXIM_SAT_O2",
                "value": 90 + i % 8,
                "unit": "%",
            }
        )
        items.append(
            {
                **common,
                "seq": 2 * i + 2,
                "mdc_code": 149530,
                "mdc_name": "MDC_PULS_OXIM_PULS_RATE",
                "value": 60 + i,
                "unit": "/min",
            }
        )
    envelope = {
        "schema_version": "wardlink.envelope/1", "gateway_id": gateway,
        "batch_id": uuid.uuid4().hex, "kind": "telemetry", "sent_at": now.isoformat(),
        "items": items,
    }  # fmt: skip
    return json.dumps(envelope).encode()


@pytest.fixture(scope="module")
def device(local_cloud: LocalCloud) -> str:
    gateway = f"gw-tel-{uuid.uuid4().hex[:8]}"
    FleetApi(local_cloud).register_device(
        gateway_id=gateway, device_id="spo2-1", model="Nonin 3150"
    )
    assert local_cloud.publish(
        f"wardlink/v1/{gateway}/telemetry", _envelope(gateway, datetime.now(UTC))
    )
    assert local_cloud.wait_idle(20)
    return f"{gateway}/spo2-1"


def _path(uid: str) -> str:
    return f"/devices/{quote(uid, safe='')}/telemetry"


def test_pages_cover_the_window_once_in_time_order(local_cloud: LocalCloud, device: str) -> None:
    support = client_for(local_cloud, local_cloud.support_credentials())
    samples: list[Any] = []
    token = None
    while True:
        query = {"since_s": "600", "limit": "7", "next_token": token}
        page = TelemetryPage.model_validate_json(support.send("GET", _path(device), b"", query)[1])
        samples += page.items
        token = page.next_token
        if not token:
            break
    assert len(samples) == 2 * COUNT  # two metrics share every millisecond: none lost
    assert len({(s.time, s.metric) for s in samples}) == 2 * COUNT
    assert [s.time for s in samples] == sorted(s.time for s in samples)
    assert {s.unit for s in samples} == {"%", "/min"}


def test_gateways_are_refused_and_unknown_devices_are_404(
    local_cloud: LocalCloud, device: str
) -> None:
    gateway = client_for(local_cloud, local_cloud.gateway_credentials(device.split("/")[0]))
    with pytest.raises(ApiClientError) as refused:
        gateway.send("GET", _path(device), b"", {"since_s": "600"})
    assert refused.value.status == 403
    support = client_for(local_cloud, local_cloud.support_credentials())
    with pytest.raises(ApiClientError) as missing:
        support.send("GET", _path("gw-nowhere/spo2-9"), b"", {"since_s": "600"})
    assert missing.value.status == 404
    with pytest.raises(ApiClientError) as too_long:
        support.send("GET", _path(device), b"", {"since_s": str(8 * 24 * 3600)})
    assert too_long.value.status == 400


def test_cli_prints_json_a_table_and_writes_a_png(
    local_cloud: LocalCloud, device: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / "cloud.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in local_cloud.environment().items()))
    capsys.readouterr()
    base = ["support", "telemetry", device, "--env-file", str(env), "--since", "10m"]
    assert main([*base, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["device_uid"] == device and len(result["items"]) == 2 * COUNT
    png = tmp_path / "spo2.png"
    assert main([*base, "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "MDC_PULS_OXIM_SAT_O2" in out and "/min" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["support", "telemetry", "not-a-uid", "--env-file", str(env)]) == 2


def test_terminal_plot_draws_each_metric() -> None:
    from wardlink.fleet.support_telemetry import terminal_plot

    items = [{"time": f"2026-12-06T06:00:{i:02d}Z", "metric": "SPO2", "value": 90 + i % 5,
              "unit": "%"} for i in range(30)]  # fmt: skip
    drawing = terminal_plot({"device_uid": "g/d", "since": "", "until": "", "items": items})
    assert "SPO2 [%]" in drawing and "06:00:00" in drawing


def test_stored_telemetry_moves_last_seen_forward_never_back(local_cloud: LocalCloud) -> None:
    gateway = f"gw-seen-{uuid.uuid4().hex[:8]}"
    api = FleetApi(local_cloud)
    registered = api.register_device(gateway_id=gateway, device_id="spo2-1", model="Nonin 3150")
    later = datetime.fromisoformat(registered.last_seen) + timedelta(minutes=5)
    topic = f"wardlink/v1/{gateway}/telemetry"
    assert local_cloud.publish(topic, _envelope(gateway, later))
    assert local_cloud.publish(topic, _envelope(gateway, later - timedelta(minutes=3)))
    assert local_cloud.wait_idle(20)
    seen = datetime.fromisoformat(api.support.get_device(f"{gateway}/spo2-1").last_seen)
    newest = later - timedelta(seconds=1)  # the newest point, not the registration
    assert abs((seen - newest).total_seconds()) < 0.001  # points are stored to the ms
