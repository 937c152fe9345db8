"""The Timestream for InfluxDB set-up and token rotation, and the writer with a token.

These parts use InfluxDB 2.x's own API (organizations, buckets, DBRP mappings,
tokens, ``/api/v2/delete``), which Debian's 1.x server does not have: they run
against ``FakeInfluxDB2``, a fake of exactly those endpoints. Secrets Manager and
S3 are moto (the local cloud's moto server); the refused-points report also runs
against the real InfluxDB.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.fake_influxdb2 import FakeInfluxDB2
from tests.support.influxdb import InfluxDatabase
from wardlink.cloudapi.handlers import influxdb_setup, telemetry_writer
from wardlink.cloudapi.services import Services, get_services, use_services
from wardlink.cloudapi.settings import CloudSettings
from wardlink.cloudapi.telemetry.erasure import InfluxDBEraser
from wardlink.cloudapi.telemetry.influxdb import InfluxHTTP
from wardlink.cloudapi.telemetry.provisioning import BucketAccess
from wardlink.localcloud import LocalCloud
from wardlink.localcloud.apigw import LocalLambdaContext
from wardlink.localcloud.invoker import INVOCATION_LOCK

NOW = datetime.now(UTC).replace(microsecond=0)
RETENTION_DAYS = 2555


@contextmanager
def _installed(cloud: LocalCloud, **settings: Any) -> Iterator[Services]:
    """Run handlers with these settings (moto for AWS), then put the cloud's back."""
    assert cloud.services is not None and cloud.aws_endpoint is not None
    services = Services(
        settings=CloudSettings(data_bucket=cloud.config.bucket, **settings),
        session=cloud.services.session,
        endpoints={"secretsmanager": cloud.aws_endpoint, "s3": cloud.aws_endpoint},
    )
    with INVOCATION_LOCK:
        previous, store = get_services(), telemetry_writer.get_store()
        use_services(services)
        telemetry_writer.use_store(None)
        try:
            yield services
        finally:
            use_services(previous)
            telemetry_writer.use_store(store)


def _secrets(cloud: LocalCloud) -> Any:
    assert cloud.services is not None
    return cloud.services.session.client("secretsmanager", endpoint_url=cloud.aws_endpoint)


@pytest.fixture
def fake() -> Iterator[FakeInfluxDB2]:
    with FakeInfluxDB2("wardlink-admin", "s3cret-admin") as server:
        yield server


@pytest.fixture
def secrets(local_cloud: LocalCloud, fake: FakeInfluxDB2) -> tuple[str, str]:
    """(admin secret ARN, writer token secret ARN, still a placeholder)."""
    client = _secrets(local_cloud)
    suffix = uuid.uuid4().hex[:8]
    admin = client.create_secret(
        Name=f"influx-admin-{suffix}",
        SecretString=json.dumps({"username": "wardlink-admin", "password": "s3cret-admin"}),
    )["ARN"]
    token = client.create_secret(Name=f"influx-token-{suffix}", SecretString="placeholder")["ARN"]
    return admin, token


def _cfn_event(fake: FakeInfluxDB2, secrets: tuple[str, str], request: str,
               retention_days: int = RETENTION_DAYS) -> dict[str, Any]:
    return {
        "RequestType": request, "ResponseURL": f"{fake.url}/cfn/{uuid.uuid4().hex}",
        "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/Wardlink-dev/x",
        "RequestId": uuid.uuid4().hex, "LogicalResourceId": "InfluxSetup",
        "ResourceType": "Custom::WardlinkInfluxDBSetup",
        **({"PhysicalResourceId": "wardlink/telemetry"} if request != "Create" else {}),
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:000000000000:function:setup",
            "Url": fake.url, "AdminSecretArn": secrets[0], "TokenSecretArn": secrets[1],
            "Organization": "wardlink", "Bucket": "telemetry",
            "RetentionDays": str(retention_days),
        },
    }  # fmt: skip


def _access(cloud: LocalCloud, arn: str, stage: str = "AWSCURRENT") -> BucketAccess:
    value = _secrets(cloud).get_secret_value(SecretId=arn, VersionStage=stage)
    return BucketAccess.from_secret(value["SecretString"])


def _set_up(cloud: LocalCloud, fake: FakeInfluxDB2, secrets: tuple[str, str]) -> BucketAccess:
    with _installed(cloud):
        influxdb_setup.handler(_cfn_event(fake, secrets, "Create"), LocalLambdaContext("setup"))
    assert fake.state.cfn_responses[-1]["Status"] == "SUCCESS", fake.state.cfn_responses[-1]
    return _access(cloud, secrets[1])


def test_setup_makes_org_bucket_dbrp_and_a_bucket_scoped_token(
    local_cloud: LocalCloud, fake: FakeInfluxDB2, secrets: tuple[str, str]
) -> None:
    access = _set_up(local_cloud, fake, secrets)
    state = fake.state
    [org] = state.orgs.values()
    [bucket] = state.buckets.values()
    [dbrp] = state.dbrps.values()
    [auth] = state.authorizations.values()
    assert org["name"] == "wardlink" and bucket["name"] == "telemetry"
    assert bucket["retentionRules"] == [{"type": "expire", "everySeconds": RETENTION_DAYS * 86400}]
    assert (dbrp["database"], dbrp["retention_policy"], dbrp["default"]) == (
        "telemetry", "autogen", True)
    assert dbrp["bucketID"] == bucket["id"]
    # read and write on this one bucket, nothing else (not the admin's all-access token)
    assert sorted((p["action"], p["resource"]["type"], p["resource"]["id"])
                  for p in auth["permissions"]) == [
        ("read", "buckets", bucket["id"]), ("write", "buckets", bucket["id"])]
    assert (access.token, access.bucket_id, access.database) == (
        auth["token"], bucket["id"], "telemetry")
    response = state.cfn_responses[-1]
    assert response["Data"] == {"OrgId": org["id"], "BucketId": bucket["id"],
                                "Database": "telemetry"}
    assert response["NoEcho"] is True and auth["token"] not in json.dumps(response)


def test_setup_again_is_idempotent_and_updates_retention(
    local_cloud: LocalCloud, fake: FakeInfluxDB2, secrets: tuple[str, str]
) -> None:
    first = _set_up(local_cloud, fake, secrets)
    with _installed(local_cloud):
        influxdb_setup.handler(_cfn_event(fake, secrets, "Update", retention_days=3650),
                               LocalLambdaContext("setup"))
        influxdb_setup.handler(_cfn_event(fake, secrets, "Delete"), LocalLambdaContext("setup"))
    assert [r["Status"] for r in fake.state.cfn_responses] == ["SUCCESS"] * 3
    assert _access(local_cloud, secrets[1]) == first  # the live token is kept
    assert (len(fake.state.orgs), len(fake.state.buckets), len(fake.state.dbrps),
            len(fake.state.authorizations)) == (1, 1, 1, 1)
    [bucket] = fake.state.buckets.values()  # Delete keeps the data
    assert bucket["retentionRules"][0]["everySeconds"] == 3650 * 86400


def test_setup_failure_is_reported_to_cloudformation(
    local_cloud: LocalCloud, fake: FakeInfluxDB2, secrets: tuple[str, str]
) -> None:
    fake.state.password = "rotated-elsewhere"
    with _installed(local_cloud):
        influxdb_setup.handler(_cfn_event(fake, secrets, "Create"), LocalLambdaContext("setup"))
    [response] = fake.state.cfn_responses
    assert response["Status"] == "FAILED" and "sign-in refused: 401" in response["Reason"]


def _kinesis_event(count: int, first_seq: int = 1) -> dict[str, Any]:
    envelope = {
        "schema_version": "wardlink.envelope/1", "gateway_id": "gw-tok", "kind": "telemetry",
        "sent_at": NOW.isoformat(),
        "items": [{"seq": first_seq + i, "device_id": "spo2-1", "mdc_code": 150456,
                   "mdc_name": "MDC_PULS_OXIM_SAT_O2", "value": 97, "unit": "%",
                   "measured_at": (NOW - timedelta(seconds=count - i)).isoformat(),
                   "quality": "valid"} for i in range(count)],
    }  # fmt: skip
    data = base64.b64encode(json.dumps(envelope).encode()).decode()
    return {"Records": [{"kinesis": {"partitionKey": "gw-tok", "sequenceNumber": "1",
                                     "data": data}}]}  # fmt: skip


def test_writer_uses_the_token_and_survives_a_rotation(
    local_cloud: LocalCloud, fake: FakeInfluxDB2, secrets: tuple[str, str]
) -> None:
    before = _set_up(local_cloud, fake, secrets)
    writer_settings = {
        "telemetry_store": "influxdb", "influxdb_url": fake.url, "influxdb_database": "telemetry",
        "influxdb_token_secret_arn": secrets[1], "influxdb_admin_secret_arn": secrets[0],
    }  # fmt: skip
    with _installed(local_cloud, **writer_settings):
        context = LocalLambdaContext("writer")
        assert telemetry_writer.handler(_kinesis_event(5), context) == {"batchItemFailures": []}
        assert len(fake.state.written) == 5

        version = str(uuid.uuid4())
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            event = {"SecretId": secrets[1], "ClientRequestToken": version, "Step": step}
            influxdb_setup.rotation_handler(event, LocalLambdaContext("rotation"))
        after = _access(local_cloud, secrets[1])
        assert after.token != before.token
        assert set(fake.state.authorizations) == {after.authorization_id}  # old one revoked

        # the writer still holds the revoked token: 401, re-read the secret, write
        assert telemetry_writer.handler(_kinesis_event(5, 6), context) == {"batchItemFailures": []}
    assert len(fake.state.written) == 10


def test_v2_erasure_deletes_by_predicate_with_the_bucket_token(
    local_cloud: LocalCloud, fake: FakeInfluxDB2, secrets: tuple[str, str]
) -> None:
    access = _set_up(local_cloud, fake, secrets)
    eraser = InfluxDBEraser(InfluxHTTP(fake.url, token=access.token), api="v2",
                            org="wardlink", bucket="telemetry")  # fmt: skip
    start = NOW - timedelta(days=3)
    eraser.erase_device("spo2-1", start=start, stop=NOW)
    eraser.erase_device("spo2-2")
    first, everything = fake.state.deletes
    assert first == {"org": "wardlink", "bucket": "telemetry",
                     "start": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     "stop": NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     "predicate": 'device_id="spo2-1"'}  # fmt: skip
    assert everything["start"].startswith("1970-01-01") and everything["predicate"] == (
        'device_id="spo2-2"')


def test_refused_points_are_reported_to_the_data_bucket(
    local_cloud: LocalCloud, influx_db: InfluxDatabase, secrets: tuple[str, str]
) -> None:
    _secrets(local_cloud).put_secret_value(
        SecretId=secrets[1], SecretString=json.dumps({"token": "ignored-by-1.x"}))
    InfluxHTTP(influx_db.url).request(  # 'value' becomes a string field in this database
        "POST", "/write", params={"db": influx_db.name, "precision": "s"},
        body=f'MDC_PULS_OXIM_SAT_O2 value="text" {int(NOW.timestamp()) - 7200}'.encode())
    with _installed(local_cloud, telemetry_store="influxdb", influxdb_url=influx_db.url,
                    influxdb_database=influx_db.name,
                    influxdb_token_secret_arn=secrets[1]) as services:  # fmt: skip
        response = telemetry_writer.handler(_kinesis_event(3), LocalLambdaContext("writer"))
        assert response == {"batchItemFailures": []}  # refused for good: reported, not retried
        s3 = services.s3
        listed = s3.list_objects_v2(Bucket=local_cloud.config.bucket,
                                    Prefix=telemetry_writer.REJECTED_PREFIX)["Contents"]
        newest = max(listed, key=lambda o: o["LastModified"])
        body = s3.get_object(Bucket=local_cloud.config.bucket, Key=newest["Key"])["Body"].read()
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert sorted(r["seq"] for r in rows) == [1, 2, 3]
    assert all("conflict" in r["reason"] for r in rows)
    assert rows[0]["dimensions"]["device_id"] == "spo2-1"
