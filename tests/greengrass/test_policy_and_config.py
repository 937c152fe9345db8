"""Topic matching, authorization rules, the config store and recipe variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wardlink.bus.topics import topic_matches as mqtt_matches
from wardlink.nucleus.authorization import (
    MQTT_PROXY,
    PUBSUB,
    SECRET_MANAGER,
    AccessControl,
    PolicyError,
)
from wardlink.nucleus.config_store import ConfigStore
from wardlink.nucleus.errors import (
    FailedUpdateConditionCheckError,
    InvalidArgumentsError,
    ResourceNotFoundError,
    UnauthorizedError,
)
from wardlink.nucleus.runner import local_command
from wardlink.nucleus.topics import policy_allows
from wardlink.packaging.recipe import (
    RecipeError,
    VariableContext,
    find_recipes,
    lifecycle_step,
    load_config_overrides,
)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "$SYS/x", False),
        ("+/x", "$aws/x", False),
        ("a/+/c", "a//c", True),
    ],
)
def test_mqtt_matching(topic_filter: str, topic: str, matches: bool) -> None:
    assert mqtt_matches(topic_filter, topic) is matches


@pytest.mark.parametrize(
    ("resource", "requested", "mqtt", "allowed"),
    [
        ("*", "anything/at/all", False, True),
        ("a/*/c", "a/b/x/c", False, True),
        ("a/${*}", "a/*", False, True),
        ("a/${*}", "a/b", False, False),
        ("a/#", "a/b", False, False),  # pubsub: MQTT wildcards are literal
        ("a/#", "a/#", False, True),
        ("a/#", "a/b/c", True, True),  # mqttproxy: MQTT wildcards in the resource
        ("a/#", "a/#", True, True),
        ("a/+", "a/b", True, True),
        ("a/+", "a/#", True, False),  # a/# could match a/b/c: not covered by a/+
        ("a/+/c", "a/+/c", True, True),
        ("a/b", "a/+", True, False),
    ],
)
def test_policy_resource_matching(resource: str, requested: str, mqtt: bool, allowed: bool) -> None:
    assert policy_allows(resource, requested, mqtt_wildcards=mqtt) is allowed


def _access(policies: dict[str, object]) -> AccessControl:
    return AccessControl.from_configurations({"com.x.A": {"accessControl": policies}})


def test_access_control_checks_service_operation_and_resource() -> None:
    access = _access(
        {
            MQTT_PROXY: {
                "com.x.A:mqtt:1": {
                    "operations": ["aws.greengrass#PublishToIoTCore"],
                    "resources": ["t/+"],
                }
            },
            PUBSUB: {"com.x.A:pubsub:1": {"operations": ["*"], "resources": ["local/x"]}},
        }
    )
    access.check("com.x.A", MQTT_PROXY, "aws.greengrass#PublishToIoTCore", "t/1")
    access.check("com.x.A", PUBSUB, "aws.greengrass#SubscribeToTopic", "local/x")
    denied = [
        ("com.x.A", MQTT_PROXY, "aws.greengrass#SubscribeToIoTCore", "t/1"),
        ("com.x.A", PUBSUB, "aws.greengrass#PublishToTopic", "t/1"),
        ("com.x.B", PUBSUB, "aws.greengrass#PublishToTopic", "local/x"),
        ("com.x.A", SECRET_MANAGER, "aws.greengrass#GetSecretValue", "arn:x"),
    ]
    for args in denied:
        with pytest.raises(UnauthorizedError):
            access.check(*args)


def test_malformed_or_duplicate_policies_stop_start_up() -> None:
    with pytest.raises(PolicyError, match="operations"):
        _access({PUBSUB: {"p": {"resources": ["x"]}}})
    with pytest.raises(PolicyError, match="unique"):
        AccessControl.from_configurations(
            {
                name: {
                    "accessControl": {
                        PUBSUB: {"same-id": {"operations": ["*"], "resources": ["*"]}}
                    }
                }
                for name in ("com.x.A", "com.x.B")
            }
        )


def test_config_store_semantics() -> None:
    clock = iter([100.0, 200.0])
    store = ConfigStore({"c": {"a": {"b": 1}, "list": [1, 2]}}, clock=lambda: next(clock))
    seen: list[tuple[str, tuple[str, ...]]] = []
    unsubscribe = store.subscribe("c", ("a",), lambda c, p: seen.append((c, p)))
    assert store.get("c", ["a", "b"]) == {"b": 1}
    assert store.get("c", []) == {"a": {"b": 1}, "list": [1, 2]}
    assert store.update("c", ["a"], {"b": 2, "new": {"deep": True}}) == [
        ("a", "b"),
        ("a", "new", "deep"),
    ]
    assert seen == [("c", ("a", "b")), ("c", ("a", "new", "deep"))]
    assert store.update("c", [], {"list": [3]}) == [("list",)]  # lists are replaced
    assert store.update("c", ["a"], {"b": 2}, timestamp=300.0) == []  # unchanged: no event
    with pytest.raises(FailedUpdateConditionCheckError):
        store.update("c", ["a"], {"x": 1}, timestamp=50.0)
    with pytest.raises(InvalidArgumentsError):
        store.update("c", [], {"accessControl": {}})
    with pytest.raises(ResourceNotFoundError):
        store.get("c", ["missing"])
    unsubscribe()
    store.update("c", ["a"], {"b": 5}, timestamp=400.0)
    assert len(seen) == 2


def test_recipe_variables() -> None:
    context = VariableContext(
        component="com.x.A",
        thing_name="gw-1",
        root_path=Path("/gg"),
        configurations={"com.x.A": {"m": {"n": 3}, "s": "x"}, "com.x.Dep": {"port": 1}},
        dependencies=("com.x.Dep",),
        versions={"com.x.A": "1.2.3"},
    )
    assert context.interpolate("t/{iot:thingName}/x") == "t/gw-1/x"
    assert context.interpolate("{configuration:/m}") == '{"n":3}'
    assert context.interpolate("{configuration:/m/n}") == "3"
    assert context.interpolate("{com.x.Dep:configuration:/port}") == "1"
    assert context.interpolate("{com.x.Other:work:path}") == "{com.x.Other:work:path}"
    assert context.interpolate("{com.x.Dep:work:path}") == "/gg/work/com.x.Dep"
    assert context.interpolate("{artifacts:path}") == "/gg/packages/artifacts/com.x.A/1.2.3"
    assert context.interpolate("{configuration:/absent}") == "{configuration:/absent}"
    assert context.interpolate(["{kernel:rootPath}", {"k": "{iot:thingName}"}]) == [
        "/gg",
        {"k": "gw-1"},
    ]


def test_config_overrides_accept_a_create_deployment_document(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    deployment.write_text(
        json.dumps(
            {
                "targetArn": "arn:aws:iot:us-east-1:111122223333:thing/gw",
                "components": {
                    "com.x.A": {
                        "componentVersion": "1.0.0",
                        "configurationUpdate": {"merge": json.dumps({"a": 1})},
                    }
                },
            }
        )
    )
    assert load_config_overrides(deployment) == {"com.x.A": {"a": 1}}
    simple = tmp_path / "simple.json"
    simple.write_text(json.dumps({"com.x.A": {"b": 2}}))
    assert load_config_overrides(simple) == {"com.x.A": {"b": 2}}
    simple.write_text(json.dumps({"com.x.A": 3}))
    with pytest.raises(RecipeError):
        load_config_overrides(simple)


def test_repository_recipes_load_with_gdk_placeholders_filled() -> None:
    recipes = find_recipes(Path(__file__).resolve().parents[2] / "recipes")
    assert set(recipes) == {
        "com.wardlink.DeviceProxy",
        "com.wardlink.GatewayUI",
        "com.wardlink.Uplink",
    }
    uplink = recipes["com.wardlink.Uplink"]
    assert uplink.version == "0.1.0"
    run = lifecycle_step(uplink.lifecycle("linux", "aarch64"), "Run")
    assert run is not None and not run.requires_privilege
    assert local_command(run.script)[-2:] == ["run", "uplink"]  # type: ignore[index]
    with pytest.raises(RecipeError, match="no manifest"):
        uplink.lifecycle("windows", "amd64")


def test_duplicate_recipes_are_refused(tmp_path: Path) -> None:
    text = (
        Path(__file__).resolve().parents[2] / "recipes/com.wardlink.Uplink/recipe.yaml"
    ).read_text()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "recipe.yaml").write_text(
            text.replace("{COMPONENT_VERSION}", "1.0.0").replace("{COMPONENT_AUTHOR}", "x")
        )
    with pytest.raises(RecipeError, match="defined twice"):
        find_recipes(tmp_path)


def test_emulator_directories_must_be_private(tmp_path: Path) -> None:
    from wardlink.nucleus.emulator import private_directory

    created = tmp_path / "gg" / "root"
    private_directory(created)
    assert created.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(RecipeError, match="other users can write"):
        private_directory(shared)
