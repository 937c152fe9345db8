"""The engine Lambda's configuration, read once from its environment.

The names are the ones the CDK app sets (``cloud/wardlink_infra/detectors.py`` and
``tables.py``). Everything the engine cannot work without is checked at cold
start and reported together, so a misconfigured deployment fails on its first
invocation with one clear message instead of half-processing a batch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

REQUIRED = (
    "DETECTOR_STATE_TABLE",
    "ALARMS_TABLE",
    "ALARM_AUDIT_TABLE",
    "DEVICES_TABLE",
    "GATEWAYS_TABLE",
    "ALERT_TOPIC_ARN",
    "SCHEDULE_GROUP_NAME",
    "SCHEDULER_ROLE_ARN",
)
DEFAULT_MODELS_DIR = "/opt/detectors"


class EngineConfigurationError(RuntimeError):
    """The engine's environment is incomplete.

    (Like the rest of ``wardlink.detectors``, this package does not import
    ``wardlink.model``, so the engine Lambda needs no pydantic.)
    """


@dataclass(frozen=True, slots=True)
class EngineSettings:
    detector_state_table: str
    alarms_table: str
    alarm_audit_table: str
    devices_table: str
    gateways_table: str
    alert_topic_arn: str
    schedule_group: str
    scheduler_role_arn: str
    models_dir: str = DEFAULT_MODELS_DIR
    scheduler_dead_letter_arn: str | None = None
    engine_function_arn: str | None = None
    """Target of timer schedules; defaults to the running function (unqualified ARN)."""
    runbook_base_url: str | None = None
    action_dead_letter_queue_url: str | None = None
    iot_data_endpoint: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineSettings:
        env = os.environ if environ is None else environ
        missing = [name for name in REQUIRED if not env.get(name)]
        if missing:
            raise EngineConfigurationError(
                "detector engine environment is missing: " + ", ".join(missing)
            )

        def optional(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            detector_state_table=env["DETECTOR_STATE_TABLE"],
            alarms_table=env["ALARMS_TABLE"],
            alarm_audit_table=env["ALARM_AUDIT_TABLE"],
            devices_table=env["DEVICES_TABLE"],
            gateways_table=env["GATEWAYS_TABLE"],
            alert_topic_arn=env["ALERT_TOPIC_ARN"],
            schedule_group=env["SCHEDULE_GROUP_NAME"],
            scheduler_role_arn=env["SCHEDULER_ROLE_ARN"],
            models_dir=env.get("DETECTOR_MODELS_DIR") or DEFAULT_MODELS_DIR,
            scheduler_dead_letter_arn=optional("SCHEDULER_DLQ_ARN"),
            engine_function_arn=optional("ENGINE_FUNCTION_ARN"),
            runbook_base_url=optional("RUNBOOK_BASE_URL"),
            action_dead_letter_queue_url=optional("ACTION_DLQ_URL"),
            iot_data_endpoint=optional("IOT_DATA_ENDPOINT"),
        )


def unqualified_function_arn(arn: str) -> str:
    """``arn:aws:lambda:r:a:function:name[:alias]`` -> without the alias or version.

    The scheduler role may invoke the unqualified function ARN only (that is what
    the CDK app grants), so timers must never target ``name:$LATEST`` or an alias.
    """
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        raise EngineConfigurationError(f"not a Lambda function ARN: {arn!r}")
    return ":".join(parts[:7])
