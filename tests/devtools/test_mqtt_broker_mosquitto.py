"""Mosquitto's command-line clients and the standalone entry point, as separate processes."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import signal
import sys
from pathlib import Path

import pytest

from tests.devtools.mqtt_peers import WAIT_S, RawClient, publish_packet, wait_until
from wardlink.devtools.mqtt_broker import EmbeddedBroker

pytestmark = pytest.mark.integration

needs_mosquitto = pytest.mark.skipif(
    shutil.which("mosquitto_pub") is None, reason="mosquitto-clients not installed"
)


async def run(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), WAIT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode()


@needs_mosquitto
@pytest.mark.parametrize("version", ["mqttv5", "mqttv311"])
async def test_mosquitto_sub_receives_mosquitto_pub(broker: EmbeddedBroker, version: str) -> None:
    port = str(broker.port)
    common = ("-h", "127.0.0.1", "-p", port, "-V", version)
    subscriber = asyncio.create_task(
        run("mosquitto_sub", *common, "-i", "msub", "-t", "wardlink/v1/+/health", "-q", "1",
            "-C", "2", "-v")
    )  # fmt: skip
    await wait_until(lambda: broker.subscriptions().get("msub") == ["wardlink/v1/+/health"])
    for payload in ("first", "second"):
        code, out = await run(
            "mosquitto_pub", *common, "-q", "1", "-t", "wardlink/v1/gw/health", "-m", payload
        )
        assert code == 0, out
    code, out = await subscriber
    assert code == 0, out
    assert out.splitlines() == ["wardlink/v1/gw/health first", "wardlink/v1/gw/health second"]


@needs_mosquitto
async def test_mosquitto_pub_sees_topic_rejection(broker: EmbeddedBroker) -> None:
    _, out = await run(
        "mosquitto_pub", "-p", str(broker.port), "-V", "mqttv5", "-q", "1", "-d",
        "-t", "a/b/c/d/e/f/g/h/i", "-m", "deep",
    )  # fmt: skip
    assert "RC:144" in out  # PUBACK 0x90 Topic Name invalid
    assert broker.stats.rejected == 1


async def test_standalone_entry_point_records_and_stops_on_sigterm(tmp_path: Path) -> None:
    record = tmp_path / "recording.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wardlink.devtools.mqtt_broker", "--port", "0",
        "--record", str(record),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), WAIT_S)
        assert line.startswith(b"listening on 127.0.0.1:"), line
        port = int(line.rsplit(b":", 1)[1])
        client = await RawClient.open(port)
        await client.connect("cli")
        await client.send(publish_packet("cli/topic", b"\x01\x02", qos=1))
        assert await client.read_packet() == (0x40, b"\x00\x01")
        await client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), WAIT_S) == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(d["topic"], base64.b64decode(d["payload_b64"])) for d in lines] == [
        ("cli/topic", b"\x01\x02")
    ]
