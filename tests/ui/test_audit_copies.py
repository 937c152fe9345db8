"""The UI's audit records leave the gateway, redacted: to the site's syslog (RFC 5424 over
TLS, RFC 5425 framing, a real TLS receiver) and to the cloud (local bus -> Uplink relay
-> a real Mosquitto); a dead destination never blocks the UI, and drops are counted."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.mosquitto import Mosquitto
from tests.support.syslog_tls import SyslogReceiver
from tests.support.waiting import eventually
from wardlink.bus.local import LocalPubSub
from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
from wardlink.bus.port import LocalMessage
from wardlink.devtools.mqtt_observer import MqttObserver
from wardlink.devtools.pki import DevPki, make_dev_pki
from wardlink.runtime.config import SyslogConfig, UiConfig
from wardlink.ui.audit import AuditLog
from wardlink.ui.audit_copies import AuditCopies, copy_of, octet_counted, rfc5424
from wardlink.uplink.audit_relay import AUDIT_LOCAL_TOPIC, AuditRelay

SECRET = "hunter2-correct-horse"  # a password typed into the user-name field
CANARY = "Zyxwvutson Quillaby MRN-CANARY-884422"
FAST = {"retry_min_s": 0.05, "retry_max_s": 0.2}


def _record_a_session(audit: AuditLog) -> None:
    audit.record("sign-in-failed", SECRET, reason="bad-credentials", known=False)
    audit.record("sign-in-failed", "tech", reason="bad-credentials", known=True)
    audit.record("account-locked", "tech", alert=True)
    audit.record("sign-in", "tech", role="technician")
    audit.record(
        "command", "tech", action="assign", device_id="bed-1-oximeter", ok=True, detail=CANARY
    )
    audit.record("request-refused", "viewer", path="/devices/x/assign", reason=CANARY)
    audit.record("break-glass-sign-in", "glass", alert=True)


def test_the_copy_carries_who_what_which_device_outcome_and_when_only() -> None:
    entry = {
        "time": "2026-12-06T06:30:00.123+00:00",
        "event": "command",
        "user": "tech",
        "action": "assign",
        "device_id": "bed-1-oximeter",
        "ok": False,
        "detail": CANARY,
    }
    assert copy_of(entry) == {
        "time": "2026-12-06T06:30:00.123+00:00",
        "user": "tech",
        "action": "command",
        "device_id": "bed-1-oximeter",
        "outcome": "failure",
    }
    failed = copy_of({"time": entry["time"], "event": "sign-in-failed", "user": SECRET})
    assert failed is not None and failed["user"] == "<unknown>"
    glass = copy_of({"time": entry["time"], "event": "break-glass-sign-in", "user": "glass",
                     "alert": True})  # fmt: skip
    assert glass == {"time": entry["time"], "user": "glass", "action": "break-glass-sign-in",
                     "outcome": "success", "alert": True}  # fmt: skip
    # a device id outside the alphabet (free text) is left out, the fact stays
    odd = copy_of({"time": entry["time"], "event": "command", "user": "tech",
                   "device_id": CANARY, "ok": True})  # fmt: skip
    assert odd is not None and "device_id" not in odd and CANARY not in json.dumps(odd)


def test_rfc5424_message_and_octet_counting() -> None:
    copy = {"time": "2026-12-06T06:30:00.123+00:00", "user": "tech", "action": "sign-in",
            "outcome": "success"}  # fmt: skip
    message = rfc5424(copy, "gw 1", facility=13, procid=42)
    assert message.startswith(
        b"<109>1 2026-12-06T06:30:00.123+00:00 gw1 wardlink-ui 42 sign-in - {"
    )
    assert octet_counted(message) == str(len(message)).encode() + b" " + message
    alert = rfc5424({**copy, "alert": True}, "gw", facility=13, procid=1)
    assert alert.startswith(b"<105>1 ")  # severity 1 (alert)


@pytest.fixture
def pki(tmp_path: Path) -> DevPki:
    return make_dev_pki(tmp_path / "pki")


async def _run(copies: AuditCopies) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(copies.run(stop))


async def test_site_syslog_gets_every_record_over_tls(tmp_path: Path, pki: DevPki) -> None:
    receiver = SyslogReceiver(pki.server_cert, pki.server_key)
    await receiver.start()
    local = LocalPubSub()
    syslog = SyslogConfig(host="127.0.0.1", port=receiver.port, ca_file=pki.ca_cert,
                          server_name="localhost")  # fmt: skip
    copies = AuditCopies.for_gateway(local.publish, "gw-1", syslog, **FAST)
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.sinks.append(copies.sink)
    stop, task = await _run(copies)
    try:
        _record_a_session(audit)
        messages = await receiver.wait_for(7)
        # the collector drops the connection: the next record opens a new one
        await receiver.drop_connections()
        await asyncio.sleep(0.05)
        audit.record("sign-out", "tech")
        messages = await receiver.wait_for(8)
    finally:
        stop.set()
        await task
        await receiver.stop()
    assert receiver.errors == []
    assert [m.msgid for m in messages[:7]] == [
        "sign-in-failed", "sign-in-failed", "account-locked", "sign-in", "command",
        "request-refused", "break-glass-sign-in",
    ]  # fmt: skip
    assert messages[-1].msgid == "sign-out"
    assert {m.host for m in messages} == {"gw-1"} and {m.app for m in messages} == {"wardlink-ui"}
    assert messages[2].pri == 13 * 8 + 1 and messages[3].pri == 13 * 8 + 5
    bodies = [json.loads(m.msg) for m in messages]
    assert bodies[0]["user"] == "<unknown>" and bodies[1]["user"] == "tech"
    assert bodies[4] == {"time": bodies[4]["time"], "user": "tech", "action": "command",
                         "device_id": "bed-1-oximeter", "outcome": "success"}  # fmt: skip
    wire = b"".join(receiver.raw)
    assert SECRET.encode() not in wire and b"CANARY" not in wire and b"Zyxwvutson" not in wire
    assert copies.dropped() == {"cloud": 0, "syslog": 0}


async def test_an_untrusted_or_dead_syslog_never_blocks_and_drops_are_counted(
    tmp_path: Path, pki: DevPki
) -> None:
    receiver = SyslogReceiver(pki.server_cert, pki.server_key)
    await receiver.start()
    other_ca = make_dev_pki(tmp_path / "other").ca_cert
    syslog = SyslogConfig(host="127.0.0.1", port=receiver.port, ca_file=other_ca,
                          server_name="localhost")  # fmt: skip
    local = LocalPubSub()
    copies = AuditCopies.for_gateway(local.publish, "gw-1", syslog, max_queued=3, **FAST)
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.sinks.append(copies.sink)
    stop, task = await _run(copies)
    try:
        for _ in range(10):
            audit.record("sign-in", "tech")
        [syslog_queue] = [q for q in copies.queues if q.name == "syslog"]
        await eventually(lambda: syslog_queue.failures >= 2)  # retried, still refusing
    finally:
        stop.set()
        await task
        await receiver.stop()
    assert len(audit.tail()) == 10  # the local log has everything
    assert receiver.messages == []  # nothing went to a server the CA does not vouch for
    assert copies.dropped()["syslog"] == 7  # three waited, the rest were counted


async def test_cloud_copy_goes_through_the_uplink_relay_to_the_broker(
    mosquitto_tls: Mosquitto, tmp_path: Path
) -> None:
    pki = mosquitto_tls.pki
    assert pki is not None
    observer = MqttObserver("127.0.0.1", mosquitto_tls.port, pki, topic_filter="wardlink/#",
                            client_id="audit-observer")  # fmt: skip
    await asyncio.to_thread(observer.start)
    bus = DirectMqttBus(MqttEndpoint(url=mosquitto_tls.url, client_id="gw-audit",
                                     cert=str(pki.client_cert), key=str(pki.client_key),
                                     ca=str(pki.ca_cert)))  # fmt: skip
    await bus.start()
    assert await bus.wait_connected(10), mosquitto_tls.log()
    relay = AuditRelay(bus, "gw-audit", retry_min_s=0.05)
    await relay.attach()
    copies = AuditCopies.for_gateway(bus.publish_local, "gw-audit", None, **FAST)
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.sinks.append(copies.sink)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(copies.run(stop)), asyncio.create_task(relay.run(stop))]
    try:
        _record_a_session(audit)
        await eventually(lambda: relay.delivered >= 7)
        # something else on the local bus: extra fields are dropped, a bad user refused
        await bus.publish_local(AUDIT_LOCAL_TOPIC, json.dumps(
            {"time": "2026-12-06T06:30:00+00:00", "user": "tech", "action": "sign-out",
             "outcome": "success", "note": CANARY}).encode())  # fmt: skip
        await bus.publish_local(AUDIT_LOCAL_TOPIC, json.dumps(
            {"time": "2026-12-06T06:30:00+00:00", "user": CANARY, "action": "sign-in",
             "outcome": "success"}).encode())  # fmt: skip
        await eventually(lambda: len(observer.snapshot()) >= 8)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await bus.close()
        observer.stop()
    captured = observer.snapshot()
    assert {c.topic for c in captured} == {"wardlink/v1/gw-audit/audit"}
    events: list[dict[str, Any]] = [c.json() for c in captured]
    assert [e["action"] for e in events] == [
        "sign-in-failed", "sign-in-failed", "account-locked", "sign-in", "command",
        "request-refused", "break-glass-sign-in", "sign-out",
    ]  # fmt: skip
    assert all(e["gateway_id"] == "gw-audit" for e in events)
    assert events[4]["device_id"] == "bed-1-oximeter" and events[4]["outcome"] == "success"
    assert events[6]["alert"] is True and events[5]["outcome"] == "refused"
    for event in events:
        assert set(event) <= {"time", "user", "action", "device_id", "outcome", "alert",
                              "gateway_id"}  # fmt: skip
    wire = b"".join(c.payload for c in captured)
    assert SECRET.encode() not in wire and b"CANARY" not in wire
    assert relay.refused == 1 and relay.dropped == 0


async def test_the_relay_keeps_a_bounded_queue_while_the_uplink_is_down() -> None:
    bus = DirectMqttBus(MqttEndpoint("mqtt://127.0.0.1:1", "gw-down"))  # never started
    relay = AuditRelay(bus, "gw-down", max_queued=2, retry_min_s=0.05)
    await relay.attach()
    event = {"time": "2026-12-06T06:30:00+00:00", "user": "tech", "action": "sign-in",
             "outcome": "success"}  # fmt: skip
    for _ in range(5):
        await relay.on_local(LocalMessage(AUDIT_LOCAL_TOPIC, json.dumps(event).encode()))
    assert relay.dropped == 3 and relay.delivered == 0


def test_ui_config_takes_a_syslog_server(tmp_path: Path) -> None:
    config = UiConfig.model_validate(
        {"syslog": {"host": "siem.example", "caFile": str(tmp_path / "ca.pem")}, "auditQueue": 50}
    )
    assert config.syslog is not None and config.syslog.port == 6514
    assert config.syslog.facility == 13 and config.audit_queue == 50


async def test_the_site_page_shows_the_dropped_copies(tmp_path: Path) -> None:
    import http.cookiejar
    import ssl
    import urllib.parse
    import urllib.request

    from wardlink.ui.accounts import Role
    from wardlink.ui.component import UiServer, build_context, serve
    from wardlink.ui.site_view import SiteView
    from wardlink.ui.tls import ensure_certificate

    settings = UiConfig(state_dir=tmp_path / "ui", audit_queue=10)
    ctx = build_context(settings, "gw-1", SiteView(), None)
    ctx.accounts.add("tech", "correct horse battery", Role.TECHNICIAN)
    ctx.audit_copies = AuditCopies.for_gateway(LocalPubSub().publish, "gw-1", None, max_queued=10)
    ctx.audit.sinks.append(ctx.audit_copies.sink)
    for _ in range(11):  # nothing drains the queue in this test; the sign-in below makes 12
        ctx.audit.record("sign-in", "tech")
    ctx.view.ingest("wardlink/local/site", json.dumps({"audit_dropped": 4}).encode())
    certificate = ensure_certificate(settings.state_dir, "gw-1")
    stop = asyncio.Event()
    started: asyncio.Future[UiServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(ctx, certificate, "127.0.0.1", 0, stop, started))
    server = await asyncio.wait_for(started, 15)

    def browse() -> str:
        tls = ssl.create_default_context(cafile=str(certificate.cert_file))
        tls.check_hostname = False
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=tls),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )
        page = opener.open(server.url + "/login").read().decode()
        token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"csrf": token, "username": "tech", "password": "correct horse battery"}
        return str(opener.open(server.url + "/login", urllib.parse.urlencode(form).encode())
                   .read().decode())  # fmt: skip

    try:
        site = await asyncio.to_thread(browse)
    finally:
        stop.set()
        await task
    assert "Audit copies dropped" in site
    assert "cloud: 2; uplink relay: 4" in site
