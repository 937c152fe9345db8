"""Extracting the IoT Events service description from a botocore wheel, and caching it."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from wardlink.detectors.validation import IOTEVENTS_BOTOCORE_VERSION, load_iotevents_service
from wardlink.detectors.validation.botocore_source import ShapeUnavailableError, cache_dir

MEMBER = "botocore/data/iotevents/2018-07-27/service-2.json"
SERVICE = {"metadata": {"serviceId": "IoT Events"}, "operations": {}, "shapes": {}}


def make_wheel(directory: Path, version: str, member: str, data: bytes) -> Path:
    wheel = directory / f"botocore-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, data)
    return wheel


@pytest.mark.parametrize(
    ("member", "data"),
    [
        (MEMBER, json.dumps(SERVICE).encode()),
        (MEMBER + ".gz", gzip.compress(json.dumps(SERVICE).encode())),  # newer wheels gzip it
    ],
)
def test_extracts_plain_or_gzipped_description_and_caches_it(
    tmp_path: Path, member: str, data: bytes
) -> None:
    wheel = make_wheel(tmp_path, "9.9.9", member, data)
    assert load_iotevents_service("9.9.9", tmp_path) == SERVICE
    wheel.unlink()  # the extracted JSON is cached next to it
    assert load_iotevents_service("9.9.9", tmp_path) == SERVICE
    assert (tmp_path / "iotevents-2018-07-27-service-2.botocore-9.9.9.json").is_file()


def test_a_wheel_without_iotevents_is_a_clear_error(tmp_path: Path) -> None:
    make_wheel(tmp_path, "9.9.8", "botocore/data/s3/2006-03-01/service-2.json", b"{}")
    with pytest.raises(ShapeUnavailableError, match="pick an older botocore"):
        load_iotevents_service("9.9.8", tmp_path)


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WARDLINK_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path / "botocore"
    monkeypatch.delenv("WARDLINK_CACHE_DIR")
    assert cache_dir() == Path.home() / ".cache" / "wardlink" / "botocore"


def test_the_pinned_release_still_describes_create_detector_model() -> None:
    service = load_iotevents_service()
    assert service["metadata"]["apiVersion"] == "2018-07-27"
    assert {"CreateDetectorModel", "CreateInput", "CreateAlarmModel"} <= set(service["operations"])
    assert IOTEVENTS_BOTOCORE_VERSION.startswith("1.35.")
