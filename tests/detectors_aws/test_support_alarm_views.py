"""How ``wardlink support alarms`` presents alarms: order, filters, full text, broken pipes.

Pure rendering over contract models (no cloud): the API round trips are in
``test_support_cli.py`` and ``tests/integration/test_shared_local_cloud.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from wardlink.cli.support import SERVICE_NOTE, alarm_details, filter_alarms, sort_alarms
from wardlink.contract.models import Alarm, AlarmState, Device

TEXT = (
    "Wardlink device service alert (not a clinical alarm): device OFFLINE. Device bed-3 "
    "(model Philips MX450) on gateway gw-1 has sent no telemetry and no connected status "
    "for 20 s. Last seen: 2026-12-06T06:00:00Z. Runbook: https://runbooks.example/offline"
)


def _device(uid: str, model: str, site: str, serial: str | None = None) -> Device:
    gateway, _, device = uid.partition("/")
    return Device(device_uid=uid, device_id=device, gateway_id=gateway, model=model,
                  site_id=site, serial_number=serial, last_seen="2026-12-06T06:00:00+00:00",
                  registered_at="2026-12-06T05:00:00+00:00")  # fmt: skip


def _alarm(name: str, severity: int, since: str, device: Device) -> Alarm:
    return Alarm(alarm_id=f"m#{name}#{device.device_uid}", state=AlarmState.ACTIVE,
                 severity=severity, since=since, last_change=since, device=device,
                 device_uid=device.device_uid, title=name, last_alert=TEXT,
                 runbook="https://runbooks.example/offline")  # fmt: skip


def test_most_severe_first_then_longest_standing_and_filters() -> None:
    oximeter = _device("gw-1/bed-2", "Nonin 3150", "icu")
    monitor = _device("gw-1/bed-3", "Philips MX450", "ward-4")
    alarms = [
        _alarm("fault", 2, "2026-12-06T06:10:00Z", oximeter),
        _alarm("offline", 2, "2026-12-06T06:00:00Z", monitor),
        _alarm("gateway", 1, "2026-12-06T06:20:00Z", monitor),
        _alarm("battery", 3, "2026-12-06T05:00:00Z", oximeter),
    ]
    assert [a.title for a in sort_alarms(alarms)] == ["gateway", "offline", "fault", "battery"]
    assert {a.title for a in filter_alarms(alarms, "icu", None)} == {"fault", "battery"}
    assert {a.title for a in filter_alarms(alarms, None, "  philips mx")} == {"offline", "gateway"}


def test_show_has_the_whole_text_the_runbook_and_the_serial_when_allowed() -> None:
    monitor = _device("gw-1/bed-3", "Philips MX450", "ward-4", serial="SN-77")
    with_serial = _alarm("offline", 2, "2026-12-06T06:00:00Z", monitor)
    shown = alarm_details(with_serial)
    assert " ".join(shown.split()).count("for 20 s. Last seen: 2026-12-06T06:00:00Z.") == 1
    assert "..." not in shown and "Runbook: https://runbooks.example/offline" in shown
    assert "SN-77" in shown and "Last seen" in shown
    withheld = alarm_details(_alarm("offline", 2, "2026-12-06T06:00:00Z",
                                    _device("gw-1/bed-3", "Philips MX450", "ward-4")))  # fmt: skip
    assert "withheld by the site's PHI policy" in withheld
    assert "not clinical alarms" in SERVICE_NOTE and "IEC 60601-1-8" in SERVICE_NOTE


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    env = tmp_path / "cloud.env"
    env.write_text("WARDLINK_API_ENDPOINT=http://127.0.0.1:9\nAWS_REGION=eu-west-1\n"
                   "AWS_ACCESS_KEY_ID=AKIAX\nAWS_SECRET_ACCESS_KEY=x\n")  # fmt: skip
    code = textwrap.dedent(f"""
        import argparse
        from pathlib import Path
        from wardlink.cli.support import _with_client

        def run(client, out):
            for _ in range(2000):
                out.write("x" * 1000 + "\\n")

        args = argparse.Namespace(env_file=Path({str(env)!r}), api=None, region=None)
        raise SystemExit(_with_client(args, run))
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()  # like `| head -c 10`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
