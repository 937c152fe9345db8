"""Fast unit tests of the infra helpers (no synthesis)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from pydantic import BaseModel, ConfigDict, Field
from wardlink_infra.api_models import DRAFT4, UnsupportedSchemaError, request_schema
from wardlink_infra.ingest import rule_sql
from wardlink_infra.settings import SettingsError, WardlinkSettings


class _Inner(BaseModel):
    code: str = Field(pattern=r"^[A-Z]{2}$")


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inner: _Inner
    ratio: float = Field(gt=0, lt=1)
    tags: list[str] = Field(default_factory=list, max_length=3)


def test_request_schema_inlines_refs_and_uses_draft4_bounds() -> None:
    schema = request_schema(_Outer)
    assert schema["$schema"] == DRAFT4
    assert "$defs" not in schema
    assert schema["properties"]["inner"]["properties"]["code"]["pattern"] == r"^[A-Z]{2}$"
    ratio = schema["properties"]["ratio"]
    assert ratio == {"exclusiveMinimum": True, "minimum": 0, "exclusiveMaximum": True,
                     "maximum": 1, "title": "Ratio", "type": "number"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["tags"]["maxItems"] == 3


def test_request_schema_refuses_keywords_it_cannot_keep() -> None:
    class _WithConst(BaseModel):
        kind: str = Field(json_schema_extra={"const": "x"})

    with pytest.raises(UnsupportedSchemaError, match="const"):
        request_schema(_WithConst)


def test_rule_sql_stamps_gateway_from_topic() -> None:
    assert rule_sql("status") == "SELECT *, topic(3) AS gateway_id FROM 'wardlink/v1/+/status'"
    with pytest.raises(ValueError, match="unknown uplink kind"):
        rule_sql("video")


def _settings(**context: object) -> WardlinkSettings:
    app = cdk.App(context={f"wardlink:{k}": v for k, v in context.items()})
    return WardlinkSettings.from_context(app.node)


def test_settings_defaults_and_layer_arn() -> None:
    settings = _settings(region="eu-west-1", powertoolsLayerVersion=27)
    assert settings.timestream_magnetic_retention_days == 2555
    assert settings.telemetry_store == "influxdb"  # any account can deploy it
    assert settings.powertools_layer_arn == (
        "arn:aws:lambda:eu-west-1:017000801446:layer:"
        "AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stage", "Prod!"),
        ("region", "mars-1"),
        ("account", "12345"),
        ("pythonRuntime", "python3.9"),
        ("timestreamMemoryRetentionHours", 0),
        ("enableWaf", "maybe"),
        ("telemetryStore", "timescale"),
        ("influxdbInstanceType", "db.r5.large"),
        ("influxdbStorageGiB", 10),
        ("influxdbDeployment", "MULTI"),
    ],
)
def test_settings_fail_closed_on_bad_values(key: str, value: object) -> None:
    with pytest.raises(SettingsError):
        _settings(**{key: value})
