"""Pieces of the local cloud that need no running cloud: options, timers, S3 regions."""

from __future__ import annotations

import argparse
from pathlib import Path

import boto3
import pytest

from wardlink.cli.cloud import parse_timer
from wardlink.localcloud import LocalCloud
from wardlink.localcloud.cloud import LocalCloudError
from wardlink.localcloud.detectors import CloudDetectors
from wardlink.localcloud.moto_services import MotoServer, create_bucket
from wardlink.localcloud.tables import table_names


def test_timer_option_parses_name_and_seconds() -> None:
    assert parse_timer("heartbeat=10") == ("heartbeat", 10.0)
    assert parse_timer(" heartbeat = 2.5") == ("heartbeat", 2.5)
    for bad in ("heartbeat", "=10", "heartbeat=0", "heartbeat=x", "heartbeat=nan", "hb=inf"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_timer(bad)


def test_timers_shorter_than_a_second_are_refused_before_anything_starts() -> None:
    with pytest.raises(LocalCloudError, match="at least 1 second"):
        LocalCloud(detector_timers={"heartbeat": 0.5})


def test_a_timer_no_model_uses_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hearbeat"):
        CloudDetectors(
            None, table_names("x-"), tmp_path / "alerts.jsonl", timer_seconds={"hearbeat": 5}
        )


def test_shortened_timers_apply_to_every_model_that_sets_them(tmp_path: Path) -> None:
    detectors = CloudDetectors(
        None, table_names("x-"), tmp_path / "alerts.jsonl", timer_seconds={"heartbeat": 3}
    )
    assert set(detectors.model_names) >= {"wardlink-device-offline", "wardlink-gateway-health"}
    assert detectors.alerts() == []


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_data_bucket_is_created_in_the_cloud_region(region: str) -> None:
    bucket = f"wardlink-test-{region}"  # moto's state is process-wide: one name per region
    server = MotoServer()
    endpoint = server.start()
    try:
        s3 = boto3.client(
            "s3", region_name=region, endpoint_url=endpoint,
            aws_access_key_id="local", aws_secret_access_key="local",
        )  # fmt: skip
        create_bucket(s3, bucket)
        create_bucket(s3, bucket)  # again: already ours, no error
        location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
        assert (location or "us-east-1") == region
    finally:
        server.stop()
