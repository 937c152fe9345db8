"""The local cloud's telemetry store is a real InfluxDB: what the broker carries is
written over ``/write`` and read back over InfluxQL ``/query``, as in AWS."""

from __future__ import annotations

import time

from tests.detectors_aws.envelopes import SPO2, Gateway
from tests.localcloud.conftest import WAIT_S, publish
from tests.support.mosquitto import Mosquitto
from wardlink.cloudapi.telemetry.reader import TelemetryRow
from wardlink.localcloud import LocalCloud


def test_bridged_telemetry_lands_in_influxdb_and_reads_back(
    cloud: LocalCloud, broker: Mosquitto, gateway: Gateway
) -> None:
    topic = f"wardlink/v1/{gateway.gateway_id}/telemetry"
    publish(broker.port, [(topic, gateway.telemetry("spo2-7", [(SPO2, 95.0, "%")])),
                          (topic, gateway.telemetry("spo2-7", [(SPO2, 96.0, "%")]))])
    # the broker acknowledged; the bridge may still be taking the messages in
    deadline = time.monotonic() + WAIT_S
    rows: list[TelemetryRow] = []
    while len(rows) < 2 and time.monotonic() < deadline:
        cloud.wait_idle(WAIT_S)
        rows = [r for r in cloud.telemetry_reader().last_hour("spo2-7")
                if r.tags.get("gateway_id") == gateway.gateway_id]
        time.sleep(0.05)
    assert sorted(r.fields["value"] for r in rows) == [95.0, 96.0]
    assert {r.measure_name for r in rows} == {"MDC_PULS_OXIM_SAT_O2"}
    assert all(r.tags["unit"] == "%" and isinstance(r.fields["seq"], int) for r in rows)

    env = cloud.environment()
    assert env["TELEMETRY_STORE"] == "influxdb"
    assert env["INFLUXDB_URL"] == cloud.influxdb_url and env["INFLUXDB_URL"].startswith(
        "http://127.0.0.1:")
