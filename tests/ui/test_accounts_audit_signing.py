"""Unit tests: the UI's accounts, roles and audit log; the command signing the proxy trusts."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from wardlink.gateway.commands import CommandService, SiteOverlay
from wardlink.ui.accounts import AccountError, AccountStore, Role
from wardlink.ui.audit import AuditLog
from wardlink.ui.diagnostics import REMOVED, redact_config
from wardlink.ui.signing import CommandRefused, CommandVerifier, sign_command

KEY = b"k" * 32
PASSWORD = "correct horse battery"


def test_no_account_exists_until_one_is_added(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    assert store.list() == []
    assert not store.authenticate("admin", "admin").ok
    with pytest.raises(AccountError):
        store.add("tech", "short", Role.TECHNICIAN)
    store.add("tech", PASSWORD, Role.TECHNICIAN)
    account = store.get("tech")
    assert account is not None and account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in (tmp_path / "accounts.json").read_text()
    assert stat.S_IMODE((tmp_path / "accounts.json").stat().st_mode) == 0o600
    with pytest.raises(AccountError):
        store.add("tech", PASSWORD, Role.VIEWER)


def test_five_failures_lock_even_the_right_password(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json", max_failures=5, lockout_s=60)
    store.add("tech", PASSWORD, Role.TECHNICIAN)
    reasons = [store.authenticate("tech", "wrong password!", now=1000).reason for _ in range(5)]
    assert reasons == ["bad-credentials"] * 4 + ["now-locked"]
    assert store.authenticate("tech", PASSWORD, now=1001).reason == "locked"
    assert store.authenticate("tech", PASSWORD, now=1061).ok
    store.authenticate("tech", "wrong password!", now=1062)
    store.unlock("tech")
    assert store.authenticate("tech", PASSWORD).ok


def test_roles() -> None:
    assert not Role.VIEWER.may_act()
    assert Role.TECHNICIAN.may_act() and Role.ADMIN.may_act()


def test_audit_log_appends_json_lines(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "ui" / "audit.jsonl")
    copies: list[dict[str, object]] = []
    audit.sinks.append(copies.append)
    audit.record("sign-in", "tech", role="technician")
    audit.record("break-glass-sign-in", "glass", alert=True)
    lines = [json.loads(x) for x in (tmp_path / "ui" / "audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in lines] == ["sign-in", "break-glass-sign-in"]
    assert lines[1]["alert"] is True and "time" in lines[0]
    assert copies == lines
    assert stat.S_IMODE((tmp_path / "ui" / "audit.jsonl").stat().st_mode) == 0o600


def test_signed_command_verifies_once() -> None:
    verifier = CommandVerifier(KEY)
    payload = sign_command(KEY, "tech", "assign", "bed-1-oximeter", {"unit": "ICU"})
    command = verifier.verify(payload)
    assert (command.user, command.action, command.args) == ("tech", "assign", {"unit": "ICU"})
    with pytest.raises(CommandRefused, match="replayed"):
        verifier.verify(payload)


@pytest.mark.parametrize(
    "payload",
    [
        sign_command(b"x" * 32, "tech", "assign", "bed-1-oximeter"),  # another key
        sign_command(KEY, "tech", "assign", "bed-1-oximeter").replace(b"tech", b"boss"),
        json.dumps({"user": "tech", "action": "assign", "device_id": "d"}).encode(),
        sign_command(KEY, "tech", "assign", "bed-1-oximeter", now=0.0),  # stale
        b"not json",
    ],
)
def test_forged_altered_or_stale_commands_are_refused(payload: bytes) -> None:
    with pytest.raises(CommandRefused):
        CommandVerifier(KEY).verify(payload)


def test_command_service_applies_audits_and_refuses(tmp_path: Path) -> None:
    overlay_path = tmp_path / "state" / "site-overlay.json"
    service = CommandService(
        KEY,
        SiteOverlay(overlay_path),
        tmp_path / "state" / "audit.jsonl",
        known={"d-1"}.__contains__,
    )
    good = sign_command(KEY, "tech", "assign", "d-1", {"unit": "ICU", "room": "12", "bed": "B"})
    answer = json.loads(asyncio.run(service.handle(good)))
    assert answer["ok"] is True
    assert SiteOverlay(overlay_path).location("d-1") == {"unit": "ICU", "room": "12", "bed": "B"}
    forged = json.dumps({"id": "x", "user": "mallory", "action": "assign", "device_id": "d-1"})
    answer = json.loads(asyncio.run(service.handle(forged.encode())))
    assert answer["ok"] is False and "HMAC" in answer["detail"]
    events = [json.loads(x) for x in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["command", "command-refused"]
    assert events[1]["claimed"]["user"] == "mallory" and events[1]["alert"] is True
    unknown = sign_command(KEY, "tech", "reconnect", "nope")
    assert json.loads(asyncio.run(service.handle(unknown)))["ok"] is False


def test_diagnostics_config_loses_every_secret() -> None:
    config = {
        "broker": {"url": "mqtts://h:8883", "key": "/k.pem", "cert": "/c.pem"},
        "ui": {"commandKeySecret": "id", "password": "p"},
        "apiToken": "t",
        "note": "-----BEGIN PRIVATE KEY-----abc",
    }
    redacted = redact_config(config)
    assert redacted["broker"]["key"] == REMOVED and redacted["broker"]["url"] == "mqtts://h:8883"
    assert redacted["ui"]["commandKeySecret"] == REMOVED and redacted["ui"]["password"] == REMOVED
    assert redacted["apiToken"] == REMOVED and redacted["note"] == REMOVED
