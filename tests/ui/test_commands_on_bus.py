"""Commands over the edge bus's local pub/sub: the UI's signed ones apply, a forged one is refused.

The same ``CommandService`` the DeviceProxy attaches and the same ``CommandClient``
the UI uses, on the local bus of a ``DirectMqttBus`` (its in-process pub/sub; no
broker needed for local topics). A component that can publish on the commands
topic but does not hold the key is refused, and the refusal is audited.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.support.waiting import eventually
from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
from wardlink.bus.port import LocalMessage
from wardlink.gateway.commands import CommandService, SiteOverlay
from wardlink.ui.app import CommandClient
from wardlink.ui.signing import COMMANDS_TOPIC, RESULTS_TOPIC, sign_command

KEY = b"0123456789abcdef0123456789abcdef"


def test_signed_command_applies_and_forged_one_is_refused_and_audited(tmp_path: Path) -> None:
    async def scenario() -> tuple[tuple[bool, str], list[dict[str, object]]]:
        bus = DirectMqttBus(MqttEndpoint("mqtt://127.0.0.1:1", "test-ui"))
        service = CommandService(
            KEY,
            SiteOverlay(tmp_path / "overlay.json"),
            tmp_path / "commands-audit.jsonl",
            known={"bed-1-oximeter"}.__contains__,
        )
        await service.attach(bus)
        client = CommandClient(KEY, bus.publish_local, COMMANDS_TOPIC, timeout_s=2)
        answers: list[dict[str, object]] = []

        async def on_result(message: LocalMessage) -> None:
            client.on_result(message.payload)
            answers.append(json.loads(message.payload))

        await bus.subscribe_local(RESULTS_TOPIC, on_result)
        applied = await client.send("tech", "assign", "bed-1-oximeter", {"unit": "ICU"})
        forged = sign_command(b"not-the-key-but-long-enough", "mallory", "assign", "bed-1-oximeter")
        await bus.publish_local(COMMANDS_TOPIC, forged)
        await eventually(lambda: len(answers) == 2)  # commands are handled as tasks
        return applied, answers

    applied, answers = asyncio.run(scenario())
    assert applied[0] is True
    assert answers[-1]["ok"] is False and "HMAC" in str(answers[-1]["detail"])
    audit = [json.loads(x) for x in (tmp_path / "commands-audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in audit] == ["command", "command-refused"]
    assert audit[1]["claimed"]["user"] == "mallory"  # type: ignore[index]
    assert json.loads((tmp_path / "overlay.json").read_text()) == {
        "bed-1-oximeter": {"unit": "ICU"}
    }


def test_the_ui_listens_where_the_components_publish() -> None:
    from wardlink.gateway.local_feed import LOCAL_TELEMETRY_TOPIC
    from wardlink.gateway.proxy import LOCAL_DEVICES_TOPIC
    from wardlink.gateway.site_devices import SITE_DEVICES_TOPIC as PROXY_SITE_DEVICES_TOPIC
    from wardlink.ui.site_view import DEVICES_TOPIC, SITE_DEVICES_TOPIC, SITE_TOPIC, TELEMETRY_TOPIC
    from wardlink.uplink.site_state import LOCAL_SITE_TOPIC

    assert (DEVICES_TOPIC, TELEMETRY_TOPIC, SITE_TOPIC, SITE_DEVICES_TOPIC) == (
        LOCAL_DEVICES_TOPIC,
        LOCAL_TELEMETRY_TOPIC,
        LOCAL_SITE_TOPIC,
        PROXY_SITE_DEVICES_TOPIC,
    )
