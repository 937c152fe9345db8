"""The engine Lambda handler (``wardlink.detectors.aws.handler``), Powertools style.

The runtime (models, clients, caches) is built on the first invocation and kept
for the life of the execution environment; it needs the invocation context for
the function's own ARN, which is the target of the timer schedules.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.detectors.aws.runtime import EngineRuntime
from wardlink.detectors.aws.settings import EngineSettings

LOGGER_NAME = "wardlink.detectors.aws"

logger = Logger(service="wardlink-detectors")
logging.getLogger(LOGGER_NAME)  # register it so Powertools can configure it
copy_config_to_registered_loggers(source_logger=logger, include={LOGGER_NAME})

_runtime: EngineRuntime | None = None


def use_runtime(runtime: EngineRuntime | None) -> None:
    """Install a prepared runtime (tests, the local cloud) instead of one from the environment."""
    global _runtime
    _runtime = runtime


def current_runtime() -> EngineRuntime | None:
    """The runtime this environment built or was given (None before the first invocation)."""
    return _runtime


def _get_runtime(context: LambdaContext) -> EngineRuntime:
    global _runtime
    if _runtime is None:
        _runtime = EngineRuntime.from_settings(
            EngineSettings.from_env(), function_arn=context.invoked_function_arn
        )
    return _runtime


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Kinesis batch -> ``{"batchItemFailures": [...]}``; timer callback -> a status dict."""
    return _get_runtime(context).handle(event)
