"""Lambda ``uploads``: presigned S3 PUT URLs for procedure data files.

``POST /gateways/{gateway_id}/devices/{device_id}/uploads`` (a gateway, for its own
device: IAM matches the path's gateway to the caller's thing name) records the file in the device's
``data_files`` first and only then signs the URL, so every object that can appear
in the bucket under ``devices/`` is linked to a registered device. The URL is bound
to the content type the caller declared and expires after ``UPLOAD_URL_TTL_S``
(15 minutes by default); the bucket's default KMS encryption applies to the object.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi.errors import Forbidden
from wardlink.cloudapi.handlers.common import (
    NOT_YOURS,
    build_resolver,
    current_caller,
    json_response,
    logger,
    path_id,
    tracer,
)
from wardlink.cloudapi.repositories import DeviceRepository
from wardlink.cloudapi.services import get_services
from wardlink.contract.access import Role
from wardlink.contract.models import (
    GATEWAY_ID_PATTERN,
    DataFile,
    UploadRequest,
    UploadTicket,
    device_uid,
)
from wardlink.model.identity import DEVICE_ID_PATTERN

app = build_resolver()


def object_key(uid: str, upload_id: str, filename: str) -> str:
    """``devices/{gateway_id}/{device_id}/{upload_id}/{filename}``: one prefix per device."""
    return f"devices/{uid}/{upload_id}/{filename}"


@app.post("/gateways/<gateway_id>/devices/<device_id>/uploads")
def request_upload(
    gateway_id: str, device_id: str, upload: UploadRequest
) -> Response[UploadTicket]:
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    uid = device_uid(gateway, path_id(device_id, DEVICE_ID_PATTERN, "device_id"))
    caller = current_caller(app)
    if caller.role is not Role.GATEWAY:
        raise Forbidden(NOT_YOURS)  # files come from the gateway that holds the device
    services = get_services()
    settings = services.settings
    bucket = settings.require("data_bucket")
    devices = DeviceRepository(services.dynamodb, settings.require("devices_table"))

    now = datetime.now(UTC)
    upload_id = uuid.uuid4().hex
    key = object_key(uid, upload_id, upload.filename)
    devices.add_data_file(
        uid,
        DataFile(
            upload_id=upload_id,
            key=key,
            filename=upload.filename,
            content_type=upload.content_type,
            requested_at=now.isoformat(timespec="microseconds"),
            procedure_id=upload.procedure_id,
            size_bytes=upload.size_bytes,
        ),
    )
    url = services.s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": upload.content_type},
        ExpiresIn=settings.upload_url_ttl_s,
        HttpMethod="PUT",
    )
    logger.info(
        "upload URL issued",
        extra={"device_uid": uid, "upload_id": upload_id, "caller": caller.arn},
    )
    ticket = UploadTicket(
        upload_id=upload_id,
        device_uid=uid,
        key=key,
        url=url,
        headers={"Content-Type": upload.content_type},
        expires_at=(now + timedelta(seconds=settings.upload_url_ttl_s)).isoformat(),
    )
    return json_response(201, ticket)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
