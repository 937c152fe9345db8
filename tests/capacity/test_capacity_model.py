"""The capacity model against cases computed by hand (the arithmetic is in each test)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from wardlink.capacity import (
    LIMITS,
    PRICES,
    SECONDS_PER_MONTH,
    Workload,
    estimate,
    facts_markdown,
)
from wardlink.capacity.model import messaging_usd
from wardlink.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "capacity.md"
GB = 1024**3


def test_a_small_clinic_by_hand() -> None:
    """100 devices, one point a minute each, 20 per gateway."""
    result = estimate(Workload(devices=100, rate=1 / 60))
    assert result.value("gateways") == 5
    # 20/60 points/s per gateway: one point per envelope, 1/3 envelope a second
    assert result.value("points_per_envelope") == 1
    assert result.value("envelope_bytes") == 300 + 40 + 200
    # 5 * 1/3 envelopes + 5/30 heartbeats
    assert result.value("messages_per_s") == pytest.approx(5 / 3 + 5 / 30)
    # both kinds fit one 5 KB unit: 1.8333 * 2,628,000 s
    assert result.value("metered_messages_per_month") == pytest.approx(4_818_000)
    usd = result.monthly_usd
    assert usd["IoT Core messaging"] == pytest.approx(4.818)
    assert usd["IoT Core connectivity"] == pytest.approx(5 * 43_800 / 1e6 * 0.08)
    assert usd["IoT rules and Kinesis actions"] == pytest.approx(4.818 * 0.30)
    # 1000 B/s in: one shard
    assert result.value("bytes_in_per_s") == pytest.approx(5 / 3 * 540 + 5 / 30 * 600)
    assert result.value("shards") == 1
    billed_gb = (5 / 3 + 5 / 30) * 1024 * SECONDS_PER_MONTH / GB
    read_gb = 2 * 1000 * SECONDS_PER_MONTH / GB
    assert usd["Kinesis (on-demand)"] == pytest.approx(730 * 0.04 + billed_gb * 0.08
                                                      + read_gb * 0.04)  # fmt: skip
    # 1.6667 evaluations/s, 1500-byte items: 2 WRU and 1 RRU each
    assert result.value("write_units_per_s") == pytest.approx(10 / 3)
    assert result.value("read_units_per_s") == pytest.approx(5 / 3)
    assert usd["DynamoDB detector state"] == pytest.approx(2.628 * (10 / 3 * 0.625
                                                                    + 5 / 3 * 0.125))
    assert result.value("stored_gb_per_day") == pytest.approx(100 / 60 * 5 * 3 * 86400 / 1e9)
    assert result.warnings == []


def test_two_hundred_thousand_devices_every_ten_seconds() -> None:
    result = estimate(Workload(devices=200_000, rate=0.1))
    assert result.value("gateways") == 10_000
    assert result.value("points_per_s") == 20_000
    # 2 points/s per gateway: each 0.1 s poll finds at most one, so envelopes hold one
    assert result.value("points_per_envelope") == 1
    assert result.value("messages_per_s") == pytest.approx(20_000 + 10_000 / 30)
    assert result.value("metered_messages_per_month") == pytest.approx(53_436_000_000)
    # tiers: 1e9 at $1, 4e9 at $0.80, the remaining 48.436e9 at $0.70 per million
    assert result.monthly_usd["IoT Core messaging"] == pytest.approx(1000 + 3200 + 33_905.2)
    # 20,334 records/s -> 21 shards; 11 MB/s in, 22 MB/s out -> 11
    assert result.value("bytes_in_per_s") == pytest.approx(11_000_000)
    assert result.value("shards") == 21
    assert result.value("detector_concurrency") == pytest.approx(160)
    assert result.value("write_units_per_s") == 40_000
    assert result.value("stored_gb_per_day") == pytest.approx(25.92)
    text = " ".join(result.warnings)
    assert "exceeds IoT Core's default 20,000/s per account" in text
    assert "raise the parallelization factor to 8" in text  # ceil(160 / 21)


def test_busy_gateways_batch_and_meter_by_5_kb() -> None:
    # 1000 devices * 1 point/s: 100 points per 0.1 s poll, 20,340 bytes = 4 units
    result = estimate(Workload(devices=1000, rate=1.0, devices_per_gateway=1000))
    assert result.value("points_per_envelope") == 100
    assert result.value("envelope_bytes") == 340 + 100 * 200
    assert result.value("publishes_per_gateway_s") == pytest.approx(10 + 1 / 30)
    assert result.value("metered_messages_per_month") == pytest.approx(
        (10 * 4 + 1 / 30 * 1) * SECONDS_PER_MONTH)


def test_an_envelope_is_capped_and_the_connection_limit_warned() -> None:
    # 200,000 points/s on one gateway: 653 points per envelope (128 KB), 306 envelopes/s
    result = estimate(Workload(devices=1000, rate=200.0, devices_per_gateway=1000))
    cap = (128 * 1024 - 300) // 200
    assert cap == 653
    assert result.value("points_per_envelope") == cap
    assert result.value("publishes_per_gateway_s") == pytest.approx(200_000 / 653 + 1 / 30)
    assert any("above IoT Core's 100 per connection" in w for w in result.warnings)


def test_video_files_and_logs_by_hand() -> None:
    result = estimate(Workload(devices=100, rate=1 / 60, video_streams=10, video_kbps=800,
                               video_retention_days=7, files_per_device_per_day=2, file_mb=5,
                               iot_log_bytes_per_message=1000))  # fmt: skip
    video_gb = 10 * 100_000 * SECONDS_PER_MONTH / GB  # 800 kbps = 100,000 bytes/s
    assert result.value("video_gb_per_month") == pytest.approx(video_gb)
    assert result.value("video_gb_stored") == pytest.approx(video_gb * 7 * 86400
                                                            / SECONDS_PER_MONTH)  # fmt: skip
    files = 100 * 2 * 730 / 24
    assert result.value("files_per_month") == pytest.approx(files)
    assert result.value("file_gb_added_per_month") == pytest.approx(files * 5 / 1024)
    log_gb = (5 / 3 + 5 / 30) * 1000 * SECONDS_PER_MONTH / GB
    assert result.value("iot_log_gb_per_month") == pytest.approx(log_gb)
    assert result.monthly_usd["IoT Core logs (CloudWatch ingestion)"] == pytest.approx(
        log_gb * 0.50)


def test_messaging_tiers_at_their_edges() -> None:
    assert messaging_usd(1e9) == pytest.approx(1000)
    assert messaging_usd(5e9) == pytest.approx(1000 + 3200)
    assert messaging_usd(6e9) == pytest.approx(1000 + 3200 + 700)


@pytest.mark.parametrize("bad", [{"devices": 0}, {"rate": -1.0}, {"rate": math.inf},
                                 {"rate": math.nan}, {"video_streams": -1},
                                 {"devices_per_gateway": 0}])  # fmt: skip
def test_bad_workloads_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        estimate(Workload(**bad))  # type: ignore[arg-type]


def test_the_command_prints_the_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cloud", "capacity", "--devices", "200000", "--rate", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "10,000" in out and "shards" in out and "Warnings:" in out
    assert main(["cloud", "capacity", "--devices", "100", "--rate", "0.0166", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["workload"]["devices"] == 100
    assert document["total_monthly_usd"] == pytest.approx(sum(document["monthly_usd"].values()))
    assert main(["cloud", "capacity", "--devices", "0", "--rate", "1"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_the_document_cites_every_limit_and_price_with_its_status() -> None:
    table = facts_markdown()
    assert table in DOC.read_text(encoding="utf-8"), "regenerate: wardlink cloud capacity --facts"
    for fact in [*LIMITS.values(), *PRICES.values()]:
        (row,) = [line for line in table.splitlines() if f"`{fact.key}`" in line]
        assert fact.source in row and fact.status in row
    assert "to verify" in table and "checked 2026-12-06" in table
