"""Lambdas around the Timestream for InfluxDB instance: its set-up and its token rotation.

``handler`` is a CloudFormation custom resource (Lambda-backed, inside the VPC): on
Create and Update it signs in with the admin secret, makes the organization, the
bucket with its retention, the DBRP mapping and a token scoped to that bucket
(``wardlink.cloudapi.telemetry.provisioning``), and puts the token into the
writer's secret. On Delete it leaves the data alone (telemetry is retained, like
every stateful resource of the stack). It always answers CloudFormation, with
the reason on failure, so a stack never hangs on it.

``rotation_handler`` is the writer secret's Secrets Manager rotation function:
``createSecret`` mints a new bucket token as ``AWSPENDING``, ``testSecret`` reads
the bucket with it, ``finishSecret`` makes it ``AWSCURRENT`` and revokes the old
token. Writers holding the old token get 401 once and re-read the secret.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi.handlers.common import logger
from wardlink.cloudapi.services import get_services
from wardlink.cloudapi.telemetry.influxdb import InfluxDBError
from wardlink.cloudapi.telemetry.provisioning import BucketAccess, InfluxAdmin, token_works

_pool = urllib3.PoolManager(retries=urllib3.Retry(total=3, backoff_factor=0.5))


def _secrets() -> Any:
    return get_services().client("secretsmanager")


def _admin(url: str, admin_secret_arn: str) -> InfluxAdmin:
    credentials = json.loads(_secrets().get_secret_value(SecretId=admin_secret_arn)["SecretString"])
    return InfluxAdmin(url).sign_in(str(credentials["username"]), str(credentials["password"]))


def _current_access(secret_arn: str, stage: str = "AWSCURRENT") -> BucketAccess | None:
    try:
        text = _secrets().get_secret_value(SecretId=secret_arn, VersionStage=stage)["SecretString"]
        return BucketAccess.from_secret(text)
    except (KeyError, ValueError, TypeError):
        return None  # the placeholder CloudFormation generated, not yet a token


def _respond(event: dict[str, Any], status: str, reason: str, data: dict[str, str]) -> None:
    body = json.dumps({
        "Status": status,
        "Reason": reason[:3000],
        "PhysicalResourceId": event.get("PhysicalResourceId")
        or f"{event['ResourceProperties'].get('Organization')}/"
           f"{event['ResourceProperties'].get('Bucket')}",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": True,
        "Data": data,
    }).encode()  # fmt: skip
    response = _pool.request(
        "PUT", event["ResponseURL"], body=body,
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )  # fmt: skip
    if response.status >= 300:
        logger.error("CloudFormation did not take the response", extra={"status": response.status})


def provision(properties: dict[str, Any]) -> BucketAccess:
    """Create/Update: everything the writer needs, its token stored in the secret."""
    token_secret = str(properties["TokenSecretArn"])
    admin = _admin(str(properties["Url"]), str(properties["AdminSecretArn"]))
    access = admin.provision(
        str(properties["Organization"]),
        str(properties["Bucket"]),
        int(properties["RetentionDays"]),
        _current_access(token_secret),
    )
    _secrets().put_secret_value(SecretId=token_secret, SecretString=access.to_secret())
    return access


def handler(event: dict[str, Any], context: LambdaContext) -> None:
    request = event.get("RequestType")
    data: dict[str, str] = {}
    try:
        if request in ("Create", "Update"):
            access = provision(event["ResourceProperties"])
            data = {"OrgId": access.org_id, "BucketId": access.bucket_id,
                    "Database": access.database}  # fmt: skip
        elif request != "Delete":
            raise ValueError(f"unknown RequestType {request!r}")
    except Exception as exc:  # CloudFormation must always get an answer
        logger.exception("InfluxDB set-up failed", extra={"request": request})
        _respond(event, "FAILED", f"{type(exc).__name__}: {exc}", {})
        return
    _respond(event, "SUCCESS", "", data)


# -- rotation -------------------------------------------------------------------------------


def _stages(secret_arn: str) -> dict[str, list[str]]:
    described = _secrets().describe_secret(SecretId=secret_arn)
    versions: dict[str, list[str]] = described.get("VersionIdsToStages", {})
    return versions


def create_secret(secret_arn: str, token: str, admin_secret_arn: str) -> None:
    if "AWSPENDING" in _stages(secret_arn).get(token, []):
        return
    current = _current_access(secret_arn)
    if current is None:
        raise InfluxDBError("the writer secret holds no token yet: deploy the set-up first")
    admin = _admin(current.url, admin_secret_arn)
    new_token, authorization_id = admin.create_bucket_token(
        current.org_id, current.bucket_id, f"wardlink telemetry writer: read/write {current.bucket}"
    )
    fresh = BucketAccess(current.url, current.org, current.org_id, current.bucket,
                         current.bucket_id, new_token, authorization_id)  # fmt: skip
    _secrets().put_secret_value(
        SecretId=secret_arn, ClientRequestToken=token,
        SecretString=fresh.to_secret(), VersionStages=["AWSPENDING"],
    )  # fmt: skip


def test_secret(secret_arn: str) -> None:
    pending = _current_access(secret_arn, "AWSPENDING")
    if pending is None or not token_works(pending):
        raise InfluxDBError("the pending token cannot read its bucket")


def finish_secret(secret_arn: str, token: str, admin_secret_arn: str) -> None:
    stages = _stages(secret_arn)
    current_version = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
    if current_version == token:
        return
    old = _current_access(secret_arn)
    _secrets().update_secret_version_stage(
        SecretId=secret_arn, VersionStage="AWSCURRENT",
        MoveToVersionId=token, RemoveFromVersionId=current_version,
    )  # fmt: skip
    if old is not None:
        _admin(old.url, admin_secret_arn).delete_authorization(old.authorization_id)


def rotation_handler(event: dict[str, Any], context: LambdaContext) -> None:
    secret_arn = str(event["SecretId"])
    token = str(event["ClientRequestToken"])
    step = event["Step"]
    admin_secret_arn = get_services().settings.require("influxdb_admin_secret_arn")
    if step != "createSecret" and token not in _stages(secret_arn):
        raise ValueError(f"version {token} is not a version of the secret")
    if step == "createSecret":
        create_secret(secret_arn, token, admin_secret_arn)
    elif step == "setSecret":
        pass  # the token exists in InfluxDB since createSecret
    elif step == "testSecret":
        test_secret(secret_arn)
    elif step == "finishSecret":
        finish_secret(secret_arn, token, admin_secret_arn)
    else:
        raise ValueError(f"unknown rotation step {step!r}")
    logger.info("rotation step done", extra={"step": step})
