"""Where the handlers find their resources: names from the Lambda environment.

The CDK app sets these variables on each function; the local cloud builds the same
object directly. A handler reads only the names it needs, and a missing one is a
deployment error that must fail loudly on first use, not a silent default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from wardlink.model.errors import WardlinkError


class MissingSettingError(WardlinkError):
    """A handler needs an environment variable the deployment did not set."""


@dataclass(frozen=True)
class CloudSettings:
    """Resource names, as the CDK app passes them in environment variables."""

    devices_table: str | None = None
    gateways_table: str | None = None
    detector_state_table: str | None = None
    alarms_table: str | None = None
    alarm_audit_table: str | None = None
    data_bucket: str | None = None
    timestream_database: str | None = None
    timestream_table: str | None = None
    #: ``influxdb`` (Timestream for InfluxDB, the default) or ``liveanalytics``.
    telemetry_store: str = "influxdb"
    influxdb_url: str | None = None
    influxdb_database: str | None = None
    #: Secrets Manager secret whose JSON holds the write/read ``token`` of the bucket.
    influxdb_token_secret_arn: str | None = None
    #: The instance's admin credentials (JSON ``username``, ``password``): set-up only.
    influxdb_admin_secret_arn: str | None = None
    alert_topic_arn: str | None = None
    upload_url_ttl_s: int = 900
    #: The IAM role every gateway's token exchange assumes: callers signing with it
    #: are gateways, held to their own ``/gateways/{id}`` paths (see handlers.common).
    gateway_role_name: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CloudSettings:
        env = os.environ if environ is None else environ
        return cls(
            devices_table=env.get("DEVICES_TABLE"),
            gateways_table=env.get("GATEWAYS_TABLE"),
            detector_state_table=env.get("DETECTOR_STATE_TABLE"),
            alarms_table=env.get("ALARMS_TABLE"),
            alarm_audit_table=env.get("ALARM_AUDIT_TABLE"),
            data_bucket=env.get("DATA_BUCKET"),
            timestream_database=env.get("TIMESTREAM_DATABASE"),
            timestream_table=env.get("TIMESTREAM_TABLE"),
            telemetry_store=env.get("TELEMETRY_STORE", "influxdb"),
            influxdb_url=env.get("INFLUXDB_URL"),
            influxdb_database=env.get("INFLUXDB_DATABASE"),
            influxdb_token_secret_arn=env.get("INFLUXDB_TOKEN_SECRET_ARN"),
            influxdb_admin_secret_arn=env.get("INFLUXDB_ADMIN_SECRET_ARN"),
            alert_topic_arn=env.get("ALERT_TOPIC_ARN"),
            upload_url_ttl_s=int(env.get("UPLOAD_URL_TTL_S", "900")),
            gateway_role_name=env.get("GATEWAY_ROLE_NAME"),
        )

    def require(self, name: str) -> str:
        """The value of setting ``name`` (e.g. ``"devices_table"``), or a clear error."""
        value = getattr(self, name)
        if not value:
            raise MissingSettingError(f"environment variable {name.upper()} is not set")
        return str(value)
