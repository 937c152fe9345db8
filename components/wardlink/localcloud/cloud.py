"""``LocalCloud``: the manufacturer's cloud on this machine, for the demo and the tests.

It runs the real Lambda handlers against real peers where they exist here:

* DynamoDB Local (the real jar, or any endpoint you pass) with the same tables as
  the CDK app;
* moto in server mode for S3 (presigned uploads work end to end) and Timestream;
* an HTTP API on loopback that verifies every request's SigV4 signature before it
  builds the API Gateway event and calls the handler;
* optionally an MQTT bridge that plays the IoT rule and Kinesis, feeding the
  telemetry writer and any consumer attached with ``add_consumer`` (the detectors
  engine).

The handlers read their resources from process-wide services, so one LocalCloud
runs per process at a time.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import boto3

from wardlink.cloudapi.handlers import telemetry_writer
from wardlink.cloudapi.handlers.common import logger as api_logger
from wardlink.cloudapi.services import Services, use_services
from wardlink.cloudapi.settings import CloudSettings
from wardlink.cloudapi.telemetry.points import TelemetryPoint
from wardlink.cloudapi.telemetry.store import TelemetryStore, WriteReport
from wardlink.cloudapi.telemetry.timestream import TimestreamStore
from wardlink.localcloud.api_server import LocalApiServer
from wardlink.localcloud.bridge import Consumer, KinesisFeed, MqttBridge, apply_topic_rule
from wardlink.localcloud.dynamodb_local import DynamoDBLocal
from wardlink.localcloud.invoker import LambdaInvoker
from wardlink.localcloud.moto_services import MotoServer, create_bucket, create_timestream_table
from wardlink.localcloud.routes import TELEMETRY_WRITER_HANDLER
from wardlink.localcloud.sigv4 import Principal, SigV4Verifier
from wardlink.localcloud.tables import create_tables, table_names
from wardlink.model.errors import WardlinkError

_active_lock = threading.Lock()
_active: LocalCloud | None = None


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
    log_level: str = "WARNING"


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


class CountingStore:
    """Wraps a store and counts what it stored, for the demo's summary."""

    def __init__(self, inner: TelemetryStore) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.total = WriteReport()

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


class LocalCloud:
    """Start with ``start()`` (or ``with LocalCloud() as cloud:``), stop with ``stop()``."""

    def __init__(self, config: LocalCloudConfig | None = None, **overrides: Any) -> None:
        base = config or LocalCloudConfig()
        self.config = LocalCloudConfig(**{**base.__dict__, **overrides})
        self._principals: dict[str, Principal] = {}
        self.credentials = self.add_principal("gateway")
        self._ddb: DynamoDBLocal | None = None
        self._moto: MotoServer | None = None
        self._api: LocalApiServer | None = None
        self._bridge: MqttBridge | None = None
        self._feed = KinesisFeed(region=self.config.region, account_id=self.config.account_id)
        self._invoker = LambdaInvoker(self.config.region, self.config.account_id)
        self._store: CountingStore | None = None
        self._counters = _Counters()
        self.services: Services | None = None
        self.dynamodb_endpoint: str | None = None
        self.aws_endpoint: str | None = None

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

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> LocalCloud:
        global _active
        with _active_lock:
            if _active is not None:
                raise LocalCloudError("a LocalCloud is already running in this process")
            _active = self
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
            },
        )
        create_tables(self.services.dynamodb, cfg.table_prefix)
        create_bucket(self.services.s3, cfg.bucket)
        create_timestream_table(
            self.services.timestream_write, cfg.timestream_database, cfg.timestream_table
        )
        use_services(self.services)
        self._store = CountingStore(
            TimestreamStore(
                self.services.timestream_write, cfg.timestream_database, cfg.timestream_table
            )
        )
        telemetry_writer.use_store(self._store)

        self._api = LocalApiServer(
            SigV4Verifier(self._principals, cfg.region),
            self._invoker,
            host=cfg.api_host,
            port=cfg.api_port,
            on_response=self._count_response,
        )
        self._api.start()
        self._feed.add_consumer(
            "telemetry_writer", lambda event: self._invoker.invoke(TELEMETRY_WRITER_HANDLER, event)
        )
        self._feed.start()
        if cfg.mqtt_url:
            self._bridge = MqttBridge(cfg.mqtt_url, self._feed)
            self._bridge.start()

    def stop(self) -> None:
        global _active
        if self._bridge is not None:
            self._bridge.stop()
            self._bridge = None
        self._feed.stop()
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._ddb is not None:
            self._ddb.stop()
            self._ddb = None
        with _active_lock:
            if _active is self:
                use_services(None)
                telemetry_writer.use_store(None)
                _active = None

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
            )

    def environment(self) -> dict[str, str]:
        """Env vars that point a separate process (a gateway, the CLI) at this cloud."""
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
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint or "",
            "AWS_ENDPOINT_URL_S3": self.aws_endpoint or "",
        }

    def _count_response(self, method: str, path: str, status: int) -> None:
        with self._counters.lock:
            self._counters.requests += 1
            if method == "POST" and path.rstrip("/") == "/devices":
                if status == 201:
                    self._counters.created += 1
                elif status == 200:
                    self._counters.updated += 1
