"""Presigned uploads: linked to the device's metadata, and usable against (moto) S3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cloudapi.conftest import HandlerCaller
from wardlink.cloudclient import ApiClientError, WardlinkApiClient


def test_upload_url_is_linked_to_the_device_and_works(
    api: WardlinkApiClient, services: Any, unique: str, tmp_path: Path
) -> None:
    uid = f"gw-{unique}/ecg-1"
    api.register_device(gateway_id=f"gw-{unique}", device_id="ecg-1", model="ECG")
    data = tmp_path / "holter-2026-11-21.edf"
    data.write_bytes(b"0" * 1024)

    ticket = api.upload_file(uid, data, "application/octet-stream", procedure_id="proc-7")

    assert ticket.key == f"devices/{uid}/{ticket.upload_id}/holter-2026-11-21.edf"
    device = api.get_device(uid)
    assert device is not None
    [linked] = device.data_files
    assert (linked.upload_id, linked.key, linked.procedure_id, linked.size_bytes) == (
        ticket.upload_id, ticket.key, "proc-7", 1024,
    )  # fmt: skip
    stored = services.s3.get_object(Bucket=services.settings.data_bucket, Key=ticket.key)
    assert stored["Body"].read() == b"0" * 1024

    # re-registering the device keeps its data files
    api.register_device(gateway_id=f"gw-{unique}", device_id="ecg-1", model="ECG")
    again = api.get_device(uid)
    assert again is not None and len(again.data_files) == 1


def test_upload_url_signs_the_declared_content_type(api: WardlinkApiClient, unique: str) -> None:
    # moto does not check presigned signatures, so we check what S3 would check:
    # the URL is SigV4 (required for KMS objects) and content-type is a signed header
    uid = f"gw-{unique}/pump-1"
    api.register_device(gateway_id=f"gw-{unique}", device_id="pump-1", model="Pump")
    ticket = api.request_upload_url(uid, "log.csv", "text/csv")
    assert ticket.headers == {"Content-Type": "text/csv"}
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in ticket.url
    assert "X-Amz-SignedHeaders=content-type%3Bhost" in ticket.url
    assert "X-Amz-Expires=900" in ticket.url


def test_upload_for_unknown_device_is_404_and_bad_input_400(
    api: WardlinkApiClient, call_handler: HandlerCaller, unique: str
) -> None:
    with pytest.raises(ApiClientError) as missing:
        api.request_upload_url(f"gw-{unique}/ghost", "a.bin")
    assert missing.value.status == 404

    for body in (
        {"filename": "../etc/passwd"},
        {"filename": "a.bin", "size_bytes": 0},
        {"filename": "a.bin", "content_type": "not a type"},
        {},
    ):
        status, error = call_handler("POST", f"/gateways/gw-{unique}/devices/ghost/uploads", body)
        assert status == 400, body
        assert error["error"] == "ValidationError"
