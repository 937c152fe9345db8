"""Diagnostics on request, end to end against the local cloud: support asks with
``wardlink support diagnostics request``, the request appears in the gateway UI, a
viewer cannot approve, a technician's approval uploads the redacted bundle (moto S3),
support downloads it with the CLI; a decline is recorded; everything is audited. The
downloaded bundle carries no PHI canary and no secret."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet_api import client_for
from tests.support.ui_client import UiClient
from wardlink.cli.main import main
from wardlink.localcloud import LocalCloud
from wardlink.model import PatientContext
from wardlink.phi.logfilter import PHILogFilter
from wardlink.runtime.config import UiConfig
from wardlink.ui.accounts import Role
from wardlink.ui.component import UiServer, build_context, serve
from wardlink.ui.diagnostics import LogRing
from wardlink.ui.site_view import SiteView
from wardlink.ui.support_requests import SupportRequests
from wardlink.ui.tls import ensure_certificate

PASSWORD = "correct horse battery"
COMMAND_KEY = "k3y-0f-the-c0mmand-channel-Xq9w"
TOKEN = "tok-5ecret-influx-Zr81pLm"
CANARY = PatientContext(
    patient_id="MRN-CANARY-884422",
    family_name="Zyxwvutson",
    given_name="Quillaby",
    birth_date="1951-02-03",
    phone="555-867-5309",
)


@pytest.fixture
def support_cli(
    local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    principal = local_cloud.support_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", principal.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", principal.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", principal.session_token or "")
    monkeypatch.setenv("AWS_REGION", local_cloud.region)
    monkeypatch.setenv("WARDLINK_API_ENDPOINT", local_cloud.endpoint)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def run(*argv: str) -> tuple[int, str]:
        code = main(["support", "diagnostics", *argv])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


async def test_support_asks_a_technician_approves_support_downloads(
    local_cloud: LocalCloud, support_cli: Any, unique: str, tmp_path: Path
) -> None:
    gateway_id = f"gw-diag-{unique}"
    settings = UiConfig(state_dir=tmp_path / "ui")
    ctx = build_context(settings, gateway_id, SiteView(), None)
    ctx.accounts.add("tech", PASSWORD, Role.TECHNICIAN)
    ctx.accounts.add("viewer", PASSWORD, Role.VIEWER)
    gateway_client = client_for(local_cloud, local_cloud.gateway_credentials(gateway_id))
    ctx.support = SupportRequests(lambda: gateway_client, gateway_id)
    ctx.config = {
        "gatewayId": gateway_id,
        "ui": {"commandKeySecret": "wardlink-ui-command-key", "port": 8443},
        "broker": {"url": "mqtts://broker.example:8883", "password": TOKEN},
        "telemetry": {"influxToken": TOKEN},
    }
    ctx.forbidden = (COMMAND_KEY.encode(), PASSWORD.encode(), TOKEN.encode())
    # what the UI process logged, through the gateway's PHI log filter, lands in the bundle
    ctx.log_ring = LogRing()
    ctx.log_ring.addFilter(PHILogFilter())
    probe = logging.getLogger("wardlink.test.diagnostics")
    probe.addHandler(ctx.log_ring)
    try:
        patient = CANARY  # registers the live values the filter replaces
        probe.warning("decode error for %s %s, %s", patient.patient_id, patient.family_name,
                      patient.phone, extra={"patient": patient.given_name})  # fmt: skip
    finally:
        probe.removeHandler(ctx.log_ring)

    certificate = ensure_certificate(settings.state_dir, gateway_id)
    stop = asyncio.Event()
    started: asyncio.Future[UiServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(ctx, certificate, "127.0.0.1", 0, stop, started))
    server = await asyncio.wait_for(started, 15)

    def site_visits() -> dict[str, Any]:
        code, out = support_cli("request", gateway_id, "--reason", "ticket 4711: uplink drops")
        assert code == 0, out
        first = re.search(r"request ([0-9a-f]{32})", out)
        assert first is not None
        code, out = support_cli("request", gateway_id, "--reason", "ticket 4712: second look")
        second = re.search(r"request ([0-9a-f]{32})", out)
        assert code == 0 and second is not None

        viewer = UiClient(server.url, certificate.cert_file)
        viewer.sign_in("viewer", PASSWORD)
        asyncio.run_coroutine_threadsafe(ctx.support.refresh(), loop).result(30)  # type: ignore[union-attr]
        status, page = viewer.request("/support")
        assert status == 200 and "ticket 4711: uplink drops" in page and "ticket 4712" in page
        assert "Approve and upload" not in page  # a viewer sees, and cannot act
        refused, _ = viewer.post(f"/support/{first.group(1)}/approve")

        tech = UiClient(server.url, certificate.cert_file)
        tech.sign_in("tech", PASSWORD)
        _, page = tech.request("/support")
        assert "Approve and upload" in page
        no_csrf, _ = tech.request(f"/support/{first.group(1)}/approve", {})
        approved, approved_page = tech.post(f"/support/{first.group(1)}/approve")
        declined, _ = tech.post(f"/support/{second.group(1)}/decline")

        code, listing = support_cli("list", gateway_id)
        bundle = tmp_path / "bundle.zip"
        dl_code, dl_out = support_cli("download", gateway_id, first.group(1), "-o", str(bundle))
        no_code, no_out = support_cli("download", gateway_id, second.group(1), "-o",
                                      str(tmp_path / "none.zip"))  # fmt: skip
        return {
            "first": first.group(1), "second": second.group(1), "refused": refused,
            "no_csrf": no_csrf, "approved": approved, "approved_page": approved_page,
            "declined": declined, "list": (code, listing), "download": (dl_code, dl_out),
            "declined_download": (no_code, no_out), "bundle": bundle,
        }  # fmt: skip

    loop = asyncio.get_running_loop()
    try:
        seen = await asyncio.to_thread(site_visits)
    finally:
        stop.set()
        await task

    assert seen["refused"] == 403 and seen["no_csrf"] == 403
    assert seen["approved"] == 200, seen["approved_page"][:500]
    assert "uploaded for support" in seen["approved_page"]
    assert seen["declined"] == 200
    code, listing = seen["list"]
    assert code == 0
    states = {line.split()[0]: line.split()[1] for line in listing.splitlines()[1:] if line}
    assert states == {seen["first"]: "uploaded", seen["second"]: "declined"}
    assert seen["download"][0] == 0, seen["download"][1]
    assert seen["declined_download"][0] == 1  # declined: nothing to download

    with zipfile.ZipFile(seen["bundle"]) as archive:
        names = archive.namelist()
        text = "\n".join(archive.read(n).decode() for n in names)
    assert {"config.json", "versions.json", "health.json", "logs.jsonl"} <= set(names)
    assert "decode error" in text  # the log line is there, its patient values are not
    for canary in ("MRN-CANARY-884422", "Zyxwvutson", "Quillaby", "555-867-5309"):
        assert canary.lower() not in text.lower(), canary
    for secret in (COMMAND_KEY, PASSWORD, TOKEN):
        assert secret not in text, "a secret left in the bundle"

    events = [(e["event"], e.get("user"), e.get("request_id")) for e in ctx.audit.tail()]
    assert ("request-refused", "viewer", None) in events
    assert ("diagnostics-request-approved", "tech", seen["first"]) in events
    assert ("diagnostics-request-declined", "tech", seen["second"]) in events
    approved = next(e for e in ctx.audit.tail() if e["event"] == "diagnostics-request-approved")
    assert approved["size"] == len(seen["bundle"].read_bytes())
    assert json.dumps(ctx.audit.tail()).count("MRN-CANARY") == 0
