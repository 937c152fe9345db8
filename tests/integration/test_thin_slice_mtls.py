"""The thin slice against a real Mosquitto configured like IoT Core (mutual TLS).

pty (simulated Nonin oximeter) -> pyserial -> nonin-2 codec -> redaction policy
-> SQLite spool -> publisher -> awsiotsdk MQTT 5 over mTLS -> Mosquitto.
"""

from __future__ import annotations

import asyncio
import os
import tty
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
from wardlink.codecs import DecodeContext, get_codec
from wardlink.codecs.nonin2 import encode_packet
from wardlink.devtools.mqtt_observer import MqttObserver
from wardlink.devtools.pki import make_dev_pki
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import DeviceIdentity, PatientContext
from wardlink.phi.policy import RedactionPolicy
from wardlink.spool import Spool
from wardlink.transports.serial import SerialSettings, SerialTransport
from wardlink.uplink import Publisher

CANARY_PATIENT = PatientContext(
    patient_id="MRN-CANARY-884422",
    family_name="Zyxwvutson",
    given_name="Quillaby",
    birth_date="1951-02-03",
    phone="555-867-5309",
    address="42 Canary Lane, Springfield",
)


def _bus(broker: Mosquitto, client_id: str = "wardlink-test-gateway") -> DirectMqttBus:
    assert broker.pki is not None
    return DirectMqttBus(
        MqttEndpoint(
            url=broker.url,
            client_id=client_id,
            cert=str(broker.pki.client_cert),
            key=str(broker.pki.client_key),
            ca=str(broker.pki.ca_cert),
        )
    )


async def _feed_pty(master: int, packets: int, stop: asyncio.Event) -> None:
    for index in range(packets):
        if stop.is_set():
            return
        os.write(master, encode_packet(60 + index % 40, 90 + index % 10))
        await asyncio.sleep(0.02)


@pytest.mark.integration
async def test_slice_delivers_over_mutual_tls_without_phi(
    mosquitto_tls: Mosquitto, tmp_path: Path
) -> None:
    capture = MqttObserver("127.0.0.1", mosquitto_tls.port, mosquitto_tls.pki)
    await asyncio.to_thread(capture.start)
    master, slave = os.openpty()
    tty.setraw(slave)
    spool = Spool(tmp_path / "spool.sqlite3")
    bus = _bus(mosquitto_tls)
    await bus.start()
    assert await bus.wait_connected(10), mosquitto_tls.log()
    publisher = Publisher(bus, spool, "wardlink-test-gateway")
    writer = SpoolWriter(spool, on_appended=publisher.notify)
    identity = DeviceIdentity(device_id="bed-7-spo2", model="Nonin OEM III (simulated)")
    worker = DeviceWorker(
        identity,
        SerialTransport(SerialSettings(path=os.ttyname(slave), baudrate=9600)),
        get_codec("serial:nonin-2")(DecodeContext(identity.device_id)),  # type: ignore[arg-type]
        RedactionPolicy(),
        writer,
        expected_interval_s=1.0,
        patient=CANARY_PATIENT,
    )
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(worker.run(stop)),
        asyncio.create_task(writer.run(stop)),
        asyncio.create_task(publisher.run(stop)),
    ]
    for _ in range(100):  # pyserial flushes input on open: start the device after that
        if worker.transport.connected:
            break
        await asyncio.sleep(0.05)
    await _feed_pty(master, 40, stop)
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
    assert await publisher.drain(timeout=10)

    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        seqs = {item["seq"] for m in capture.snapshot() for item in m.json()["items"]}
        if len(seqs) >= publisher.counters.last_seq:
            break
        await asyncio.sleep(0.1)
    messages = capture.snapshot()
    await bus.close()
    capture.stop()
    os.close(master)
    os.close(slave)

    assert worker.counters.acquired == 80  # 40 packets x (HR, SpO2)
    telemetry = [m for m in messages if m.topic == "wardlink/v1/wardlink-test-gateway/telemetry"]
    items = [item for m in telemetry for item in m.json()["items"]]
    assert len({i["seq"] for i in items}) == 80
    assert {i["mdc_name"] for i in items} == {"MDC_PULS_OXIM_PULS_RATE", "MDC_PULS_OXIM_SAT_O2"}
    all_seqs = sorted({item["seq"] for m in messages for item in m.json()["items"]})
    assert all_seqs == list(range(1, publisher.counters.last_seq + 1))
    raw = b"".join(m.payload for m in messages)
    for canary in CANARY_PATIENT.values():
        assert canary.encode() not in raw
    assert spool.stats().depth == 0


@pytest.mark.integration
async def test_plain_and_foreign_certificate_connections_are_refused(
    mosquitto_tls: Mosquitto, tmp_path: Path
) -> None:
    plain = DirectMqttBus(
        MqttEndpoint(url=f"mqtt://127.0.0.1:{mosquitto_tls.port}", client_id="plain")
    )
    rogue_pki = make_dev_pki(tmp_path / "rogue")
    assert mosquitto_tls.pki is not None
    rogue = DirectMqttBus(
        MqttEndpoint(
            url=mosquitto_tls.url,
            client_id="rogue",
            cert=str(rogue_pki.client_cert),
            key=str(rogue_pki.client_key),
            ca=str(mosquitto_tls.pki.ca_cert),
        )
    )
    good = _bus(mosquitto_tls, "good")
    for bus in (plain, rogue, good):
        await bus.start()
    try:
        assert await good.wait_connected(10)
        assert not await plain.wait_connected(2)
        assert not await rogue.wait_connected(1)
    finally:
        for bus in (plain, rogue, good):
            await bus.close()
