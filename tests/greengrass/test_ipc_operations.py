"""The real awsiot IPC client against the emulator, operation by operation.

Each operation is exercised authorized and unauthorized. "Not delivered" is
proven without sleeping: the refused message is followed by an allowed one on
the same path, and the allowed one must be the first to arrive.
"""

from __future__ import annotations

import time

import pytest
from awsiot.eventstreamrpc import AccessDeniedError
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    FailedUpdateConditionCheckError,
    InvalidArgumentsError,
    JsonMessage,
    PublishMessage,
    ReceiveMode,
    ResourceNotFoundError,
    ServiceError,
    UnauthorizedError,
)

from tests.greengrass.support import BrokerPeer, Events, RunningEmulator, result

TESTER = "com.example.Tester"
PEER = "com.example.Peer"
THING = "wardlink-dev-gateway"


def test_unknown_svcuid_is_refused_at_connect(emulator: RunningEmulator) -> None:
    with pytest.raises(AccessDeniedError):
        emulator.client(TESTER, token="not-a-token")
    # the emulator keeps serving after a refused connection
    client = emulator.client(TESTER)
    assert result(client.get_configuration_async(key_path=["greeting"])).value == {
        "greeting": "hello"
    }


# ------------------------------------------------------------------ IoT Core
def test_publish_to_iot_core_reaches_the_broker(
    emulator: RunningEmulator, peer: BrokerPeer
) -> None:
    peer.subscribe("#")
    client = emulator.client(TESTER)
    result(
        client.publish_to_iot_core_async(topic_name=f"devices/{THING}/out", qos="1", payload=b"hi")
    )
    assert peer.next_message() == (f"devices/{THING}/out", b"hi")
    # a '+' in the policy resource is an MQTT wildcard for mqttproxy
    result(client.publish_to_iot_core_async(topic_name="fleet/7/status", qos="0", payload=b"s"))
    assert peer.next_message() == ("fleet/7/status", b"s")


def test_publish_to_iot_core_outside_policy_is_unauthorized(
    emulator: RunningEmulator, peer: BrokerPeer
) -> None:
    peer.subscribe("#")
    client = emulator.client(TESTER)
    for topic in (f"devices/other-{THING}/out", "fleet/7/status/extra", "devices"):
        with pytest.raises(UnauthorizedError) as refused:
            result(client.publish_to_iot_core_async(topic_name=topic, qos="1", payload=b"x"))
        assert "PublishToIoTCore" in (refused.value.message or "")
    result(
        client.publish_to_iot_core_async(topic_name=f"devices/{THING}/out", qos="1", payload=b"ok")
    )
    assert peer.next_message() == (f"devices/{THING}/out", b"ok")


def test_a_component_without_mqttproxy_policy_cannot_publish(emulator: RunningEmulator) -> None:
    client = emulator.client(PEER)
    with pytest.raises(UnauthorizedError):
        result(
            client.publish_to_iot_core_async(
                topic_name=f"devices/{THING}/out", qos="1", payload=b"x"
            )
        )


def test_subscribe_to_iot_core_delivers_broker_messages(
    emulator: RunningEmulator, peer: BrokerPeer
) -> None:
    client = emulator.client(TESTER)
    events = Events()
    _, operation = client.subscribe_to_iot_core_async(
        topic_name=f"commands/{THING}/#", qos="1", on_stream_event=events
    )
    result(_)
    peer.publish(f"commands/{THING}/reboot", b'{"now":true}')
    event = events.get()
    assert event.message.topic_name == f"commands/{THING}/reboot"
    assert event.message.payload == b'{"now":true}'
    result(operation.close())


def test_subscribe_to_iot_core_outside_policy_is_unauthorized(emulator: RunningEmulator) -> None:
    client = emulator.client(TESTER)
    for topic_filter in ("commands/#", "commands/+/#", f"commands/{THING}-2/#"):
        response, _operation = client.subscribe_to_iot_core_async(topic_name=topic_filter, qos="1")
        with pytest.raises(UnauthorizedError):
            result(response)


def test_invalid_topic_is_an_argument_error(emulator: RunningEmulator) -> None:
    client = emulator.client(TESTER)
    with pytest.raises(InvalidArgumentsError):
        result(client.publish_to_iot_core_async(topic_name="fleet/#", qos="1", payload=b"x"))
    with pytest.raises(InvalidArgumentsError):
        result(
            client.publish_to_iot_core_async(
                topic_name=f"devices/{THING}/out", qos="2", payload=b""
            )
        )


# ------------------------------------------------------------------ local pub/sub
def test_local_pubsub_json_and_binary(emulator: RunningEmulator) -> None:
    tester, peer = emulator.client(TESTER), emulator.client(PEER)
    events = Events()
    response, _ = tester.subscribe_to_topic_async(topic="local/chat", on_stream_event=events)
    result(response)
    result(
        peer.publish_to_topic_async(
            topic="local/chat",
            publish_message=PublishMessage(json_message=JsonMessage(message={"a": 1})),
        )
    )
    first = events.get()
    assert first.json_message.message == {"a": 1}
    assert first.json_message.context.topic == "local/chat"
    result(
        peer.publish_to_topic_async(
            topic="local/chat",
            publish_message=PublishMessage(binary_message=BinaryMessage(message=b"\x00\x01")),
        )
    )
    second = events.get()
    assert second.binary_message.message == b"\x00\x01"


def test_local_wildcards_and_receive_mode(emulator: RunningEmulator) -> None:
    tester, peer = emulator.client(TESTER), emulator.client(PEER)
    events = Events()
    # a wildcard filter defaults to RECEIVE_MESSAGES_FROM_OTHERS
    response, _ = tester.subscribe_to_topic_async(topic="local/sensors/+", on_stream_event=events)
    result(response)
    own = PublishMessage(json_message=JsonMessage(message={"own": True}))
    result(tester.publish_to_topic_async(topic="local/sensors/self", publish_message=own))
    other = PublishMessage(json_message=JsonMessage(message={"other": True}))
    result(peer.publish_to_topic_async(topic="local/sensors/temp", publish_message=other))
    event = events.get()
    assert event.json_message.message == {"other": True}
    assert event.json_message.context.topic == "local/sensors/temp"
    assert events.pending() == []

    mine = Events()
    response, _ = tester.subscribe_to_topic_async(
        topic="local/chat", receive_mode=ReceiveMode.RECEIVE_ALL_MESSAGES, on_stream_event=mine
    )
    result(response)
    result(tester.publish_to_topic_async(topic="local/chat", publish_message=own))
    assert mine.get().json_message.message == {"own": True}


def test_local_pubsub_outside_policy_is_unauthorized(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    message = PublishMessage(json_message=JsonMessage(message={}))
    with pytest.raises(UnauthorizedError):
        result(tester.publish_to_topic_async(topic="local/other", publish_message=message))
    for topic_filter in ("local/other", "local/#"):
        response, _ = tester.subscribe_to_topic_async(topic=topic_filter)
        with pytest.raises(UnauthorizedError):
            result(response)


def test_publish_to_topic_needs_exactly_one_message_kind(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    with pytest.raises(InvalidArgumentsError):
        result(tester.publish_to_topic_async(topic="local/chat", publish_message=PublishMessage()))


# ------------------------------------------------------------------ configuration
def test_get_configuration(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    whole = result(tester.get_configuration_async(key_path=[]))
    assert whole.component_name == TESTER
    assert whole.value["greeting"] == "hello"
    assert whole.value["thing"] == THING
    assert whole.value["peerPort"] == "8443"
    assert whole.value["workDir"].endswith("/work/com.example.Tester")
    policy = whole.value["accessControl"]["aws.greengrass.ipc.mqttproxy"]
    assert policy["com.example.Tester:mqttproxy:1"]["resources"][0] == f"devices/{THING}/out"
    assert result(tester.get_configuration_async(key_path=["nested", "port"])).value == {
        "port": 443
    }
    assert result(tester.get_configuration_async(key_path=["nested"])).value == {
        "port": 443,
        "tags": ["a", "b"],
    }
    # any component may read another's configuration, without a policy
    other = result(tester.get_configuration_async(component_name=PEER, key_path=["port"]))
    assert (other.component_name, other.value) == (PEER, {"port": 8443})


def test_get_configuration_missing_key_or_component(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    with pytest.raises(ResourceNotFoundError):
        result(tester.get_configuration_async(key_path=["nope"]))
    with pytest.raises(ResourceNotFoundError):
        result(tester.get_configuration_async(component_name="com.example.Ghost", key_path=[]))


def test_update_configuration_notifies_subscribers(emulator: RunningEmulator) -> None:
    tester, peer = emulator.client(TESTER), emulator.client(PEER)
    own_events, peer_events = Events(), Events()
    response, _ = tester.subscribe_to_configuration_update_async(
        key_path=["nested"], on_stream_event=own_events
    )
    result(response)
    response, _ = peer.subscribe_to_configuration_update_async(
        component_name=TESTER, key_path=[], on_stream_event=peer_events
    )
    result(response)
    now = time.time()
    result(
        tester.update_configuration_async(
            key_path=["nested"], value_to_merge={"port": 8883}, timestamp=_dt(now)
        )
    )
    event = own_events.get().configuration_update_event
    assert (event.component_name, event.key_path) == (TESTER, ["nested", "port"])
    assert peer_events.get().configuration_update_event.key_path == ["nested", "port"]
    assert result(tester.get_configuration_async(key_path=["nested"])).value == {
        "port": 8883,
        "tags": ["a", "b"],
    }
    with pytest.raises(FailedUpdateConditionCheckError):
        result(
            tester.update_configuration_async(
                key_path=["nested"], value_to_merge={"port": 1}, timestamp=_dt(now - 60)
            )
        )


def test_update_configuration_cannot_touch_access_control(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    with pytest.raises(InvalidArgumentsError):
        result(
            tester.update_configuration_async(
                key_path=[], value_to_merge={"accessControl": {}}, timestamp=_dt(time.time())
            )
        )


def _dt(seconds: float):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


# ------------------------------------------------------------------ lifecycle
def test_update_state_is_recorded(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    result(tester.update_state_async(state="RUNNING"))
    assert emulator.emulator.states[TESTER]["state"] == "RUNNING"
    with pytest.raises(InvalidArgumentsError):
        result(tester.update_state_async(state="DANCING"))


# ------------------------------------------------------------------ secrets
def test_get_secret_value(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    by_name = result(tester.get_secret_value_async(secret_id="allowed-key"))
    assert by_name.secret_value.secret_string == "current"
    assert by_name.secret_id.endswith(":secret:allowed-key-AbCdEf")
    assert "AWSCURRENT" in by_name.version_stage
    previous = result(
        tester.get_secret_value_async(secret_id=by_name.secret_id, version_stage="AWSPREVIOUS")
    )
    assert previous.secret_value.secret_string == "previous"
    binary = result(
        tester.get_secret_value_async(
            secret_id="arn:aws:secretsmanager:us-east-1:111122223333:secret:allowed-bin-XyZ123"
        )
    )
    assert binary.secret_value.secret_binary == b"\x00\xffkey"


def test_get_secret_value_unauthorized_or_missing(emulator: RunningEmulator) -> None:
    tester, peer = emulator.client(TESTER), emulator.client(PEER)
    with pytest.raises(UnauthorizedError):
        result(tester.get_secret_value_async(secret_id="forbidden-key"))
    with pytest.raises(UnauthorizedError):
        result(peer.get_secret_value_async(secret_id="allowed-key"))
    with pytest.raises(ResourceNotFoundError):
        result(
            tester.get_secret_value_async(
                secret_id="arn:aws:secretsmanager:us-east-1:111122223333:secret:allowed-gone-000000"
            )
        )


# ------------------------------------------------------------------ the rest
def test_unsupported_operation_is_a_service_error(emulator: RunningEmulator) -> None:
    tester = emulator.client(TESTER)
    with pytest.raises(ServiceError) as failure:
        result(tester.list_components_async())
    assert "UnsupportedOperation" in (failure.value.message or "")
    # the connection is still usable
    assert result(tester.get_configuration_async(key_path=["greeting"])).value == {
        "greeting": "hello"
    }
