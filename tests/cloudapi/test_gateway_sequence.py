"""``seq`` never goes backwards, even after a gateway loses its whole spool.

The cloud's side: the telemetry writer, fed through the local cloud's IoT rule and
Kinesis bridge, records the highest ``seq`` it handled per gateway, and
``GET /gateways/{id}/sequence`` returns it to that gateway only. The gateway's side:
a spool whose database and high-water mark are both gone waits, publishes nothing,
asks that route through the real signed client, and numbers every record above
the answer, the ones it spooled while waiting included.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.spool.test_sqlite_spool import _telemetry
from tests.support.fleet_api import client_for
from wardlink.cloudclient import ApiClientError
from wardlink.localcloud import LocalCloud
from wardlink.model import RecordKind
from wardlink.spool import Spool
from wardlink.uplink.sequence import anchor_spool


def _envelope(first_seq: int, count: int) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    items: list[dict[str, Any]] = [
        {
            "seq": first_seq + i,
            "device_id": "spo2-1",
            "mdc_code": 150456,
            "mdc_name": "MDC_PULS_OXIM_SAT_O2",
            "value": 97,
            "unit": "%",
            "measured_at": now,
            "quality": "valid",
        }
        for i in range(count)
    ]
    return json.dumps(
        {"schema_version": "wardlink.envelope/1", "kind": "telemetry", "items": items}
    ).encode()


def _deliver(cloud: LocalCloud, gateway: str, *envelopes: bytes) -> None:
    for payload in envelopes:
        assert cloud.publish(f"wardlink/v1/{gateway}/telemetry", payload)
    assert cloud.wait_idle(30)


def test_the_cloud_acknowledges_the_highest_stored_seq_to_that_gateway_only(
    local_cloud: LocalCloud, unique: str
) -> None:
    gateway, other = f"gw-seq-{unique}", f"gw-other-{unique}"
    mine = client_for(local_cloud, local_cloud.gateway_credentials(gateway))
    assert mine.last_acknowledged_seq(gateway) == 0  # never heard from

    _deliver(local_cloud, gateway, _envelope(1, 40), _envelope(41, 60))
    assert mine.last_acknowledged_seq(gateway) == 100
    _deliver(local_cloud, gateway, _envelope(1, 40))  # a re-delivery never lowers it
    assert mine.last_acknowledged_seq(gateway) == 100

    theirs = client_for(local_cloud, local_cloud.gateway_credentials(other))
    with pytest.raises(ApiClientError) as refused:
        theirs.last_acknowledged_seq(gateway)
    assert refused.value.status == 403
    support = client_for(local_cloud, local_cloud.support_credentials())
    assert support.last_acknowledged_seq(gateway) == 100


def test_a_gateway_that_lost_its_spool_numbers_above_what_the_cloud_holds(
    local_cloud: LocalCloud, unique: str, tmp_path: Path
) -> None:
    gateway = f"gw-lost-{unique}"
    _deliver(local_cloud, gateway, _envelope(1, 250))
    client = client_for(local_cloud, local_cloud.gateway_credentials(gateway))

    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    assert not spool.sequence_anchored  # nothing here says how far numbering had got
    waiting = spool.append_sealed(_telemetry(5), RecordKind.TELEMETRY)  # devices keep spooling
    assert (waiting.first_seq, waiting.last_seq) == (1, 5)

    calls = 0

    def ask() -> int:  # the network comes back on the third try
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("no route to the API")
        return client.last_acknowledged_seq(gateway)

    assert asyncio.run(anchor_spool(spool, ask, asyncio.Event(), first_delay_s=0.01))
    assert spool.sequence_anchored
    assert [r.seq for r in spool.read(max_items=10)] == [251, 252, 253, 254, 255]
    assert spool.append_sealed(_telemetry(1), RecordKind.TELEMETRY).first_seq == 256
    spool.close()

    again = Spool(path)  # anchored for good: a restart asks nothing
    assert again.sequence_anchored
    again.close()
