"""``LocalCloud``: the manufacturer's cloud on this machine, for the demo and the tests.

It runs the real Lambda handlers against real peers where they exist here:

* DynamoDB Local (the real jar, or any endpoint you pass) with the same tables as
  the CDK app;
* a real InfluxDB (Debian's ``influxd``, started on a free loopback port, or any
  ``influxdb_url`` you pass) as the telemetry store, written and read over the
  same v1-compatible API the Lambda uses against Timestream for InfluxDB
  (``telemetry_store="liveanalytics"`` uses moto's Timestream instead);
* moto in server mode for S3 (presigned uploads work end to end);
* recorded Device Defender audits behind the handlers' ``iot`` client (moto has no
  Device Defender; see ``wardlink.localcloud.device_defender``);
* an HTTP API on loopback that verifies every request's SigV4 signature before it
  builds the API Gateway event and calls the handler;
* optionally an MQTT bridge that plays the IoT rule and Kinesis, feeding the
  telemetry writer, the detector engine and any consumer attached with
  ``add_consumer``;
* the detector engine (``detectors=True``, the default): the packaged catalog
  models on every bridged envelope, alerts kept in memory and in
  ``alerts.jsonl``, alarms written to the Alarms/AlarmAudit tables so the API's
  ``/alarms`` endpoints show them (see ``wardlink.localcloud.detectors``).

The handlers read their resources from process-wide services, as in Lambda;
several LocalClouds may still run in one process, because each invocation
installs its own cloud's services (``wardlink.localcloud.handler_env``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wardlink.cloudapi.handlers.common import logger as api_logger
from wardlink.cloudapi.services import Services
from wardlink.cloudapi.settings import CloudSettings
from wardlink.cloudapi.telemetry.influxdb import InfluxDBStore, InfluxHTTP
from wardlink.cloudapi.telemetry.points import TelemetryPoint
from wardlink.cloudapi.telemetry.reader import InfluxQLReader
from wardlink.cloudapi.telemetry.store import TelemetryStore, WriteReport
from wardlink.cloudapi.telemetry.timestream import TimestreamStore
from wardlink.contract.access import Role
from wardlink.contract.models import GATEWAY_ID_PATTERN
from wardlink.detectors.local_runner import LocalAlert
from wardlink.localcloud.api_server import LocalApiServer
from wardlink.localcloud.bridge import Consumer, KinesisFeed, MqttBridge, apply_topic_rule
from wardlink.localcloud.detectors import AlertMatch, CloudDetectors
from wardlink.localcloud.device_defender import LocalDeviceDefender
from wardlink.localcloud.dynamodb_local import DynamoDBLocal
from wardlink.localcloud.greengrass import LocalGreengrass
from wardlink.localcloud.handler_env import HANDLERS
from wardlink.localcloud.influxdb_server import InfluxDBServer
from wardlink.localcloud.invoker import LambdaInvoker
from wardlink.localcloud.iot_registry import LocalIotRegistry, revoked_things
from wardlink.localcloud.moto_services import MotoServer, create_bucket, create_timestream_table
from wardlink.localcloud.routes import TELEMETRY_WRITER_HANDLER
from wardlink.localcloud.sigv4 import Principal, SigV4Verifier
from wardlink.localcloud.tables import create_tables, table_names
from wardlink.model.errors import WardlinkError

ALERTS_FILE_NAME = "alerts.jsonl"


class LocalCloudError(WardlinkError):
    pass


@dataclass(frozen=True)
class LocalCloudConfig:
    region: str = "us-east-1"
    account_id: str = "000000000000"
    api_host: str = "127.0.0.1"
    api_port: int = 0
    mqtt_url: str | None = None
    dynamodb_endpoint: str | None = None  # None: start DynamoDB Local ourselves
    table_prefix: str = "wardlink-local-"
    bucket: str = "wardlink-local-data"
    timestream_database: str = "wardlink_local"
    timestream_table: str = "telemetry"
    telemetry_store: str = "influxdb"
    """``influxdb`` (a real local InfluxDB, the default) or ``liveanalytics`` (moto)."""
    influxdb_url: str | None = None  # None: start our own influxd
    influxdb_database: str = "wardlink_local"
    log_level: str = "WARNING"
    detectors: bool = True
    """Run the catalog detector models on bridged envelopes and record their alarms."""
    detector_timers: Mapping[str, float] | None = None
    """Shortened timers by name, e.g. ``{"heartbeat": 10}`` (seconds, at least 1). A
    ``maintenance`` timer (the hold after a gateway's planned restart) is left at its
    900 s unless named too; keep it longer than ``heartbeat``."""
    alerts_file: str | Path | None = None
    """Where alerts are appended as JSON lines; default ``<workdir>/alerts.jsonl``."""
    workdir: str | Path | None = None
    """Directory for local files; default a temporary one, removed by ``stop()``."""


@dataclass
class LocalCloudStats:
    devices_registered: int = 0
    devices_updated: int = 0
    telemetry_records_stored: int = 0
    telemetry_duplicates: int = 0
    telemetry_rejected: int = 0
    api_requests: int = 0
    api_signature_rejections: int = 0
    mqtt_messages: int = 0
    alerts_sent: int = 0
    alarm_changes: int = 0
    detector_errors: int = 0


class CountingStore:
    """Wraps a store and counts what it stored, for the demo's summary."""

    def __init__(self, inner: TelemetryStore) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.total = WriteReport()
        self.preferred_batch: int = int(getattr(inner, "preferred_batch", 100))

    def write(self, points: Sequence[TelemetryPoint]) -> WriteReport:
        report = self._inner.write(points)
        with self._lock:
            self.total.stored += report.stored
            self.total.duplicates += report.duplicates
            self.total.rejected.extend(report.rejected[-100:])
        return report


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    created: int = 0
    updated: int = 0
    requests: int = 0


OPERATOR_NAME = "wardlink-operator"
#: The IoT policy provisioned gateways' certificates get (the CDK app's ``<prefix>-gateway``).
LOCAL_GATEWAY_POLICY = "wardlink-local-gateway"
#: The thing group revoked gateways are moved to (``wardlink fleet gateways revoke``).
QUARANTINE_GROUP = "wardlink-quarantine"
LOCAL_REGISTRATION_ROLE = "arn:aws:iam::000000000000:role/wardlink-local-iot-registration"
#: The local stand-in for the token-exchange role every gateway assumes.
LOCAL_GATEWAY_ROLE = "wardlink-gateway-tes"
CREDENTIALS_PATH = "/_local/credentials"
#: The IoT rule over HTTP: a process attached to this cloud (``wardlink demo
#: --cloud-env F``) hands it what its own broker accepted, as ``publish`` would.
IOT_RULE_PATH = "/_local/iot-rule"
MAX_RULE_MESSAGES = 500


class RuleMessage(BaseModel):
    """One MQTT message as the broker accepted it; ``payload_b64`` is the raw payload."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1, max_length=256)
    payload_b64: str = Field(max_length=200_000)


class RuleBatch(BaseModel):
    """Body of ``POST /_local/iot-rule``: messages in the order the broker accepted them."""

    model_config = ConfigDict(extra="forbid")

    messages: list[RuleMessage] = Field(max_length=MAX_RULE_MESSAGES)


class CredentialsRequest(BaseModel):
    """Body of ``POST /_local/credentials``: one gateway, or support."""

    model_config = ConfigDict(extra="forbid")

    gateway_id: str | None = Field(default=None, pattern=GATEWAY_ID_PATTERN)
    support: bool = False


def credential_lines(principal: Principal) -> dict[str, str]:
    """The three variables an AWS SDK reads, for one principal."""
    lines = {
        "AWS_ACCESS_KEY_ID": principal.access_key,
        "AWS_SECRET_ACCESS_KEY": principal.secret_key,
    }
    if principal.session_token:
        lines["AWS_SESSION_TOKEN"] = principal.session_token
    return lines


class LocalCloud:
    """Start with ``start()`` (or ``with LocalCloud() as cloud:``), stop with ``stop()``."""

    def __init__(self, config: LocalCloudConfig | None = None, **overrides: Any) -> None:
        base = config or LocalCloudConfig()
        self.config = LocalCloudConfig(**{**base.__dict__, **overrides})
        timers = self.config.detector_timers or {}
        bad = sorted(name for name, seconds in timers.items() if not seconds >= 1)
        if bad:
            raise LocalCloudError(f"detector timers must last at least 1 second: {bad}")
        self._principals: dict[str, Principal] = {}
        #: The operator identity (support rights) written to the env file. Gateways
        #: get their own credentials from ``gateway_credentials``.
        self.credentials = self.add_principal(OPERATOR_NAME)
        self._ddb: DynamoDBLocal | None = None
        self._moto: MotoServer | None = None
        self._influxdb: InfluxDBServer | None = None
        self.influxdb_url: str | None = None
        self._api: LocalApiServer | None = None
        self._bridge: MqttBridge | None = None
        self._feed = KinesisFeed(region=self.config.region, account_id=self.config.account_id)
        self._invoker = LambdaInvoker(
            self.config.region, self.config.account_id, around=lambda: HANDLERS.serving(self)
        )
        self._store: CountingStore | None = None
        self._detectors: CloudDetectors | None = None
        self._alert_listeners: list[Callable[[LocalAlert], None]] = []
        self._tmpdir: Path | None = None
        self._running = False
        self._iot: LocalIotRegistry | None = None
        self._defender: LocalDeviceDefender | None = None
        self._revoked: set[str] = set()
        self.iot_endpoint: str | None = None
        self._counters = _Counters()
        self.services: Services | None = None
        self.dynamodb_endpoint: str | None = None
        self.aws_endpoint: str | None = None
        self._greengrass: LocalGreengrass | None = None
        self.greengrass_endpoint: str | None = None

    # -- identities -----------------------------------------------------------------

    def add_principal(self, name: str, *, temporary: bool = False) -> Principal:
        """A new local IAM identity; its ARN is what audits record as *who*.

        ``temporary`` gives it a session token (like the Greengrass token exchange
        service's role credentials), which every request must then carry and sign.
        """
        account = self.config.account_id
        principal = Principal(
            access_key=("ASIA" if temporary else "AKIA") + secrets.token_hex(8).upper(),
            secret_key=secrets.token_urlsafe(30),
            arn=(
                f"arn:aws:sts::{account}:assumed-role/{name}/local-session"
                if temporary
                else f"arn:aws:iam::{account}:user/{name}"
            ),
            account_id=account,
            session_token=secrets.token_urlsafe(48) if temporary else None,
        )
        self._principals[principal.access_key] = principal
        return principal

    def gateway_credentials(self, gateway_id: str) -> Principal:
        """Fresh session credentials of the gateway role for thing ``gateway_id``.

        As from the IoT credentials provider: temporary (a session token), an
        assumed-role ARN of the one shared gateway role, and the thing name bound to
        the session, which is what confines the caller to its own paths. A revoked
        thing (see ``refresh_revocations``) gets none, as the credentials provider
        refuses an inactive certificate.
        """
        if gateway_id in self._revoked:
            raise LocalCloudError(f"{gateway_id} is revoked: its certificate is not active")
        account = self.config.account_id
        principal = Principal(
            access_key="ASIA" + secrets.token_hex(8).upper(),
            secret_key=secrets.token_urlsafe(30),
            arn=f"arn:aws:sts::{account}:assumed-role/{LOCAL_GATEWAY_ROLE}/{gateway_id}",
            account_id=account,
            session_token=secrets.token_urlsafe(48),
            role=Role.GATEWAY,
            thing_name=gateway_id,
        )
        self._principals[principal.access_key] = principal
        return principal

    def support_credentials(self, name: str = "support") -> Principal:
        """Fresh session credentials of the support role (fleet search, alarm triage)."""
        return self.add_principal(name, temporary=True)

    def _admin(
        self, principal: Principal, method: str, path: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """``POST /_local/credentials``: the operator mints gateway or support credentials;
        ``POST /_local/iot-rule``: the operator feeds broker messages to the IoT rule."""
        if (method, path) == ("POST", IOT_RULE_PATH):
            return self._admin_rule(principal, body)
        if (method, path) != ("POST", CREDENTIALS_PATH):
            return 404, {"message": "Not Found"}
        if principal.access_key != self.credentials.access_key:
            return 403, {"message": "only the operator identity may mint credentials"}
        try:
            wanted = CredentialsRequest.model_validate_json(body or b"{}")
        except (ValidationError, RecursionError):
            return 400, {"message": "expected {\"gateway_id\": ID} or {\"support\": true}"}
        if (wanted.gateway_id is None) == (not wanted.support):
            return 400, {"message": "name exactly one of gateway_id and support"}
        try:
            minted = (
                self.gateway_credentials(wanted.gateway_id)
                if wanted.gateway_id
                else self.support_credentials()
            )
        except LocalCloudError as exc:
            return 403, {"message": str(exc)}
        return 200, credential_lines(minted)

    def _admin_rule(self, principal: Principal, body: bytes) -> tuple[int, dict[str, Any]]:
        if principal.access_key != self.credentials.access_key:
            return 403, {"message": "only the operator identity may feed the IoT rule"}
        try:
            batch = RuleBatch.model_validate_json(body or b"{}")
            decoded = [(m.topic, base64.b64decode(m.payload_b64, validate=True))
                       for m in batch.messages]  # fmt: skip
        except (ValidationError, RecursionError, binascii.Error):
            return 400, {"message": "expected {\"messages\": [{\"topic\", \"payload_b64\"}]}"}
        accepted = sum(1 for topic, payload in decoded if self.publish(topic, payload))
        return 200, {"accepted": accepted, "ignored": len(decoded) - accepted}

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> LocalCloud:
        if self._running:
            raise LocalCloudError("this LocalCloud is already running")
        if self.config.telemetry_store not in ("influxdb", "liveanalytics"):
            raise LocalCloudError(
                f"telemetry_store must be influxdb or liveanalytics, not "
                f"{self.config.telemetry_store!r}"
            )
        self._running = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        cfg = self.config
        api_logger.setLevel(cfg.log_level)
        if cfg.dynamodb_endpoint:
            self.dynamodb_endpoint = cfg.dynamodb_endpoint
        else:
            self._ddb = DynamoDBLocal()
            self.dynamodb_endpoint = self._ddb.start()
        self._moto = MotoServer()
        self.aws_endpoint = self._moto.start()
        # the handlers' IoT control plane: recorded Device Defender audits (moto has none)
        self._defender = LocalDeviceDefender()
        defender_endpoint = self._defender.start()

        session = boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local and moto accept any key
            region_name=cfg.region,
        )
        names = table_names(cfg.table_prefix)
        settings = CloudSettings(
            devices_table=names["DEVICES_TABLE"],
            gateways_table=names["GATEWAYS_TABLE"],
            detector_state_table=names["DETECTOR_STATE_TABLE"],
            alarms_table=names["ALARMS_TABLE"],
            alarm_audit_table=names["ALARM_AUDIT_TABLE"],
            data_bucket=cfg.bucket,
            timestream_database=cfg.timestream_database,
            timestream_table=cfg.timestream_table,
            telemetry_store=cfg.telemetry_store,
            influxdb_database=cfg.influxdb_database,
            gateway_role_name=LOCAL_GATEWAY_ROLE,
        )
        self.services = Services(
            settings=settings,
            session=session,
            endpoints={
                "dynamodb": self.dynamodb_endpoint,
                "s3": self.aws_endpoint,
                "timestream-write": self.aws_endpoint,
                "sns": self.aws_endpoint,
                "scheduler": self.aws_endpoint,
                "iot": defender_endpoint,
            },
        )
        create_tables(self.services.dynamodb, cfg.table_prefix)
        create_bucket(self.services.s3, cfg.bucket)
        self._store = CountingStore(self._telemetry_store())
        HANDLERS.register(self)
        self._start_iot_registry()
        self._start_greengrass()

        self._api = LocalApiServer(
            SigV4Verifier(self._principals, cfg.region),
            self._invoker,
            host=cfg.api_host,
            port=cfg.api_port,
            on_response=self._count_response,
            admin=self._admin,
        )
        self._api.start()
        self._feed.add_consumer(
            "telemetry_writer", lambda event: self._invoker.invoke(TELEMETRY_WRITER_HANDLER, event)
        )
        if cfg.detectors:
            self._start_detectors(names)
        self._feed.start()
        if cfg.mqtt_url:
            self._bridge = MqttBridge(cfg.mqtt_url, self._feed)
            self._bridge.start()

    def _moto_client(self, service: str) -> Any:
        assert self.services is not None
        return self.services.session.client(service, endpoint_url=self.aws_endpoint)

    def _start_iot_registry(self) -> None:
        """moto's IoT behind the local registration-task endpoint, with the gateway policy."""
        assert self.aws_endpoint is not None
        iot = self._moto_client("iot")
        if not iot.list_policies().get("policies"):
            iot.create_policy(
                policyName=LOCAL_GATEWAY_POLICY,
                policyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                '"Action": "iot:Connect", "Resource": "*"}]}',
            )
        self._iot = LocalIotRegistry(
            self.aws_endpoint,
            SigV4Verifier(self._principals, self.config.region, service="iot"),
            self._moto_client,
            self.refresh_revocations,
        )
        self.iot_endpoint = self._iot.start()

    def _start_greengrass(self) -> None:
        """Greengrass v2's control plane and STS GetCallerIdentity, over moto's S3."""
        s3 = self._moto_client("s3")

        def object_exists(bucket: str, key: str) -> bool:
            try:
                s3.head_object(Bucket=bucket, Key=key)
            except Exception:
                return False
            return True

        self._greengrass = LocalGreengrass(
            self._principals,
            self.config.region,
            self.config.account_id,
            operator=lambda: self.credentials,
            object_exists=object_exists,
        )
        self.greengrass_endpoint = self._greengrass.start()

    @property
    def greengrass(self) -> LocalGreengrass | None:
        return self._greengrass

    def refresh_revocations(self, things: set[str]) -> None:
        """Re-read whether ``things`` may still get credentials, and drop revoked sessions.

        Revoked: in the quarantine group, or certificates attached and none ACTIVE. A
        revoked thing's sessions stop verifying at once (stricter than AWS, where
        credentials already issued last until they expire) and it gets no new ones.
        """
        for name, refused in revoked_things(
            self._moto_client("iot"), things, QUARANTINE_GROUP
        ).items():
            if refused:
                self._revoked.add(name)
                for key in [k for k, p in list(self._principals.items()) if p.thing_name == name]:
                    self._principals.pop(key, None)
            else:
                self._revoked.discard(name)

    def _telemetry_store(self) -> TelemetryStore:
        cfg = self.config
        assert self.services is not None
        if cfg.telemetry_store == "liveanalytics":
            client = self.services.timestream_write
            create_timestream_table(client, cfg.timestream_database, cfg.timestream_table)
            return TimestreamStore(client, cfg.timestream_database, cfg.timestream_table)
        if cfg.influxdb_url:
            self.influxdb_url = cfg.influxdb_url.rstrip("/")
        else:
            workdir = Path(cfg.workdir) if cfg.workdir is not None else None
            self._influxdb = InfluxDBServer(workdir)
            self.influxdb_url = self._influxdb.start()
        InfluxDBServer.create_database_at(self.influxdb_url, cfg.influxdb_database)
        self.services = Services(
            settings=replace(self.services.settings, influxdb_url=self.influxdb_url),
            session=self.services.session,
            endpoints=self.services.endpoints,
        )
        return InfluxDBStore(InfluxHTTP(self.influxdb_url), cfg.influxdb_database)

    def telemetry_reader(self) -> InfluxQLReader:
        """Reads the stored telemetry back (InfluxQL over ``/query``; InfluxDB only)."""
        if self.influxdb_url is None:
            raise LocalCloudError("reading telemetry needs the InfluxDB store, running")
        return InfluxQLReader(InfluxHTTP(self.influxdb_url), self.config.influxdb_database)

    def _start_detectors(self, names: dict[str, str]) -> None:
        assert self.services is not None
        try:
            detectors = CloudDetectors(
                self.services.dynamodb,
                names,
                self._alerts_path(),
                timer_seconds=self.config.detector_timers,
            )
        except ValueError as exc:  # DetectorModelError is one
            raise LocalCloudError(f"detector models: {exc}") from exc
        for listener in self._alert_listeners:
            detectors.add_listener(listener)
        self._detectors = detectors.start()
        self._feed.add_consumer("detectors", detectors.consumer)

    def _alerts_path(self) -> Path:
        cfg = self.config
        if cfg.alerts_file is not None:
            return Path(cfg.alerts_file)
        if cfg.workdir is not None:
            workdir = Path(cfg.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._tmpdir = workdir = Path(tempfile.mkdtemp(prefix="wardlink-localcloud-"))
        return workdir / ALERTS_FILE_NAME

    def stop(self) -> None:
        if self._bridge is not None:
            self._bridge.stop()
            self._bridge = None
        self._feed.stop()
        if self._detectors is not None:
            self._detectors.stop()
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._greengrass is not None:
            self._greengrass.stop()
            self._greengrass = None
            self.greengrass_endpoint = None
        if self._iot is not None:
            self._iot.stop()
            self._iot = None
            self.iot_endpoint = None
        if self._defender is not None:
            self._defender.stop()
            self._defender = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._influxdb is not None:
            self._influxdb.stop()
            self._influxdb = None
        self.influxdb_url = None
        if self._ddb is not None:
            self._ddb.stop()
            self._ddb = None
        HANDLERS.unregister(self)
        self._running = False
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- use --------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """Base URL of the local API (what the edge client's ``endpoint`` is set to)."""
        if self._api is None:
            raise LocalCloudError("the local cloud is not running")
        return self._api.endpoint

    @property
    def region(self) -> str:
        return self.config.region

    def add_consumer(self, name: str, consumer: Consumer) -> None:
        """Attach another Kinesis consumer (gets ``{"Records": [...]}`` events)."""
        self._feed.add_consumer(name, consumer)

    # -- detectors ----------------------------------------------------------------------

    @property
    def detectors(self) -> CloudDetectors | None:
        """The detector engine (None with ``detectors=False``); kept after ``stop()``
        so that ``alerts()`` still answers for a summary."""
        return self._detectors

    @property
    def alerts_path(self) -> Path | None:
        """The JSON-lines file alerts are appended to (None without detectors)."""
        return self._detectors.alerts_path if self._detectors is not None else None

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert delivered so far, oldest first (``LocalAlert.to_json()`` dicts).

        Keys: ``at``, ``model``, ``key``, ``state``, ``event``, ``action``, ``target``,
        ``message``, ``action_execution_id``, ``error``. The alarm change of the same
        evaluation is already in the Alarms table when an alert appears here.
        """
        return self._detectors.alerts() if self._detectors is not None else []

    def wait_for_alert(
        self, match: AlertMatch | str, timeout_s: float = 30.0, *, after: int = 0
    ) -> dict[str, Any] | None:
        """The first alert (from index ``after``) that matches, or None after ``timeout_s``.

        ``match`` is a predicate on the alert dict, or a text the message must contain.
        """
        if self._detectors is None:
            raise LocalCloudError("the detector engine is not running")
        predicate: AlertMatch = (
            (lambda alert: match in str(alert["message"])) if isinstance(match, str) else match
        )
        return self._detectors.wait_for_alert(predicate, timeout_s, after=after)

    def add_alert_listener(self, listener: Callable[[LocalAlert], None]) -> None:
        """Call ``listener`` once per alert, on the detectors' thread (keep it short)."""
        self._alert_listeners.append(listener)
        if self._detectors is not None:
            self._detectors.add_listener(listener)

    def alert_line(self, alert: LocalAlert) -> str:
        """One short line for people: ``[sns] <time> <key>: <message>``."""
        if self._detectors is None:
            raise LocalCloudError("the detector engine is not running")
        return self._detectors.short_line(alert)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Inject one message as if it came through the broker and the IoT rule."""
        output = apply_topic_rule(topic, payload)
        if output is None:
            return False
        self._feed.put(output)
        return True

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until every bridged message has been delivered to every consumer."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._feed.idle():
                return True
            time.sleep(0.05)
        return self._feed.idle()

    def stats(self) -> LocalCloudStats:
        store = self._store.total if self._store else WriteReport()
        detectors = self._detectors
        with self._counters.lock:
            return LocalCloudStats(
                devices_registered=self._counters.created,
                devices_updated=self._counters.updated,
                telemetry_records_stored=store.stored,
                telemetry_duplicates=store.duplicates,
                telemetry_rejected=len(store.rejected),
                api_requests=self._counters.requests,
                api_signature_rejections=self._api.rejected_signatures if self._api else 0,
                mqtt_messages=self._bridge.messages_in if self._bridge else 0,
                alerts_sent=detectors.alerts_sent() if detectors else 0,
                alarm_changes=detectors.alarm_changes if detectors else 0,
                detector_errors=(
                    detectors.runner.stats.errors + detectors.alarm_failures if detectors else 0
                ),
            )

    def environment(self) -> dict[str, str]:
        """Env vars that point a separate process (the CLI) at this cloud, as the operator.

        The identity here has support rights only: a gateway process gets its own
        from ``wardlink cloud credentials --gateway ID`` (``gateway_credentials``).
        """
        if self.services is None:
            raise LocalCloudError("the local cloud is not running")
        names = table_names(self.config.table_prefix)
        return {
            "WARDLINK_API_ENDPOINT": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": self.credentials.secret_key,
            **names,
            "DATA_BUCKET": self.config.bucket,
            "TIMESTREAM_DATABASE": self.config.timestream_database,
            "TIMESTREAM_TABLE": self.config.timestream_table,
            "TELEMETRY_STORE": self.config.telemetry_store,
            "INFLUXDB_URL": self.influxdb_url or "",
            "INFLUXDB_DATABASE": self.config.influxdb_database,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint or "",
            "AWS_ENDPOINT_URL_S3": self.aws_endpoint or "",
            "AWS_ENDPOINT_URL_IOT": self.iot_endpoint or "",
            "AWS_ENDPOINT_URL_GREENGRASSV2": self.greengrass_endpoint or "",
            "AWS_ENDPOINT_URL_STS": self.greengrass_endpoint or "",
            "FLEET_BUCKET": self.config.bucket,
            "FLEET_REGISTRATION_ROLE_ARN": LOCAL_REGISTRATION_ROLE,
            "GATEWAY_IOT_POLICY": LOCAL_GATEWAY_POLICY,
        }

    # -- what the in-process handlers see while serving this cloud (handler_env) ----------

    @property
    def handler_services(self) -> Services | None:
        return self.services

    @property
    def handler_store(self) -> TelemetryStore | None:
        return self._store

    def _count_response(self, method: str, path: str, status: int) -> None:
        with self._counters.lock:
            self._counters.requests += 1
            segments = path.strip("/").split("/")
            if method == "POST" and len(segments) == 3 and segments[::2] == ["gateways", "devices"]:
                if status == 201:
                    self._counters.created += 1
                elif status == 200:
                    self._counters.updated += 1
