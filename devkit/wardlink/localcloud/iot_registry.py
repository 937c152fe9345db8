"""The local IoT control plane: moto's registry, plus the bulk registration task moto lacks.

``wardlink fleet gateways`` provisions gateways with ``StartThingRegistrationTask``,
which moto does not implement. This endpoint sits in front of moto's IoT: it answers
the four thing-registration-task operations itself and forwards every other IoT call
to moto unchanged, so the operator's boto3 client sees one IoT endpoint
(``AWS_ENDPOINT_URL_IOT`` in the env file).

The task follows the service's documented semantics: a provisioning template (at most
10,240 characters) whose ``Parameters`` each line of a JSONL file in S3 fills in;
per line a certificate from the line's CSR, a thing with its type and attributes, and
the template's policy attached; one task at a time per account
(``LimitExceededException`` otherwise); RESULTS and ERRORS reports written to S3 and
listed as links, each line ``{"offset": N, ...}`` with N the input line's 0-based
index: RESULTS lines carry ``response``, shaped as RegisterThing's documented response
(``certificatePem``, and ``resourceArns`` keyed by the template's logical resource
names, the policy by its ARN); ERRORS lines ``errorCode`` and ``errorMessage``. AWS
documents no schema for the report lines themselves (see
:mod:`wardlink.fleet.gateways`, whose reader also takes capitalised keys).

Lines are processed one at a time: moto's server mixes up concurrent calls to one
service (a thing got another line's ARN). The line's certificate is signed from its CSR
by this endpoint's own CA (ECDSA, standing in for Amazon's) and registered in moto's
registry (``RegisterCertificateWithoutCA``): moto's ``CreateCertificateFromCsr`` makes
an RSA key per call, about 60 ms, which would make 500 gateways take most of a minute.
An existing thing whose type or attributes differ fails its line, as the template's
``OverrideSettings`` of ``FAIL`` asks.

Every request must be SigV4-signed (service ``iot``) by a known local identity that
is not a gateway's: the control plane is the operators'. After a call that can change
whether a gateway may still fetch credentials (a certificate's status, a thing's
principals or groups), ``on_registry_change`` gets the thing names concerned, and the
local cloud refuses revoked things' credentials (``LocalCloud.refresh_revocations``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote

from wardlink.contract.access import Role
from wardlink.localcloud.http_service import LoopbackHttpService
from wardlink.localcloud.sigv4 import SignatureError, SigV4Verifier

log = logging.getLogger(__name__)

MAX_TEMPLATE_CHARS = 10_240
TASK_WORKERS = 1  # see the module docstring: moto's server is not safe for parallel calls
_TASKS = re.compile(r"^/thing-registration-tasks(?:/(?P<task>[^/]+)(?P<rest>/reports|/cancel)?)?$")
_CERT = re.compile(r"^/certificates/(?P<cert>[^/]+)$")
_THING_PRINCIPALS = re.compile(r"^/things/(?P<thing>[^/]+)/principals$")
_GROUP_MEMBERSHIP = re.compile(r"^/thing-groups/(?:add|remove)Thing(?:To|From)ThingGroup$")


@dataclass
class RegistrationTask:
    task_id: str
    template_body: str
    bucket: str
    key: str
    role_arn: str
    created: datetime
    status: str = "InProgress"
    message: str = ""
    success: int = 0
    failure: int = 0
    total: int = 0
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    reports: dict[str, str] = field(default_factory=dict)  # RESULTS/ERRORS -> S3 key
    cancel: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        done = self.success + self.failure
        return {
            "taskId": self.task_id,
            "creationDate": self.created.timestamp(),
            "lastModifiedDate": self.modified.timestamp(),
            "templateBody": self.template_body,
            "inputFileBucket": self.bucket,
            "inputFileKey": self.key,
            "roleArn": self.role_arn,
            "status": self.status,
            "message": self.message,
            "successCount": self.success,
            "failureCount": self.failure,
            "percentageProgress": int(100 * done / self.total) if self.total else 0,
        }


class LocalIssuer:
    """The local stand-in for the CA that signs certificates from CSRs (one per registry)."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wardlink local IoT CA")])
        now = datetime.now(UTC)
        self._name = name
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, hashes.SHA256())
        )

    def issue(self, csr_pem: str, days: int = 365) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        csr = x509.load_pem_x509_csr(csr_pem.encode())
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature does not verify")
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self._name)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .sign(self._key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode()


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class LocalIotRegistry(LoopbackHttpService):
    """HTTP IoT endpoint on loopback: registration tasks here, the rest forwarded to moto."""

    methods = ("GET", "POST", "PUT", "DELETE", "PATCH")
    thread_name = "wardlink-local-iot"

    def __init__(
        self,
        moto_endpoint: str,
        verifier: SigV4Verifier,
        make_client: Callable[[str], Any],
        on_registry_change: Callable[[set[str]], None],
        host: str = "127.0.0.1",
    ) -> None:
        self._moto = moto_endpoint.rstrip("/")
        self._verifier = verifier
        self._make_client = make_client
        self._on_change = on_registry_change
        self._tasks: dict[str, RegistrationTask] = {}
        self.issuer = LocalIssuer()
        self._lock = threading.Lock()
        super().__init__(host)

    def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel.set()
        super().stop()

    # -- HTTP -----------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        method = request.command
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        headers = dict(request.headers.items())
        path, _, query = request.path.partition("?")
        try:
            principal = self._verifier.verify(method, request.path, headers, body)
            if principal.role is Role.GATEWAY:
                raise _ApiError(403, "AccessDeniedException", "gateways may not call IoT")
            match = _TASKS.match(path)
            if match:
                status, answer = self._task_call(method, match, parse_qs(query), body)
                self._reply(request, status, json.dumps(answer).encode(), {})
                return
            status, data, reply_headers = self._forward(method, request.path, headers, body)
            self._reply(request, status, data, reply_headers)
            if method != "GET" and status < 300:
                try:
                    self._notify(method, path, parse_qs(query), body)
                except Exception:  # the change went through; say why revocation may lag
                    log.exception("could not re-check revocation after %s %s", method, path)
        except SignatureError as exc:
            self._error(request, _ApiError(403, "ForbiddenException", str(exc)))
        except _ApiError as exc:
            self._error(request, exc)
        except (ValueError, RecursionError):  # a body that is not the JSON asked for
            self._error(request, _ApiError(400, "InvalidRequestException", "malformed request"))

    def _error(self, request: BaseHTTPRequestHandler, exc: _ApiError) -> None:
        body = json.dumps({"message": exc.message, "__type": exc.code}).encode()
        self._reply(request, exc.status, body, {"x-amzn-ErrorType": exc.code})

    def _reply(
        self, request: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str]
    ) -> None:
        request.send_response(status)
        for key, value in headers.items():
            if key.lower() not in (
                "content-length",
                "connection",
                "transfer-encoding",
                "server",
                "date",
            ):
                request.send_header(key, value)
        if not any(k.lower() == "content-type" for k in headers):
            request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        forward = urllib.request.Request(  # noqa: S310 - http to moto on loopback
            self._moto + target,
            data=body or None,  # urllib would add a form Content-Type to an empty body
            method=method,
            headers={
                k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")
            },
        )
        try:
            with urllib.request.urlopen(forward, timeout=30) as response:  # noqa: S310 - loopback moto
                return response.status, response.read(), dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers.items())

    def _notify(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        """Name the things whose credentials a successful change may have affected."""
        things: set[str] = set()
        iot = self._make_client("iot")
        if (match := _CERT.match(path)) and method == "PUT" and "newStatus" in query:
            cert = iot.describe_certificate(certificateId=unquote(match["cert"]))
            arn = cert["certificateDescription"]["certificateArn"]
            things.update(iot.list_principal_things(principal=arn).get("things", []))
        elif match := _THING_PRINCIPALS.match(path):
            things.add(unquote(match["thing"]))
        elif _GROUP_MEMBERSHIP.match(path):
            try:
                name = json.loads(body or b"{}").get("thingName")
            except ValueError:
                name = None
            if name:
                things.add(name)
        if things:
            self._on_change(things)

    # -- the registration task ------------------------------------------------------------

    def _task_call(
        self, method: str, match: re.Match[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        task_id = match["task"]
        if task_id is None:
            if method == "POST":
                return 200, self._start_task(json.loads(body or b"{}"))
            wanted = query.get("status") or []
            with self._lock:
                ids = [t.task_id for t in self._tasks.values() if not wanted or t.status in wanted]
            return 200, {"taskIds": ids}
        task = self._tasks.get(task_id)
        if task is None:
            raise _ApiError(404, "ResourceNotFoundException", f"no task {task_id}")
        if match["rest"] == "/cancel" and method == "PUT":
            task.cancel.set()
            return 200, {}
        if match["rest"] == "/reports":
            kind = (query.get("reportType") or ["RESULTS"])[0]
            if kind not in ("RESULTS", "ERRORS"):
                raise _ApiError(400, "InvalidRequestException", "reportType is RESULTS or ERRORS")
            links = []
            if kind in task.reports:
                links.append(
                    self._make_client("s3").generate_presigned_url(
                        "get_object",
                        Params={"Bucket": task.bucket, "Key": task.reports[kind]},
                        ExpiresIn=3600,
                    )
                )
            return 200, {"resourceLinks": links, "reportType": kind}
        return 200, task.describe()

    def _start_task(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            template = str(request["templateBody"])
            bucket, key = str(request["inputFileBucket"]), str(request["inputFileKey"])
            role = str(request["roleArn"])
        except KeyError as exc:
            raise _ApiError(400, "InvalidRequestException", f"{exc.args[0]} is required") from exc
        if len(template) > MAX_TEMPLATE_CHARS:
            raise _ApiError(400, "InvalidRequestException", "templateBody exceeds 10240 characters")
        try:
            parsed = json.loads(template)
            parsed["Resources"].items()
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise _ApiError(
                400, "InvalidRequestException", "templateBody is not a template"
            ) from exc
        with self._lock:
            if any(t.status in ("InProgress", "Cancelling") for t in self._tasks.values()):
                raise _ApiError(
                    410, "LimitExceededException",
                    "only one thing registration task may run at a time in an account",
                )  # fmt: skip
            task = RegistrationTask(
                uuid.uuid4().hex, template, bucket, key, role, datetime.now(UTC)
            )
            self._tasks[task.task_id] = task
        threading.Thread(
            target=self._run,
            args=(task, parsed),
            name=f"registration-{task.task_id[:8]}",
            daemon=True,
        ).start()
        return {"taskId": task.task_id}

    def _run(self, task: RegistrationTask, template: dict[str, Any]) -> None:
        s3 = self._make_client("s3")
        try:
            lines = s3.get_object(Bucket=task.bucket, Key=task.key)["Body"].read().decode()
        except Exception as exc:  # the service fails the whole task on an unreadable input
            task.status, task.message = (
                "Failed",
                f"cannot read s3://{task.bucket}/{task.key}: {exc}",
            )
            return
        rows = [line for line in lines.splitlines() if line.strip()]
        task.total = len(rows)
        results: list[tuple[int, dict[str, Any]]] = []
        errors: list[tuple[int, dict[str, Any]]] = []
        lock = threading.Lock()
        local = threading.local()

        def one(offset: int, line: str) -> None:
            if task.cancel.is_set():
                return
            if not hasattr(local, "iot"):
                local.iot = self._make_client("iot")
            try:
                response = provision_line(local.iot, template, json.loads(line), self.issuer)
            except Exception as exc:  # each line's failure is a report line
                code, message = _error(exc)
                with lock:
                    errors.append(
                        (offset, {"offset": offset, "errorCode": code, "errorMessage": message})
                    )
                    task.failure += 1
            else:
                with lock:
                    results.append((offset, {"offset": offset, "response": response}))
                    task.success += 1
            task.modified = datetime.now(UTC)

        with ThreadPoolExecutor(TASK_WORKERS, thread_name_prefix="registration-line") as pool:
            list(pool.map(one, range(len(rows)), rows))
        for kind, entries in (("RESULTS", results), ("ERRORS", errors)):
            if entries:
                key = f"thing-registration-tasks/{task.task_id}/{kind.lower()}.json"
                text = "".join(json.dumps(e) + "\n" for _, e in sorted(entries, key=lambda x: x[0]))
                s3.put_object(Bucket=task.bucket, Key=key, Body=text.encode())
                task.reports[kind] = key
        task.status = "Cancelled" if task.cancel.is_set() else "Completed"
        task.modified = datetime.now(UTC)


def _error(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return str(error.get("Code")), str(error.get("Message"))
    if isinstance(exc, ValueError):
        return "InvalidRequestException", str(exc)
    return type(exc).__name__, str(exc)


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """A template value with ``{"Ref": P}`` replaced by the line's parameter P."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            name = value["Ref"]
            if name not in parameters:
                raise ValueError(f"the line has no parameter {name}")
            return parameters[name]
        return {k: _resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, parameters) for v in value]
    return value


def provision_line(
    iot: Any, template: dict[str, Any], line: dict[str, Any], issuer: LocalIssuer
) -> dict[str, Any]:
    """One input line through the template: certificate, thing, policy, as the task does."""
    declared = template.get("Parameters", {})
    parameters = {name: line.get(name, spec.get("Default")) for name, spec in declared.items()}
    missing = [n for n, v in parameters.items() if v is None]
    if missing:
        raise ValueError(f"the line lacks {', '.join(sorted(missing))}")
    by_type: dict[str, dict[str, Any]] = {}
    logical: dict[str, str] = {}  # type -> the template's logical name (resourceArns keys)
    overrides: dict[str, str] = {}
    for name_in_template, resource in template["Resources"].items():
        by_type[resource["Type"]] = _resolve(resource.get("Properties", {}), parameters)
        logical[resource["Type"]] = str(name_in_template)
        if resource["Type"] == "AWS::IoT::Thing":
            overrides = dict(resource.get("OverrideSettings") or {})
    thing = by_type.get("AWS::IoT::Thing")
    cert = by_type.get("AWS::IoT::Certificate")
    policy = by_type.get("AWS::IoT::Policy")
    if thing is None:
        raise ValueError("the template declares no AWS::IoT::Thing")
    name = str(thing["ThingName"])
    arns: dict[str, str] = {}
    created_cert: dict[str, Any] | None = None
    if cert is not None:
        pem = issuer.issue(str(cert["CertificateSigningRequest"]))
        created_cert = iot.register_certificate_without_ca(
            certificatePem=pem, status=cert.get("Status", "ACTIVE")
        )
        created_cert["certificatePem"] = pem
        arns[logical["AWS::IoT::Certificate"]] = created_cert["certificateArn"]
    attributes = {k: str(v) for k, v in (thing.get("AttributePayload") or {}).items()}
    _refuse_a_different_thing(iot, name, thing, attributes, overrides)
    request: dict[str, Any] = {"thingName": name}
    if thing.get("ThingTypeName"):
        request["thingTypeName"] = thing["ThingTypeName"]
    if attributes:
        request["attributePayload"] = {"attributes": attributes}
    arns[logical["AWS::IoT::Thing"]] = iot.create_thing(**request)["thingArn"]
    for group in thing.get("ThingGroups") or []:
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    if created_cert is not None:
        if policy is not None:
            iot.attach_policy(
                policyName=policy["PolicyName"], target=created_cert["certificateArn"]
            )
            certificate_arn = str(created_cert["certificateArn"])
            arns[logical["AWS::IoT::Policy"]] = (
                certificate_arn.rsplit(":", 1)[0] + f":policy/{policy['PolicyName']}"
            )
        iot.attach_thing_principal(thingName=name, principal=created_cert["certificateArn"])
    response: dict[str, Any] = {"resourceArns": arns}
    if created_cert is not None:
        response["certificatePem"] = created_cert["certificatePem"]
    return response


class ResourceAlreadyExistsError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.response = {"Error": {"Code": "ResourceAlreadyExistsException", "Message": message}}


def _refuse_a_different_thing(
    iot: Any,
    name: str,
    thing: dict[str, Any],
    attributes: dict[str, str],
    overrides: dict[str, str],
) -> None:
    """``OverrideSettings`` ``FAIL``: an existing thing must already match the template."""
    try:
        existing = iot.describe_thing(thingName=name)
    except iot.exceptions.ResourceNotFoundException:
        return
    if overrides.get("ThingTypeName") == "FAIL" and existing.get("thingTypeName") != thing.get(
        "ThingTypeName"
    ):
        raise ResourceAlreadyExistsError(f"thing {name} exists with another thing type")
    if overrides.get("AttributePayload") == "FAIL" and existing.get("attributes", {}) != attributes:
        raise ResourceAlreadyExistsError(f"thing {name} exists with other attributes")


def revoked_things(iot: Any, things: Iterable[str], quarantine_group: str) -> dict[str, bool]:
    """Per thing: refused (in quarantine, or certificates attached and none ACTIVE)?"""
    refused: dict[str, bool] = {}
    for name in things:
        try:
            groups = iot.list_thing_groups_for_thing(thingName=name).get("thingGroups", [])
            principals = iot.list_thing_principals(thingName=name).get("principals", [])
        except iot.exceptions.ResourceNotFoundException:
            refused[name] = False
            continue
        if any(g.get("groupName") == quarantine_group for g in groups):
            refused[name] = True
            continue
        statuses = [
            iot.describe_certificate(certificateId=p.rsplit("/", 1)[-1])["certificateDescription"][
                "status"
            ]
            for p in principals
            if ":cert/" in p
        ]
        refused[name] = bool(statuses) and "ACTIVE" not in statuses
    return refused
