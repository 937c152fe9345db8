"""The local Greengrass v2 control plane (and STS GetCallerIdentity), which moto lacks.

A device engineer's daily loop is build, publish, deploy, watch it run or roll back.
``gdk component publish`` and deployments need Greengrass v2's control plane, so
without it that loop never ran off an AWS account. This endpoint serves the calls the
GDK CLI and a deployment make, with the request and response shapes of the service
model (rest-json, service ``greengrass``), so an unmodified boto3 or GDK reaches it
through ``AWS_ENDPOINT_URL_GREENGRASSV2``:

* components: CreateComponentVersion (from an inline recipe, JSON or YAML, whose
  ``s3://`` artifacts must exist in the local S3: a missing one is a
  ValidationException naming it), ListComponents, ListComponentVersions,
  DescribeComponent, GetComponent;
* deployments: CreateDeployment (to a thing; every non-``aws.greengrass`` component
  version must have been published), GetDeployment, ListDeployments,
  ListEffectiveDeployments, ListInstalledComponents.

It also answers STS ``GetCallerIdentity`` (``AWS_ENDPOINT_URL_STS``), which the GDK
asks for the account that names its bucket, with the local cloud's account.

What a core device reports has no public API (the nucleus talks to IoT jobs and
shadows), so ``PUT /_local/greengrass/coreDevices/{thing}/deployments/{id}`` takes
the device's report: the deployment's execution status, a reason, and the state of
each component. ``wardlink gg emulate --cloud-env`` sends it; the deployment then
shows FAILED or COMPLETED and ListEffectiveDeployments and ListInstalledComponents
say what the device runs.

Every request is SigV4-signed by a known local identity. Creating component versions
and deployments is for the operator identity of the env file; gateways may only
read their own deployments and report on them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

import yaml

from wardlink.contract.access import Role
from wardlink.localcloud.http_service import LoopbackHttpService
from wardlink.localcloud.sigv4 import Principal, SignatureError, SigV4Verifier

log = logging.getLogger(__name__)

PREFIX = "/greengrass/v2"
REPORT_PATH = re.compile(
    r"^/_local/greengrass/coreDevices/(?P<thing>[^/]+)/deployments/(?P<id>[^/]+)$"
)
_VERSIONS = re.compile(rf"^{PREFIX}/components/(?P<arn>[^/]+)/versions$")
_METADATA = re.compile(rf"^{PREFIX}/components/(?P<arn>[^/]+)/metadata$")
_COMPONENT = re.compile(rf"^{PREFIX}/components/(?P<arn>[^/]+)$")
_DEPLOYMENT = re.compile(rf"^{PREFIX}/deployments/(?P<id>[^/]+)$")
_DEVICE = re.compile(
    rf"^{PREFIX}/coreDevices/(?P<thing>[^/]+)/(?P<what>effectiveDeployments|installedComponents)$"
)
_THING_ARN = re.compile(r"^arn:aws:iot:[a-z0-9-]+:\d{12}:thing/(?P<thing>[A-Za-z0-9:_-]+)$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
EXECUTION_STATES = frozenset(
    {
        "IN_PROGRESS",
        "QUEUED",
        "FAILED",
        "COMPLETED",
        "TIMED_OUT",
        "CANCELED",
        "REJECTED",
        "SUCCEEDED",
    }
)
LIFECYCLE_STATES = frozenset(
    {"NEW", "INSTALLED", "STARTING", "RUNNING", "STOPPING", "ERRORED", "BROKEN", "FINISHED"}
)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class ComponentVersion:
    name: str
    version: str
    recipe: dict[str, Any]
    recipe_text: str
    created: datetime

    @property
    def platforms(self) -> list[dict[str, Any]]:
        platforms = []
        for manifest in self.recipe.get("Manifests") or []:
            attributes = dict((manifest or {}).get("Platform") or {})
            platforms.append({"name": attributes.get("os", "all"), "attributes": attributes})
        return platforms


@dataclass
class Deployment:
    deployment_id: str
    target_arn: str
    thing: str
    name: str
    components: dict[str, Any]
    policies: dict[str, Any]
    created: datetime
    revision: int
    status: str = "ACTIVE"
    latest: bool = True
    execution: str = "QUEUED"
    reason: str = ""
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class InstalledComponent:
    name: str
    version: str
    state: str
    reported: datetime
    root: bool


class GreengrassStore:
    """Components, deployments and what each core device reported, in memory."""

    def __init__(self, region: str, account_id: str) -> None:
        self.region, self.account_id = region, account_id
        self._lock = threading.Lock()
        self.components: dict[str, dict[str, ComponentVersion]] = {}
        self.deployments: dict[str, Deployment] = {}
        self.installed: dict[str, dict[str, InstalledComponent]] = {}

    def component_arn(self, name: str) -> str:
        return f"arn:aws:greengrass:{self.region}:{self.account_id}:components:{name}"

    def version_arn(self, name: str, version: str) -> str:
        return f"{self.component_arn(name)}:versions:{version}"

    def parse_arn(self, arn: str) -> tuple[str, str | None]:
        """``(name, version or None)`` of a component (version) ARN of this account."""
        prefix = f"arn:aws:greengrass:{self.region}:{self.account_id}:components:"
        if not arn.startswith(prefix):
            raise ApiError(
                400, "ValidationException", f"not a component ARN of this account: {arn}"
            )
        name, _, version = arn[len(prefix) :].partition(":versions:")
        return name, version or None

    def add_version(self, component: ComponentVersion) -> None:
        with self._lock:
            versions = self.components.setdefault(component.name, {})
            if component.version in versions:
                raise ApiError(
                    409,
                    "ConflictException",
                    f"component {component.name} version {component.version} already exists",
                )
            versions[component.version] = component

    def version(self, name: str, version: str | None) -> ComponentVersion:
        versions = self.components.get(name) or {}
        if version is None:
            if not versions:
                raise ApiError(404, "ResourceNotFoundException", f"no component {name}")
            version = max(versions, key=_semver_key)
        found = versions.get(version)
        if found is None:
            raise ApiError(404, "ResourceNotFoundException", f"no component {name} {version}")
        return found


def _semver_key(version: str) -> tuple[int, ...]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    return tuple(int(part) for part in core.split(".") if part.isdigit())


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


class LocalGreengrass(LoopbackHttpService):
    """HTTP Greengrass v2 control plane and STS on loopback, for one local cloud."""

    methods = ("GET", "POST", "PUT", "DELETE")
    thread_name = "wardlink-local-greengrass"

    def __init__(
        self,
        principals: Mapping[str, Principal],
        region: str,
        account_id: str,
        operator: Callable[[], Principal],
        object_exists: Callable[[str, str], bool],
        host: str = "127.0.0.1",
    ) -> None:
        self.store = GreengrassStore(region, account_id)
        self._greengrass = SigV4Verifier(principals, region, service="greengrass")
        self._sts = SigV4Verifier(principals, region, service="sts")
        self._operator = operator
        self._object_exists = object_exists
        super().__init__(host)

    # -- HTTP -------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        headers = dict(request.headers.items())
        path, _, query = request.path.partition("?")
        method = request.command
        if path == "/" and method == "POST":
            self._serve_sts(request, headers, body)
            return
        try:
            principal = self._greengrass.verify(method, request.path, headers, body)
            status, answer = self._call(principal, method, path, parse_qs(query), body)
            self._reply(request, status, json.dumps(answer).encode(), "application/json")
        except SignatureError as exc:
            self._error(request, ApiError(403, "AccessDeniedException", str(exc)))
        except ApiError as exc:
            self._error(request, exc)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            # a body that is not the shape asked for (a report without names, a list
            # where a map belongs): the caller's mistake, said as the service says it
            self._error(request, ApiError(400, "ValidationException", "malformed request"))

    def _serve_sts(
        self, request: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes
    ) -> None:
        form = parse_qs(body.decode("utf-8", "replace"))
        try:
            principal = self._sts.verify("POST", request.path, headers, body)
        except SignatureError as exc:
            self._sts_error(request, 403, "SignatureDoesNotMatch", str(exc))
            return
        if form.get("Action") != ["GetCallerIdentity"]:
            self._sts_error(request, 400, "InvalidAction", "only GetCallerIdentity is served here")
            return
        xml = (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<GetCallerIdentityResult><Arn>{escape(principal.arn)}</Arn>"
            f"<UserId>{escape(principal.user_id)}</UserId>"
            f"<Account>{escape(self.store.account_id)}</Account></GetCallerIdentityResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</GetCallerIdentityResponse>"
        )
        self._reply(request, 200, xml.encode(), "text/xml")

    def _sts_error(
        self, request: BaseHTTPRequestHandler, status: int, code: str, message: str
    ) -> None:
        xml = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )
        self._reply(request, status, xml.encode(), "text/xml")

    def _error(self, request: BaseHTTPRequestHandler, exc: ApiError) -> None:
        body = json.dumps({"message": exc.message}).encode()
        request.send_response(exc.status)
        request.send_header("x-amzn-ErrorType", exc.code)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _reply(
        self, request: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str
    ) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    # -- routing ----------------------------------------------------------------------------

    def _call(
        self,
        principal: Principal,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> tuple[int, dict[str, Any]]:
        operator = principal.access_key == self._operator().access_key
        if match := REPORT_PATH.match(path):
            thing = unquote(match["thing"])
            if method != "PUT":
                raise ApiError(405, "ValidationException", "PUT a report")
            if not operator and principal.thing_name != thing:
                raise ApiError(403, "AccessDeniedException", f"only {thing} reports on itself")
            return 200, self._report(thing, unquote(match["id"]), json.loads(body or b"{}"))
        if principal.role is Role.GATEWAY and method != "GET":
            raise ApiError(403, "AccessDeniedException", "gateways may not change Greengrass")
        if method != "GET" and not operator:
            raise ApiError(
                403, "AccessDeniedException", "only the operator identity publishes and deploys"
            )
        if method == "POST" and path == f"{PREFIX}/createComponentVersion":
            return 201, self._create_component_version(json.loads(body or b"{}"))
        if method == "POST" and path == f"{PREFIX}/deployments":
            return 201, self._create_deployment(json.loads(body or b"{}"))
        if method == "GET" and path == f"{PREFIX}/components":
            return 200, self._list_components()
        if method == "GET" and path == f"{PREFIX}/deployments":
            return 200, self._list_deployments(query)
        if method == "GET" and (match := _VERSIONS.match(path)):
            return 200, self._list_versions(unquote(match["arn"]))
        if method == "GET" and (match := _METADATA.match(path)):
            return 200, self._describe(unquote(match["arn"]))
        if method == "GET" and (match := _COMPONENT.match(path)):
            return 200, self._get_component(unquote(match["arn"]), query)
        if method == "GET" and (match := _DEPLOYMENT.match(path)):
            return 200, self._get_deployment(unquote(match["id"]), principal)
        if method == "GET" and (match := _DEVICE.match(path)):
            thing = unquote(match["thing"])
            if principal.role is Role.GATEWAY and principal.thing_name != thing:
                raise ApiError(403, "AccessDeniedException", f"not {thing}'s credentials")
            if match["what"] == "effectiveDeployments":
                return 200, self._effective(thing)
            return 200, self._installed(thing)
        raise ApiError(404, "ResourceNotFoundException", f"{method} {path} is not served here")

    # -- components -------------------------------------------------------------------------

    def _create_component_version(self, request: dict[str, Any]) -> dict[str, Any]:
        if "lambdaFunction" in request:
            raise ApiError(400, "ValidationException", "Lambda components are not served here")
        try:
            text = base64.b64decode(request.get("inlineRecipe") or "", validate=True).decode()
            recipe = yaml.safe_load(text)
        except (ValueError, yaml.YAMLError):
            raise ApiError(400, "ValidationException", "inlineRecipe is not JSON or YAML") from None
        if not isinstance(recipe, dict):
            raise ApiError(400, "ValidationException", "the recipe must be a mapping")
        name, version = recipe.get("ComponentName"), recipe.get("ComponentVersion")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9._-]{1,128}", name):
            raise ApiError(400, "ValidationException", "ComponentName is missing or invalid")
        if name.startswith("aws.greengrass"):
            raise ApiError(400, "ValidationException", "aws.greengrass* names are AWS's")
        if not isinstance(version, str) or not _SEMVER.match(version):
            raise ApiError(400, "ValidationException", "ComponentVersion must be semantic")
        missing = [uri for uri in _artifact_uris(recipe) if not self._s3_has(uri)]
        if missing:
            raise ApiError(
                400,
                "ValidationException",
                f"artifacts not found in S3: {', '.join(missing)} (upload them first)",
            )
        created = datetime.now(UTC)
        self.store.add_version(ComponentVersion(name, version, recipe, text, created))
        log.info("component %s %s created", name, version)
        return {
            "arn": self.store.version_arn(name, version),
            "componentName": name,
            "componentVersion": version,
            "creationTimestamp": _epoch(created),
            "status": {"componentState": "DEPLOYABLE", "message": "NONE", "errors": {}},
        }

    def _s3_has(self, uri: str) -> bool:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bool(bucket and key) and self._object_exists(bucket, key)

    def _list_components(self) -> dict[str, Any]:
        rows = []
        for name in sorted(self.store.components):
            latest = self.store.version(name, None)
            rows.append(
                {
                    "arn": self.store.component_arn(name),
                    "componentName": name,
                    "latestVersion": {
                        "arn": self.store.version_arn(name, latest.version),
                        "componentVersion": latest.version,
                        "creationTimestamp": _epoch(latest.created),
                        "description": latest.recipe.get("ComponentDescription") or "-",
                        "publisher": latest.recipe.get("ComponentPublisher") or "-",
                        "platforms": latest.platforms,
                    },
                }
            )
        return {"components": rows}

    def _list_versions(self, arn: str) -> dict[str, Any]:
        name, _ = self.store.parse_arn(arn)
        versions = sorted(self.store.components.get(name) or {}, key=_semver_key, reverse=True)
        return {
            "componentVersions": [
                {
                    "componentName": name,
                    "componentVersion": v,
                    "arn": self.store.version_arn(name, v),
                }
                for v in versions
            ]
        }

    def _describe(self, arn: str) -> dict[str, Any]:
        found = self.store.version(*self.store.parse_arn(arn))
        return {
            "arn": self.store.version_arn(found.name, found.version),
            "componentName": found.name,
            "componentVersion": found.version,
            "creationTimestamp": _epoch(found.created),
            "publisher": found.recipe.get("ComponentPublisher") or "-",
            "description": found.recipe.get("ComponentDescription") or "-",
            "status": {"componentState": "DEPLOYABLE", "message": "NONE", "errors": {}},
            "platforms": found.platforms,
            "tags": {},
        }

    def _get_component(self, arn: str, query: dict[str, list[str]]) -> dict[str, Any]:
        found = self.store.version(*self.store.parse_arn(arn))
        fmt = (query.get("recipeOutputFormat") or ["JSON"])[0].upper()
        if fmt not in ("JSON", "YAML"):
            raise ApiError(400, "ValidationException", "recipeOutputFormat is JSON or YAML")
        text = (
            json.dumps(found.recipe, indent=2)
            if fmt == "JSON"
            else yaml.safe_dump(found.recipe, sort_keys=False)
        )
        return {
            "recipeOutputFormat": fmt,
            "recipe": base64.b64encode(text.encode()).decode(),
            "tags": {},
        }

    # -- deployments ------------------------------------------------------------------------

    def _create_deployment(self, request: dict[str, Any]) -> dict[str, Any]:
        target = str(request.get("targetArn") or "")
        match = _THING_ARN.match(target)
        if match is None:
            raise ApiError(
                400, "ValidationException", "targetArn must be a thing ARN (thing groups: not here)"
            )
        components = request.get("components") or {}
        if not isinstance(components, dict):
            raise ApiError(400, "ValidationException", "components must be a map")
        for name, spec in components.items():
            version = (spec or {}).get("componentVersion")
            if not isinstance(version, str):
                raise ApiError(400, "ValidationException", f"{name}: componentVersion is required")
            if not name.startswith("aws.greengrass."):
                self.store.version(name, version)  # 404 for a version never published
        now = datetime.now(UTC)
        with self.store._lock:
            previous = [d for d in self.store.deployments.values() if d.target_arn == target]
            for old in previous:
                old.latest = False
                if old.status == "ACTIVE":
                    old.status = "INACTIVE"
            deployment = Deployment(
                deployment_id=str(uuid.uuid4()),
                target_arn=target,
                thing=match["thing"],
                name=str(request.get("deploymentName") or f"Deployment for {match['thing']}"),
                components=components,
                policies=dict(request.get("deploymentPolicies") or {}),
                created=now,
                revision=len(previous) + 1,
            )
            self.store.deployments[deployment.deployment_id] = deployment
        log.info("deployment %s to %s created", deployment.deployment_id, target)
        job = f"local-{deployment.deployment_id}"
        return {
            "deploymentId": deployment.deployment_id,
            "iotJobId": job,
            "iotJobArn": self._job_arn(job),
        }

    def _job_arn(self, job: str) -> str:
        return f"arn:aws:iot:{self.store.region}:{self.store.account_id}:job/{job}"

    def _deployment(self, deployment_id: str) -> Deployment:
        found = self.store.deployments.get(deployment_id)
        if found is None:
            raise ApiError(404, "ResourceNotFoundException", f"no deployment {deployment_id}")
        return found

    def _get_deployment(self, deployment_id: str, principal: Principal) -> dict[str, Any]:
        found = self._deployment(deployment_id)
        if principal.role is Role.GATEWAY and principal.thing_name != found.thing:
            raise ApiError(403, "AccessDeniedException", "not this gateway's deployment")
        job = f"local-{found.deployment_id}"
        return {
            "targetArn": found.target_arn,
            "revisionId": str(found.revision),
            "deploymentId": found.deployment_id,
            "deploymentName": found.name,
            "deploymentStatus": found.status,
            "iotJobId": job,
            "iotJobArn": self._job_arn(job),
            "components": found.components,
            "deploymentPolicies": found.policies,
            "iotJobConfiguration": {},
            "creationTimestamp": _epoch(found.created),
            "isLatestForTarget": found.latest,
            "tags": {},
        }

    def _list_deployments(self, query: dict[str, list[str]]) -> dict[str, Any]:
        targets = query.get("targetArn") or []
        target = targets[0] if targets else None
        history = (query.get("historyFilter") or ["LATEST_ONLY"])[0]
        rows = [
            {
                "targetArn": d.target_arn,
                "revisionId": str(d.revision),
                "deploymentId": d.deployment_id,
                "deploymentName": d.name,
                "creationTimestamp": _epoch(d.created),
                "deploymentStatus": d.status,
                "isLatestForTarget": d.latest,
            }
            for d in sorted(self.store.deployments.values(), key=lambda d: d.created)
            if (target is None or d.target_arn == target) and (history == "ALL" or d.latest)
        ]
        return {"deployments": rows}

    def _effective(self, thing: str) -> dict[str, Any]:
        rows = [
            {
                "deploymentId": d.deployment_id,
                "deploymentName": d.name,
                "iotJobId": f"local-{d.deployment_id}",
                "iotJobArn": self._job_arn(f"local-{d.deployment_id}"),
                "targetArn": d.target_arn,
                "coreDeviceExecutionStatus": d.execution,
                "reason": d.reason or d.execution,
                "creationTimestamp": _epoch(d.created),
                "modifiedTimestamp": _epoch(d.modified),
            }
            for d in sorted(self.store.deployments.values(), key=lambda d: d.created)
            if d.thing == thing
        ]
        return {"effectiveDeployments": rows}

    def _installed(self, thing: str) -> dict[str, Any]:
        rows = [
            {
                "componentName": c.name,
                "componentVersion": c.version,
                "lifecycleState": c.state,
                "isRoot": c.root,
                "lastStatusChangeTimestamp": _epoch(c.reported),
                "lastReportedTimestamp": _epoch(c.reported),
            }
            for c in sorted((self.store.installed.get(thing) or {}).values(), key=lambda c: c.name)
        ]
        return {"installedComponents": rows}

    def _report(self, thing: str, deployment_id: str, report: dict[str, Any]) -> dict[str, Any]:
        """A core device's report: status, reason, components (name, version, state)."""
        found = self._deployment(deployment_id)
        if found.thing != thing:
            raise ApiError(
                400, "ValidationException", f"deployment {deployment_id} is not for {thing}"
            )
        status = report.get("status")
        if status not in EXECUTION_STATES:
            raise ApiError(
                400, "ValidationException", f"status must be one of {sorted(EXECUTION_STATES)}"
            )
        now = datetime.now(UTC)
        installed: dict[str, InstalledComponent] = {}
        for item in report.get("components") or []:
            state = item.get("state")
            if state not in LIFECYCLE_STATES:
                raise ApiError(400, "ValidationException", f"component state {state!r} is unknown")
            installed[item["name"]] = InstalledComponent(
                item["name"], item["version"], state, now, item["name"] in found.components
            )
        with self.store._lock:
            found.execution, found.reason, found.modified = (
                status,
                str(report.get("reason") or ""),
                now,
            )
            if status in ("SUCCEEDED", "COMPLETED") and found.status == "ACTIVE":
                found.status = "COMPLETED"
            elif status in ("FAILED", "TIMED_OUT", "REJECTED") and found.status == "ACTIVE":
                found.status = "FAILED"
            if installed:
                self.store.installed[thing] = installed
        log.info("deployment %s on %s: %s", deployment_id, thing, status)
        return {}


def _artifact_uris(recipe: dict[str, Any]) -> list[str]:
    uris: list[str] = []
    for manifest in recipe.get("Manifests") or []:
        for artifact in (manifest or {}).get("Artifacts") or []:
            uri = (artifact or {}).get("URI") or (artifact or {}).get("Uri") or ""
            if isinstance(uri, str) and uri.startswith("s3://") and uri not in uris:
                uris.append(uri)
    return uris
