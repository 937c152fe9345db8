"""Lambda ``alarms``: triage for manufacturer support.

Routes (API Gateway REST, AWS_IAM auth; ``alarm_id`` is URL-encoded, ``#`` as %23),
all for support and operators only: a gateway caller is refused here as by IAM.

* ``GET /alarms?state=``: alarms in one state, or by default every state that
  needs attention (ACTIVE, LATCHED, ACKNOWLEDGED, SNOOZE_DISABLED), each joined
  with its device's metadata;
* ``GET /alarms/{alarm_id}``: one alarm with its device;
* ``POST /alarms/{alarm_id}/{action}``: ack | snooze | reset | disable | enable,
  with a ``note``; audited with who (the caller's IAM ARN), when and why;
* ``GET /alarms/{alarm_id}/history``: the audit trail, oldest first.

Which action is allowed in which state is the detectors engine's alarm state machine
(``wardlink.detectors.alarms``), reached through ``wardlink.cloudapi.alarm_states``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi import alarm_states
from wardlink.cloudapi.errors import NotFound
from wardlink.cloudapi.handlers.common import (
    build_resolver,
    caller_identity,
    current_caller,
    logger,
    path_id,
    tracer,
)
from wardlink.cloudapi.repositories import AlarmRepository, DeviceRepository
from wardlink.cloudapi.services import get_services
from wardlink.contract.models import (
    MAX_PAGE_SIZE,
    Alarm,
    AlarmAction,
    AlarmActionRequest,
    AlarmPage,
    AlarmState,
    AuditPage,
)

app = build_resolver()

ATTENTION_STATES = (
    AlarmState.ACTIVE,
    AlarmState.LATCHED,
    AlarmState.ACKNOWLEDGED,
    AlarmState.SNOOZE_DISABLED,
)
_ALARM_ID = r"[A-Za-z0-9_-]{1,128}#[A-Za-z0-9_-]{1,128}#[A-Za-z0-9:._/-]{1,256}"


def _alarms() -> AlarmRepository:
    services = get_services()
    settings = services.settings
    return AlarmRepository(
        services.dynamodb, settings.require("alarms_table"), settings.require("alarm_audit_table")
    )


def _with_devices(alarms: list[Alarm]) -> list[Alarm]:
    """Join alarms with their devices (one BatchGetItem); unknown devices stay empty."""
    uids = [a.device_uid for a in alarms if a.device_uid]
    if not uids:
        return alarms
    services = get_services()
    devices = DeviceRepository(
        services.dynamodb, services.settings.require("devices_table")
    ).get_many(uids)
    return [
        a.model_copy(update={"device": devices.get(a.device_uid)}) if a.device_uid else a
        for a in alarms
    ]


def _alarm_id(raw: str) -> str:
    return path_id(raw, _ALARM_ID, "alarm_id")


def _load(alarm_id: str) -> Alarm:
    alarm = _alarms().get(alarm_id)
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} does not exist")
    return alarm


@app.get("/alarms")
def list_alarms(
    state: Annotated[AlarmState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    next_token: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> AlarmPage:
    current_caller(app).require_support()
    states = (state,) if state else ATTENTION_STATES
    items, token = _alarms().list_by_state(states, limit, next_token)
    return AlarmPage(items=_with_devices(items), next_token=token)


@app.get("/alarms/<alarm_id>")
def get_alarm(alarm_id: str) -> Alarm:
    current_caller(app).require_support()
    return _with_devices([_load(_alarm_id(alarm_id))])[0]


@app.get("/alarms/<alarm_id>/history")
def alarm_history(
    alarm_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    next_token: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> AuditPage:
    current_caller(app).require_support()
    uid = _alarm_id(alarm_id)
    _load(uid)
    items, token = _alarms().history(uid, limit, next_token)
    return AuditPage(items=items, next_token=token)


@app.post("/alarms/<alarm_id>/<action>")
def act_on_alarm(alarm_id: str, action: AlarmAction, request: AlarmActionRequest) -> Alarm:
    current_caller(app).require_support()
    uid = _alarm_id(alarm_id)
    repository = _alarms()
    row = repository.get_row(uid)
    if row is None:
        raise NotFound(f"alarm {uid} does not exist")
    who = caller_identity(app)
    transition = alarm_states.apply_action(
        row, action, who=who, why=request.note, at_ms=int(time.time() * 1000),
        snooze_seconds=request.snooze_seconds,
    )  # fmt: skip
    repository.apply(
        row, transition.fields, transition.removed, request.note, transition.audit_item
    )
    logger.info(
        "alarm action",
        extra={
            "alarm_id": uid,
            "action": action.value,
            "from": row.get("state"),
            "to": transition.to_state,
            "who": who,
        },
    )
    return _with_devices([_load(uid)])[0]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
