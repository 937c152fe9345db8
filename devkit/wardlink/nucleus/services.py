"""The IPC operations the emulator serves, as JSON-in/JSON-out handlers.

Each handler validates the request as the nucleus would (InvalidArgumentsError
for a malformed one), authorizes it against the caller's accessControl
(UnauthorizedError), then does the work. Field names and encodings (base64
blobs, epoch-second timestamps) are those of the shapes in
``awsiot.greengrasscoreipc.model``. Operations not listed here are answered
with a ServiceError that names them (see ``rpc``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wardlink.nucleus.authorization import MQTT_PROXY, PUBSUB, SECRET_MANAGER, AccessControl
from wardlink.nucleus.config_store import ConfigStore, KeyPath
from wardlink.nucleus.errors import InvalidArgumentsError, ServiceError
from wardlink.nucleus.mqtt_bridge import InboundMessage, MqttBridge
from wardlink.nucleus.pubsub import RECEIVE_MODES, LocalMessage, LocalPubSub
from wardlink.nucleus.rpc import JsonObject, OperationSpec, Stream
from wardlink.nucleus.secret_store import SecretStore
from wardlink.nucleus.topics import TopicError, validate_topic

NS = "aws.greengrass#"
LIFECYCLE_STATES = ("RUNNING", "ERRORED")


@dataclass
class Nucleus:
    """Everything the handlers share."""

    access: AccessControl
    config: ConfigStore
    pubsub: LocalPubSub
    secrets: SecretStore
    bridge: MqttBridge | None
    record_state: Callable[[str, str], None]


# ------------------------------------------------------------------ helpers
def _string(request: JsonObject, field: str, *, required: bool = True) -> str | None:
    value = request.get(field)
    if value is None or value == "":
        if required:
            raise InvalidArgumentsError(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise InvalidArgumentsError(f"{field} must be a string")
    return value


def _blob(request: JsonObject, field: str) -> bytes | None:
    value = request.get(field)
    if value is None:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgumentsError(f"{field} must be base64") from exc


def _key_path(request: JsonObject) -> KeyPath:
    value = request.get("keyPath")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise InvalidArgumentsError("keyPath must be a list of non-empty strings")
    return tuple(value)


def _topic(value: str, *, filters: bool) -> str:
    try:
        validate_topic(value, allow_wildcards=filters)
    except TopicError as exc:
        raise InvalidArgumentsError(str(exc)) from exc
    return value


def _qos(request: JsonObject) -> int:
    qos = str(request.get("qos", "0"))
    if qos not in ("0", "1"):
        raise InvalidArgumentsError("qos must be AT_MOST_ONCE ('0') or AT_LEAST_ONCE ('1')")
    return int(qos)


def _user_properties(request: JsonObject) -> tuple[tuple[str, str], ...]:
    items = request.get("userProperties") or []
    if not isinstance(items, list):
        raise InvalidArgumentsError("userProperties must be a list")
    pairs = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidArgumentsError("each user property needs a key and a value")
        pairs.append((item["key"], str(item.get("value", ""))))
    return tuple(pairs)


def _require_bridge(nucleus: Nucleus) -> MqttBridge:
    if nucleus.bridge is None:
        raise ServiceError("the emulator has no MQTT broker to stand in for AWS IoT Core")
    return nucleus.bridge


def _mqtt_message(message: InboundMessage) -> JsonObject:
    body: JsonObject = {
        "topicName": message.topic,
        "payload": base64.b64encode(message.payload).decode(),
        "retain": message.retain,
    }
    if message.user_properties:
        body["userProperties"] = [{"key": k, "value": v} for k, v in message.user_properties]
    if message.message_expiry_interval_seconds is not None:
        body["messageExpiryIntervalSeconds"] = message.message_expiry_interval_seconds
    if message.correlation_data is not None:
        body["correlationData"] = base64.b64encode(message.correlation_data).decode()
    if message.response_topic:
        body["responseTopic"] = message.response_topic
    if message.payload_format is not None:
        body["payloadFormat"] = message.payload_format
    if message.content_type:
        body["contentType"] = message.content_type
    return body


def _subscription_message(message: LocalMessage) -> JsonObject:
    context = {"topic": message.topic}
    if message.binary is not None:
        return {
            "binaryMessage": {
                "message": base64.b64encode(message.binary).decode(),
                "context": context,
            }
        }
    return {"jsonMessage": {"message": message.json, "context": context}}


# ------------------------------------------------------------------ handlers
def build_operations(nucleus: Nucleus) -> dict[str, OperationSpec]:
    """The operation table for ``RpcServer``."""

    async def publish_to_iot_core(stream: Stream, request: JsonObject) -> JsonObject:
        topic = _topic(_string(request, "topicName") or "", filters=False)
        nucleus.access.check(stream.component, MQTT_PROXY, NS + "PublishToIoTCore", topic)
        qos = _qos(request)
        payload = _blob(request, "payload") or b""
        retain = request.get("retain", False)
        if not isinstance(retain, bool):
            raise InvalidArgumentsError("retain must be a boolean")
        expiry = request.get("messageExpiryIntervalSeconds")
        await _require_bridge(nucleus).publish(
            topic,
            payload,
            qos,
            retain=retain,
            user_properties=_user_properties(request),
            content_type=_string(request, "contentType", required=False),
            response_topic=_string(request, "responseTopic", required=False),
            correlation_data=_blob(request, "correlationData"),
            message_expiry_interval_seconds=int(expiry) if expiry is not None else None,
            payload_format=_string(request, "payloadFormat", required=False),
        )
        return {}

    async def subscribe_to_iot_core(stream: Stream, request: JsonObject) -> JsonObject:
        topic_filter = _topic(_string(request, "topicName") or "", filters=True)
        nucleus.access.check(stream.component, MQTT_PROXY, NS + "SubscribeToIoTCore", topic_filter)
        qos = _qos(request)

        def deliver(message: InboundMessage) -> None:
            stream.send_event_threadsafe(NS + "IoTCoreMessage", {"message": _mqtt_message(message)})

        unsubscribe = await _require_bridge(nucleus).subscribe(topic_filter, qos, deliver)
        stream.on_close(unsubscribe)
        return {}

    async def publish_to_topic(stream: Stream, request: JsonObject) -> JsonObject:
        topic = _topic(_string(request, "topic") or "", filters=False)
        nucleus.access.check(stream.component, PUBSUB, NS + "PublishToTopic", topic)
        body = request.get("publishMessage")
        if not isinstance(body, dict):
            raise InvalidArgumentsError("publishMessage is required")
        json_part, binary_part = body.get("jsonMessage"), body.get("binaryMessage")
        if (json_part is None) == (binary_part is None):
            raise InvalidArgumentsError(
                "publishMessage needs exactly one of jsonMessage and binaryMessage"
            )
        if json_part is not None:
            if not isinstance(json_part, dict) or "message" not in json_part:
                raise InvalidArgumentsError("jsonMessage.message is required")
            message = LocalMessage(topic, stream.component, json=json_part["message"])
        else:
            if not isinstance(binary_part, dict):
                raise InvalidArgumentsError("binaryMessage must be an object")
            message = LocalMessage(
                topic, stream.component, binary=_blob(binary_part, "message") or b""
            )
        nucleus.pubsub.publish(message)
        return {}

    async def subscribe_to_topic(stream: Stream, request: JsonObject) -> JsonObject:
        topic_filter = _topic(_string(request, "topic") or "", filters=True)
        mode = _string(request, "receiveMode", required=False)
        if mode is not None and mode not in RECEIVE_MODES:
            raise InvalidArgumentsError(f"receiveMode must be one of {', '.join(RECEIVE_MODES)}")
        nucleus.access.check(stream.component, PUBSUB, NS + "SubscribeToTopic", topic_filter)

        def deliver(message: LocalMessage) -> None:
            stream.send_event_threadsafe(
                NS + "SubscriptionResponseMessage", _subscription_message(message)
            )

        stream.on_close(nucleus.pubsub.subscribe(stream.component, topic_filter, mode, deliver))
        return {}

    async def get_configuration(stream: Stream, request: JsonObject) -> JsonObject:
        component = _string(request, "componentName", required=False) or stream.component
        value = nucleus.config.get(component, _key_path(request))
        return {"componentName": component, "value": value}

    async def update_configuration(stream: Stream, request: JsonObject) -> JsonObject:
        value = request.get("valueToMerge")
        if not isinstance(value, dict):
            raise InvalidArgumentsError("valueToMerge must be an object")
        timestamp = request.get("timestamp")
        if timestamp is not None and (
            isinstance(timestamp, bool) or not isinstance(timestamp, int | float)
        ):
            raise InvalidArgumentsError("timestamp must be epoch seconds")
        nucleus.config.update(stream.component, _key_path(request), value, timestamp)
        return {}

    async def subscribe_to_configuration_update(stream: Stream, request: JsonObject) -> JsonObject:
        component = _string(request, "componentName", required=False) or stream.component
        key_path = _key_path(request)

        def changed(name: str, path: KeyPath) -> None:
            stream.send_event_threadsafe(
                NS + "ConfigurationUpdateEvents",
                {"configurationUpdateEvent": {"componentName": name, "keyPath": list(path)}},
            )

        stream.on_close(nucleus.config.subscribe(component, key_path, changed))
        return {}

    async def update_state(stream: Stream, request: JsonObject) -> JsonObject:
        state = _string(request, "state")
        if state not in LIFECYCLE_STATES:
            raise InvalidArgumentsError(f"state must be one of {', '.join(LIFECYCLE_STATES)}")
        nucleus.record_state(stream.component, state)
        return {}

    async def get_secret_value(stream: Stream, request: JsonObject) -> JsonObject:
        secret_id = _string(request, "secretId") or ""
        arn = nucleus.secrets.arn_for(secret_id)
        nucleus.access.check(stream.component, SECRET_MANAGER, NS + "GetSecretValue", arn)
        version = nucleus.secrets.get(
            secret_id,
            _string(request, "versionId", required=False),
            _string(request, "versionStage", required=False),
        )
        value: dict[str, Any] = {}
        if version.secret_string is not None:
            value["secretString"] = version.secret_string
        if version.secret_binary is not None:
            value["secretBinary"] = base64.b64encode(version.secret_binary).decode()
        return {
            "secretId": version.arn,
            "versionId": version.version_id,
            "versionStage": list(version.stages),
            "secretValue": value,
        }

    specs = [
        OperationSpec(
            NS + "PublishToIoTCore", NS + "PublishToIoTCoreResponse", publish_to_iot_core
        ),
        OperationSpec(
            NS + "SubscribeToIoTCore",
            NS + "SubscribeToIoTCoreResponse",
            subscribe_to_iot_core,
            streaming=True,
        ),
        OperationSpec(NS + "PublishToTopic", NS + "PublishToTopicResponse", publish_to_topic),
        OperationSpec(
            NS + "SubscribeToTopic",
            NS + "SubscribeToTopicResponse",
            subscribe_to_topic,
            streaming=True,
        ),
        OperationSpec(NS + "GetConfiguration", NS + "GetConfigurationResponse", get_configuration),
        OperationSpec(
            NS + "UpdateConfiguration", NS + "UpdateConfigurationResponse", update_configuration
        ),
        OperationSpec(
            NS + "SubscribeToConfigurationUpdate",
            NS + "SubscribeToConfigurationUpdateResponse",
            subscribe_to_configuration_update,
            streaming=True,
        ),
        OperationSpec(NS + "UpdateState", NS + "UpdateStateResponse", update_state),
        OperationSpec(NS + "GetSecretValue", NS + "GetSecretValueResponse", get_secret_value),
    ]
    return {spec.name: spec for spec in specs}
