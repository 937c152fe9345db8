"""Deployment settings, read once from CDK context (``cdk.json`` or ``-c key=value``).

Every knob that differs between accounts lives here, typed and validated, so the
constructs never read context themselves. Synthesis must work offline: nothing here
looks anything up, and an unset account yields an account-agnostic stack.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from constructs import Node

CONTEXT_PREFIX = "wardlink:"
_STAGE_RE = re.compile(r"^[a-z][a-z0-9-]{1,15}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_RUNTIMES = ("python3.12", "python3.13")
#: ``influxdb``: Amazon Timestream for InfluxDB (any account). ``liveanalytics``:
#: Timestream for LiveAnalytics, only for accounts that had it before 2025-06-20.
TELEMETRY_STORES = ("influxdb", "liveanalytics")
_INFLUX_TYPES = (
    "db.influx.medium", "db.influx.large", "db.influx.xlarge", "db.influx.2xlarge",
    "db.influx.4xlarge", "db.influx.8xlarge", "db.influx.12xlarge", "db.influx.16xlarge",
)
_INFLUX_DEPLOYMENTS = ("SINGLE_AZ", "WITH_MULTIAZ_STANDBY")
_IOT_LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "DISABLED")


class SettingsError(ValueError):
    """A context value is missing or malformed; synthesis must stop."""


@dataclass(frozen=True)
class ReservedConcurrency:
    """Per-function reserved concurrency: caps the blast radius of a runaway caller."""

    devices: int = 20
    uploads: int = 10
    alarms: int = 10
    diagnostics: int = 5
    audit: int = 2
    fleet_search: int = 5
    telemetry_reader: int = 5
    telemetry_writer: int = 10
    detector_engine: int = 10


@dataclass(frozen=True)
class WardlinkSettings:
    """Everything the stack needs to know about where and how it is deployed."""

    stage: str = "dev"
    region: str = "eu-central-1"
    account: str | None = None
    python_runtime: str = "python3.13"
    powertools_layer_version: int = 27
    timestream_memory_retention_hours: int = 24
    timestream_magnetic_retention_days: int = 2555
    kinesis_retention_hours: int = 168
    log_retention_days: int = 365
    data_glacier_after_days: int = 90
    data_expire_after_days: int = 2555
    audit_log_expire_after_days: int = 2555
    upload_url_ttl_s: int = 900
    runbook_base_url: str = "https://runbooks.wardlink.example/alerts"
    enable_waf: bool = True
    telemetry_store: str = "influxdb"
    influxdb_instance_type: str = "db.influx.medium"
    influxdb_storage_gib: int = 100
    influxdb_deployment: str = "WITH_MULTIAZ_STANDBY"
    influxdb_token_rotation_days: int = 30
    #: IoT Core's account-wide log level, and the level for the investigation group.
    iot_log_level: str = "ERROR"
    iot_investigation_log_level: str = "DEBUG"
    #: Device Defender Detect (the gateways' security profile); AWS no longer offers
    #: Detect to accounts that had not used it by 2026-08-31: set false for those.
    device_defender_detect: bool = True
    concurrency: ReservedConcurrency = ReservedConcurrency()

    @property
    def prefix(self) -> str:
        """Prefix of the few physical names we must fix (Timestream, schedule group)."""
        return f"wardlink-{self.stage}"

    @property
    def powertools_layer_arn(self) -> str:
        """The public Powertools for AWS Lambda (Python) v3 layer for our runtime."""
        runtime_tag = self.python_runtime.replace(".", "")
        return (
            f"arn:aws:lambda:{self.region}:017000801446:layer:"
            f"AWSLambdaPowertoolsPythonV3-{runtime_tag}-x86_64:{self.powertools_layer_version}"
        )

    @classmethod
    def from_context(cls, node: Node) -> WardlinkSettings:
        """Settings from ``wardlink:*`` context keys, then environment, then defaults."""

        def ctx(key: str) -> Any:
            return node.try_get_context(CONTEXT_PREFIX + key)

        defaults = cls()
        account = ctx("account") or os.environ.get("CDK_DEFAULT_ACCOUNT") or None
        region = ctx("region") or os.environ.get("CDK_DEFAULT_REGION") or defaults.region
        settings = cls(
            stage=str(ctx("stage") or defaults.stage),
            region=str(region),
            account=str(account) if account else None,
            python_runtime=str(ctx("pythonRuntime") or defaults.python_runtime),
            powertools_layer_version=_int(
                ctx("powertoolsLayerVersion"), defaults.powertools_layer_version
            ),
            timestream_memory_retention_hours=_int(
                ctx("timestreamMemoryRetentionHours"), defaults.timestream_memory_retention_hours
            ),
            timestream_magnetic_retention_days=_int(
                ctx("timestreamMagneticRetentionDays"), defaults.timestream_magnetic_retention_days
            ),
            runbook_base_url=str(ctx("runbookBaseUrl") or defaults.runbook_base_url),
            enable_waf=_bool(ctx("enableWaf"), defaults.enable_waf),
            telemetry_store=str(ctx("telemetryStore") or defaults.telemetry_store),
            influxdb_instance_type=str(
                ctx("influxdbInstanceType") or defaults.influxdb_instance_type
            ),
            influxdb_storage_gib=_int(ctx("influxdbStorageGiB"), defaults.influxdb_storage_gib),
            influxdb_deployment=str(ctx("influxdbDeployment") or defaults.influxdb_deployment),
            influxdb_token_rotation_days=_int(
                ctx("influxdbTokenRotationDays"), defaults.influxdb_token_rotation_days
            ),
            iot_log_level=str(ctx("iotLogLevel") or defaults.iot_log_level).upper(),
            iot_investigation_log_level=str(
                ctx("iotInvestigationLogLevel") or defaults.iot_investigation_log_level
            ).upper(),
            device_defender_detect=_bool(
                ctx("deviceDefenderDetect"), defaults.device_defender_detect
            ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail closed on values that would deploy something broken or unsafe."""
        if not _STAGE_RE.match(self.stage):
            raise SettingsError(f"wardlink:stage {self.stage!r} must match {_STAGE_RE.pattern}")
        if not _REGION_RE.match(self.region):
            raise SettingsError(f"wardlink:region {self.region!r} is not an AWS region name")
        if self.account is not None and not _ACCOUNT_RE.match(self.account):
            raise SettingsError(f"wardlink:account {self.account!r} must be 12 digits")
        if self.python_runtime not in _RUNTIMES:
            raise SettingsError(f"wardlink:pythonRuntime must be one of {_RUNTIMES}")
        if not 1 <= self.timestream_memory_retention_hours <= 8766:
            raise SettingsError("Timestream memory retention must be 1..8766 hours")
        if not 1 <= self.timestream_magnetic_retention_days <= 73000:
            raise SettingsError("Timestream magnetic retention must be 1..73000 days")
        if self.telemetry_store not in TELEMETRY_STORES:
            raise SettingsError(f"wardlink:telemetryStore must be one of {TELEMETRY_STORES}")
        if self.influxdb_instance_type not in _INFLUX_TYPES:
            raise SettingsError(f"wardlink:influxdbInstanceType must be one of {_INFLUX_TYPES}")
        if not 20 <= self.influxdb_storage_gib <= 16384:
            raise SettingsError("wardlink:influxdbStorageGiB must be 20..16384")
        if self.influxdb_deployment not in _INFLUX_DEPLOYMENTS:
            raise SettingsError(f"wardlink:influxdbDeployment must be one of {_INFLUX_DEPLOYMENTS}")
        if not 1 <= self.influxdb_token_rotation_days <= 365:
            raise SettingsError("wardlink:influxdbTokenRotationDays must be 1..365")
        for key, level in (("iotLogLevel", self.iot_log_level),
                           ("iotInvestigationLogLevel", self.iot_investigation_log_level)):
            if level not in _IOT_LOG_LEVELS:
                raise SettingsError(f"wardlink:{key} must be one of {_IOT_LOG_LEVELS}")
        if self.powertools_layer_version < 1:
            raise SettingsError("wardlink:powertoolsLayerVersion must be positive")


def _int(value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"expected an integer, got {value!r}") from exc


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise SettingsError(f"expected a boolean, got {value!r}")
