"""``GET /audit/findings``: Device Defender's latest audit for support, never for gateways.

The handler's boto3 ``iot`` client talks to the local cloud's recorded Device Defender
(``wardlink.localcloud.device_defender``), which answers ListAuditTasks,
DescribeAuditTask and ListAuditFindings in the documented shapes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.cloudapi.conftest import HandlerCaller
from wardlink.cloudapi.handlers.audit import finding
from wardlink.cloudclient import ApiClientError
from wardlink.localcloud.device_defender import LocalDeviceDefender, load_recording

LATEST = "5f1c0e9a7d2b4c36a8e0b1d2c3f4a5b6"
EARLIER = "0a9b8c7d6e5f40312233445566778899"


def test_support_gets_the_latest_audit_and_its_unsuppressed_findings(api: Any) -> None:
    page = api.support.list_audit_findings()
    assert page.task is not None and page.task.task_id == LATEST
    assert page.task.task_type == "SCHEDULED_AUDIT_TASK"
    assert page.task.scheduled_audit_name == "wardlink-daily-audit"
    assert (page.task.checks_total, page.task.checks_non_compliant) == (15, 4)
    assert page.task.resources_non_compliant == 4
    assert page.task.started_at is not None
    assert datetime.now(UTC) - page.task.started_at < timedelta(hours=2)
    checks = {f.check_name: f for f in page.items}
    # the suppressed CONFLICTING_CLIENT_IDS_CHECK finding is left out
    assert set(checks) == {"IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
                           "DEVICE_CERTIFICATE_SHARED_CHECK",
                           "DEVICE_CERTIFICATE_EXPIRING_CHECK"}  # fmt: skip
    policy = checks["IOT_POLICY_OVERLY_PERMISSIVE_CHECK"]
    assert policy.severity == "CRITICAL"
    assert policy.resource is not None and policy.resource.resource_type == "IOT_POLICY"
    assert policy.resource.identifiers == {
        "policyVersionIdentifier.policyName": "wardlink-bench-gateway",
        "policyVersionIdentifier.policyVersionId": "2",
    }
    assert policy.reason_code == "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS"
    shared = checks["DEVICE_CERTIFICATE_SHARED_CHECK"]
    assert [r.identifiers["clientId"] for r in shared.related] == ["ward3-gw-07",
                                                                   "ward3-gw-07-spare"]
    assert shared.related[1].additional_info["DISCONNECTION_TIME"] == "1764961790113"
    expiring = checks["DEVICE_CERTIFICATE_EXPIRING_CHECK"]
    assert expiring.resource is not None
    assert expiring.resource.additional_info == {"EXPIRATION_TIME": "1767225600"}
    assert page.next_token is None


def test_pages_follow_the_task_of_the_first_page(api: Any) -> None:
    first = api.support.list_audit_findings(limit=2)
    assert len(first.items) == 2 and first.next_token
    rest = api.support.list_audit_findings(task_id=first.task.task_id, limit=2,
                                           next_token=first.next_token)  # fmt: skip
    assert len(rest.items) == 1 and rest.next_token is None
    ids = [f.finding_id for f in [*first.items, *rest.items]]
    assert len(set(ids)) == 3


def test_an_earlier_audit_by_task_id_and_an_unknown_one(api: Any) -> None:
    earlier = api.support.list_audit_findings(task_id=EARLIER)
    assert earlier.task is not None and earlier.task.checks_non_compliant == 1
    assert [f.check_name for f in earlier.items] == ["DEVICE_CERTIFICATE_EXPIRING_CHECK"]
    with pytest.raises(ApiClientError) as refused:
        api.support.list_audit_findings(task_id="ffffffffffffffffffffffffffffffff")
    assert refused.value.status == 404


def test_a_gateway_is_refused_by_policy_and_by_the_handler(
    api: Any, unique: str, call_handler: HandlerCaller, local_cloud: Any
) -> None:
    with pytest.raises(ApiClientError) as refused:
        api.gateway(f"gw-{unique}").list_audit_findings()
    assert refused.value.status == 403
    # behind IAM, the handler refuses a gateway's session too (defence in depth)
    call_handler.principal = local_cloud.gateway_credentials(f"gw-{unique}")
    status, body = call_handler("GET", "/audit/findings")
    assert status == 403 and body["error"] == "Forbidden"


def test_bad_query_is_a_400(call_handler: HandlerCaller) -> None:
    for query in ("days=0", "days=91", "task_id=not_a_task!", "limit=0"):
        status, body = call_handler("GET", "/audit/findings", query=query)
        assert status == 400, query
        assert body["error"] == "ValidationError"
    status, body = call_handler("GET", "/audit/findings", query="next_token=forged")
    assert status == 400 and "next_token" in body["message"]


@pytest.fixture
def old_recording() -> Iterator[Any]:
    """A Device Defender whose latest audit ran ten days ago."""
    defender = LocalDeviceDefender(load_recording(time.time() - 10 * 86400))
    endpoint = defender.start()
    try:
        yield boto3.client("iot", region_name="eu-central-1", endpoint_url=endpoint,
                           aws_access_key_id="local", aws_secret_access_key="local")
    finally:
        defender.stop()


def test_recorded_endpoint_honours_the_window_and_task_filters(old_recording: Any) -> None:
    now = datetime.now(UTC)
    recent = old_recording.list_audit_tasks(startTime=now - timedelta(days=7), endTime=now)
    assert recent["tasks"] == []
    wide = old_recording.list_audit_tasks(startTime=now - timedelta(days=30), endTime=now,
                                          taskStatus="COMPLETED", maxResults=1)  # fmt: skip
    assert len(wide["tasks"]) == 1 and wide["nextToken"]
    described = old_recording.describe_audit_task(taskId=LATEST)
    assert now - described["taskStartTime"] > timedelta(days=9)
    with pytest.raises(old_recording.exceptions.ResourceNotFoundException):
        old_recording.describe_audit_task(taskId="ffff")
    everything = old_recording.list_audit_findings(taskId=LATEST, listSuppressedFindings=True)
    assert len(everything["findings"]) == 4
    # botocore parsed the recording: it is in the documented response shape
    assert all(isinstance(f["findingTime"], datetime) for f in everything["findings"])


def test_findings_map_every_identifier_kind() -> None:
    raw = {"findingId": "f", "checkName": "CA_CERTIFICATE_EXPIRING_CHECK", "severity": "MEDIUM",
           "nonCompliantResource": {"resourceType": "CA_CERTIFICATE", "resourceIdentifier": {
               "caCertificateId": "abc", "issuerCertificateIdentifier": {
                   "issuerId": "i-1", "issuerCertificateSerialNumber": ""}}}}  # fmt: skip
    mapped = finding(raw)
    assert mapped.resource is not None
    assert mapped.resource.identifiers == {"caCertificateId": "abc",
                                           "issuerCertificateIdentifier.issuerId": "i-1"}
    assert mapped.related == [] and mapped.reason is None
