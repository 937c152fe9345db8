"""Gateways in the IoT registry: bulk provisioning from CSRs, revocation, certificate rotation.

Provisioning uses the registry's bulk registration task (``StartThingRegistrationTask``):
a template with ``ThingName``, ``SiteId`` and ``CSR`` parameters (thing of the gateway
thing type with its site as an attribute, a certificate from the CSR, the gateway IoT
policy), and a JSONL spec in S3, one gateway a line. Only one task may run per account,
so ``provision`` refuses to start while another is in progress.

Each CSR comes from its gateway, made where the gateway's key lives (a TPM or PKCS#11
token where there is one), so no private key ever passes through here; a CSR is
accepted only as an ECDSA P-256 request whose signature checks and whose subject CN,
when present, is the thing name. (The dev kit can generate keys centrally, for
simulation only: ``wardlink fleet simulate-gateways``.)

``expiring`` lists the gateways whose active certificates all end within a window
(read from each certificate's notAfter), the ones to rotate.

Revocation deactivates every certificate of the thing and moves it to the quarantine
thing group; the IoT credentials provider then refuses the gateway's certificate, so it
gets no more API credentials. Rotation issues the new certificate from a new CSR and
attaches it next to the old one; the old one is retired only by a separate step
(``retire_certificate``) once the gateway uses the new one, and never the last active.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wardlink.contract.models import GATEWAY_ID_PATTERN, SITE_ID_PATTERN

THING_TYPE = "WardlinkGateway"
QUARANTINE_GROUP = "wardlink-quarantine"
MAX_TEMPLATE_CHARS = 10_240
FINISHED = ("Completed", "Failed", "Cancelled")


class FleetError(Exception):
    """The registry refused, or the request cannot be carried out; the message says why."""


class GatewayRequest(BaseModel):
    """One gateway to provision: its thing name, its site and its CSR (PEM)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thing_name: str = Field(pattern=GATEWAY_ID_PATTERN)
    site_id: str = Field(pattern=SITE_ID_PATTERN)
    csr: str

    @field_validator("csr")
    @classmethod
    def _p256_csr(cls, value: str) -> str:
        check_csr(value)
        return value

    def spec_line(self) -> dict[str, str]:
        return {"ThingName": self.thing_name, "SiteId": self.site_id, "CSR": self.csr}


def check_csr(pem: str, thing_name: str | None = None) -> None:
    """Refuse anything but a well-signed ECDSA P-256 CSR (for ``thing_name``, if its CN says)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise ValueError("csr is not a PEM certificate signing request") from exc
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("csr must hold an ECDSA P-256 public key")
    if not csr.is_signature_valid:
        raise ValueError("csr signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if thing_name is not None and names and names[0].value != thing_name:
        raise ValueError(f"csr subject CN is {names[0].value!r}, not the thing name")


def template_body(thing_type: str, policy_name: str) -> str:
    """The provisioning template: thing, certificate from the CSR, policy."""
    template = {
        "Parameters": {
            "ThingName": {"Type": "String"},
            "SiteId": {"Type": "String"},
            "CSR": {"Type": "String"},
        },
        "Resources": {
            "thing": {
                "Type": "AWS::IoT::Thing",
                "Properties": {
                    "ThingName": {"Ref": "ThingName"},
                    "ThingTypeName": thing_type,
                    "AttributePayload": {"site_id": {"Ref": "SiteId"}},
                },
                # a thing of that name that is not this gateway fails its line
                "OverrideSettings": {"ThingTypeName": "FAIL", "AttributePayload": "FAIL"},
            },
            "certificate": {
                "Type": "AWS::IoT::Certificate",
                "Properties": {"CertificateSigningRequest": {"Ref": "CSR"}, "Status": "ACTIVE"},
            },
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": policy_name}},
        },
    }
    body = json.dumps(template, separators=(",", ":"))
    if len(body) > MAX_TEMPLATE_CHARS:
        raise FleetError("the provisioning template exceeds 10,240 characters")
    return body


@dataclass(frozen=True)
class GatewayRow:
    line: int
    raw: str
    request: GatewayRequest | None
    error: str | None = None


def read_gateways(path: Path) -> list[GatewayRow]:
    """JSONL lines ``{"thing_name", "site_id", "csr" | "csr_file"}`` (relative to ``path``)."""
    rows: list[GatewayRow] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            if "csr_file" in value:
                value["csr"] = (path.parent / str(value.pop("csr_file"))).read_text()
            request = GatewayRequest.model_validate(value)
        except (ValueError, OSError, RecursionError) as exc:
            message = _explain(exc) if isinstance(exc, ValidationError) else str(exc)
            rows.append(GatewayRow(number, line, None, message))
            continue
        first = seen.setdefault(request.thing_name, number)
        if first != number:
            rows.append(GatewayRow(number, line, None, f"duplicate of line {first}"))
            continue
        rows.append(GatewayRow(number, line, request))
    return rows


def _explain(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)
    )


def spec_jsonl(requests: Sequence[GatewayRequest]) -> bytes:
    return "".join(json.dumps(r.spec_line()) + "\n" for r in requests).encode()


# -- the task's report lines -----------------------------------------------------------------
#
# AWS documents the reports only as links (ListThingRegistrationTaskReports: "resourceLinks",
# reportType RESULTS | ERRORS) to JSON-lines files; the line schema itself is not in the API
# reference nor in the developer guide's "Bulk registration" page. What is
# documented is the per-thing outcome the task produces, RegisterThing's response:
# ``certificatePem`` and ``resourceArns`` keyed by the template's logical resource names, e.g.
# {"certificate": <cert ARN>, "thing": <thing ARN>, "<policy logical name>": <policy ARN>}
# (docs.aws.amazon.com/iot/latest/developerguide/single-thing-provisioning.html). Each report
# line carries the input line's 0-based ``offset``, with ``response`` (RESULTS) or
# ``errorCode``/``errorMessage`` (ERRORS). As the line schema is undocumented, the reader
# takes these keys in the API's lower camel case or capitalised (``CertificatePem``).


def _either(mapping: dict[str, Any], name: str) -> Any:
    return mapping.get(name, mapping.get(name[:1].upper() + name[1:]))


def result_response(line: dict[str, Any]) -> dict[str, Any]:
    """A RESULTS line's outcome as ``{"certificatePem": str | None, "resourceArns": {...}}``."""
    response = _either(line, "response") or {}
    if not isinstance(response, dict):
        return {"certificatePem": None, "resourceArns": {}}
    arns = _either(response, "resourceArns") or {}
    return {
        "certificatePem": _either(response, "certificatePem"),
        "resourceArns": {str(k): str(v) for k, v in dict(arns).items()},
    }


def error_message(line: dict[str, Any]) -> str:
    """An ERRORS line's reason, ``"<errorCode>: <errorMessage>"`` where both are given."""
    code, message = _either(line, "errorCode"), _either(line, "errorMessage")
    if code and message:
        return f"{code}: {message}"
    return str(message or code or _either(line, "message") or "failed")


@dataclass
class TaskReport:
    task_id: str
    status: str
    message: str
    results: dict[int, dict[str, Any]] = field(default_factory=dict)  # offset -> response
    errors: dict[int, str] = field(default_factory=dict)  # offset -> message


class Provisioner:
    """Runs one bulk registration task for a batch of gateways and reads its reports."""

    def __init__(self, iot: Any, s3: Any, *, bucket: str, role_arn: str, policy: str) -> None:
        self._iot, self._s3 = iot, s3
        self._bucket, self._role_arn, self._policy = bucket, role_arn, policy

    def ensure_thing_type(self, thing_type: str = THING_TYPE) -> None:
        try:
            self._iot.describe_thing_type(thingTypeName=thing_type)
        except self._iot.exceptions.ResourceNotFoundException:
            self._iot.create_thing_type(
                thingTypeName=thing_type,
                thingTypeProperties={
                    "thingTypeDescription": "Wardlink gateway (Greengrass core device)",
                    "searchableAttributes": ["site_id"],
                },
            )

    def running_task(self) -> str | None:
        ids = self._iot.list_thing_registration_tasks(status="InProgress").get("taskIds", [])
        return str(ids[0]) if ids else None

    def provision(
        self,
        requests: Sequence[GatewayRequest],
        on_progress: Callable[[int], None] | None = None,
        poll_s: float = 0.5,
        thing_type: str = THING_TYPE,
    ) -> TaskReport:
        running = self.running_task()
        if running:
            raise FleetError(f"registration task {running} is still running (one per account)")
        self.ensure_thing_type(thing_type)
        key = f"fleet/gateways/{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.jsonl"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=spec_jsonl(requests))
        try:
            task_id = self._iot.start_thing_registration_task(
                templateBody=template_body(thing_type, self._policy),
                inputFileBucket=self._bucket,
                inputFileKey=key,
                roleArn=self._role_arn,
            )["taskId"]
        except self._iot.exceptions.LimitExceededException as exc:
            raise FleetError(f"another registration task is running: {exc}") from exc
        done = 0
        while True:
            task = self._iot.describe_thing_registration_task(taskId=task_id)
            now = int(task.get("successCount", 0)) + int(task.get("failureCount", 0))
            if on_progress is not None and now > done:
                on_progress(now - done)
            done = now
            if task["status"] in FINISHED:
                break
            time.sleep(poll_s)
        report = TaskReport(task_id, task["status"], task.get("message", ""))
        for line in self._report_lines(task_id, "RESULTS"):
            report.results[int(line["offset"])] = result_response(line)
        for line in self._report_lines(task_id, "ERRORS"):
            report.errors[int(line["offset"])] = error_message(line)
        for response in report.results.values():
            arns = response["resourceArns"]
            thing, certificate = arns.get("thing"), arns.get("certificate")
            if thing and certificate:
                make_exclusive(self._iot, thing.rsplit("/", 1)[-1], certificate)
        return report

    def _report_lines(self, task_id: str, kind: str) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        request: dict[str, Any] = {"taskId": task_id, "reportType": kind}
        while True:
            answer = self._iot.list_thing_registration_task_reports(**request)
            for link in answer.get("resourceLinks", []):
                with urllib.request.urlopen(link, timeout=60) as response:  # noqa: S310 - S3 link
                    text = response.read().decode()
                lines.extend(json.loads(t) for t in text.splitlines() if t.strip())
            if not answer.get("nextToken"):
                return lines
            request["nextToken"] = answer["nextToken"]


# -- revocation and rotation ----------------------------------------------------------------


def make_exclusive(iot: Any, thing_name: str, certificate_arn: str) -> None:
    """Re-attach a certificate to its thing with *exclusive* thing association.

    The gateway IoT policy names ``${iot:Connection.Thing.ThingName}``, which resolves
    for the nucleus's extra connections (client ids ``thing#2``...) only when the
    certificate is exclusively associated with the thing. A provisioning template
    cannot ask for that, so the task attaches non-exclusively; this runs right after,
    before the gateway has the certificate (so the brief detach costs nothing).
    """
    iot.detach_thing_principal(thingName=thing_name, principal=certificate_arn)
    iot.attach_thing_principal(
        thingName=thing_name, principal=certificate_arn, thingPrincipalType="EXCLUSIVE_THING"
    )


def _certificates(iot: Any, thing_name: str) -> list[dict[str, Any]]:
    """The thing's certificates: ``certificateId``, ``certificateArn``, ``status``."""
    try:
        principals = iot.list_thing_principals(thingName=thing_name).get("principals", [])
    except iot.exceptions.ResourceNotFoundException as exc:
        raise FleetError(f"no thing {thing_name} in the registry") from exc
    found = []
    for arn in principals:
        if ":cert/" not in arn:
            continue
        description = iot.describe_certificate(certificateId=arn.rsplit("/", 1)[-1])
        found.append(description["certificateDescription"])
    return found


def revoke(iot: Any, thing_name: str, group: str = QUARANTINE_GROUP) -> list[str]:
    """Deactivate every certificate of the thing and quarantine it; returns the certificate ids."""
    certificates = _certificates(iot, thing_name)
    for cert in certificates:
        if cert["status"] != "INACTIVE":
            iot.update_certificate(certificateId=cert["certificateId"], newStatus="INACTIVE")
    try:
        iot.describe_thing_group(thingGroupName=group)
    except iot.exceptions.ResourceNotFoundException:
        iot.create_thing_group(
            thingGroupName=group,
            thingGroupProperties={"thingGroupDescription": "revoked Wardlink gateways"},
        )
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing_name)
    return [c["certificateId"] for c in certificates]


@dataclass(frozen=True)
class Rotation:
    certificate_id: str
    certificate_arn: str
    certificate_pem: str
    previous: list[str]  # still-active certificate ids, to retire once the gateway switched


def rotate(iot: Any, thing_name: str, csr_pem: str, policy: str | None = None) -> Rotation:
    """Issue a certificate from the gateway's new CSR and attach it beside the old one."""
    check_csr(csr_pem, thing_name)
    active = [c for c in _certificates(iot, thing_name) if c["status"] == "ACTIVE"]
    if not active:
        raise FleetError(f"{thing_name} has no active certificate: it is revoked, not rotated")
    policies = [policy] if policy else [
        p["policyName"]
        for p in iot.list_attached_policies(target=active[0]["certificateArn"]).get("policies", [])
    ]  # fmt: skip
    new = iot.create_certificate_from_csr(certificateSigningRequest=csr_pem, setAsActive=True)
    for name in policies:
        iot.attach_policy(policyName=name, target=new["certificateArn"])
    iot.attach_thing_principal(
        thingName=thing_name, principal=new["certificateArn"], thingPrincipalType="EXCLUSIVE_THING"
    )
    return Rotation(
        new["certificateId"],
        new["certificateArn"],
        new["certificatePem"],
        [c["certificateId"] for c in active],
    )


def retire_certificate(iot: Any, thing_name: str, certificate_id: str) -> None:
    """Deactivate and detach one old certificate; never the thing's last active one."""
    certificates = {c["certificateId"]: c for c in _certificates(iot, thing_name)}
    if certificate_id not in certificates:
        raise FleetError(f"certificate {certificate_id} is not attached to {thing_name}")
    others = [
        c for cid, c in certificates.items() if cid != certificate_id and c["status"] == "ACTIVE"
    ]
    if not others:
        raise FleetError(
            f"{certificate_id} is {thing_name}'s last active certificate: rotate first "
            "(or revoke the gateway)"
        )
    iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
    iot.detach_thing_principal(
        thingName=thing_name, principal=certificates[certificate_id]["certificateArn"]
    )


# -- certificates nearing expiry ------------------------------------------------------------


@dataclass(frozen=True)
class ExpiringGateway:
    """A gateway whose latest-expiring active certificate ends within the window."""

    thing_name: str
    certificate_id: str
    not_after: datetime

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86_400


def not_after(certificate_pem: str) -> datetime:
    """The certificate's notAfter (UTC), read from the certificate itself."""
    from cryptography import x509

    return x509.load_pem_x509_certificate(certificate_pem.encode()).not_valid_after_utc


def _gateway_names(iot: Any, thing_type: str) -> Iterator[str]:
    for page in iot.get_paginator("list_things").paginate(thingTypeName=thing_type):
        for thing in page.get("things", []):
            yield str(thing["thingName"])


def expiring(
    iot: Any,
    within_days: float,
    *,
    now: datetime | None = None,
    thing_type: str = THING_TYPE,
    names: Sequence[str] = (),
) -> list[ExpiringGateway]:
    """Gateways to rotate (``names``, or every thing of ``thing_type``): every ACTIVE
    certificate ends by ``now + within_days``. A gateway mid-rotation counts by its
    newest certificate; a revoked one (no ACTIVE certificate) is not listed. Soonest
    first. About two IoT calls per gateway."""
    now = now or datetime.now(UTC)
    horizon = now + timedelta(days=within_days)
    found: list[ExpiringGateway] = []
    for name in names or _gateway_names(iot, thing_type):
        active = [
            (not_after(str(c["certificatePem"])), str(c["certificateId"]))
            for c in _certificates(iot, name)
            if c["status"] == "ACTIVE"
        ]
        if not active:
            continue
        latest, certificate_id = max(active)
        if latest <= horizon:
            found.append(ExpiringGateway(name, certificate_id, latest))
    return sorted(found, key=lambda g: (g.not_after, g.thing_name))
