"""CI gate for every recipe and gdk-config.json in the repository.

Two independent checks: a JSON Schema for gdk-config.json written here from
GDK's documented configuration (validated with jsonschema), and the
hand-written rules in ``wardlink.packaging.recipe_rules`` that the build and
``wardlink components validate`` also use. On top of the generic Greengrass
rules, the Wardlink recipes must keep their least-privilege shape: only the
Uplink reaches IoT Core, only under its own thing's topics; raw-PHI handling
stays in the DeviceProxy, which has no IoT Core permission at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from wardlink.cli.components import validation_problems
from wardlink.nucleus.emulator import effective_configurations
from wardlink.packaging.recipe import find_recipes
from wardlink.packaging.recipe_rules import (
    MAX_RECIPE_BYTES,
    SEMVER_RE,
    check_gdk_config,
    check_recipe,
)
from wardlink.runtime.config import config_from_document

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
PROJECTS = sorted(p for p in RECIPES.iterdir() if (p / "gdk-config.json").is_file())
COMPONENTS = {"com.wardlink.DeviceProxy", "com.wardlink.GatewayUI", "com.wardlink.Uplink"}

SEMVER = SEMVER_RE.pattern
GDK_CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["component", "gdk_version"],
    "additionalProperties": False,
    "properties": {
        "gdk_version": {"type": "string", "pattern": SEMVER},
        "test-e2e": {"type": "object"},
        "component": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": {"pattern": r"^[a-zA-Z0-9\-_.]+$"},
            "additionalProperties": {
                "type": "object",
                "required": ["author", "version", "build", "publish"],
                "properties": {
                    "author": {"type": "string", "minLength": 1},
                    "version": {
                        "type": "string",
                        "anyOf": [{"pattern": SEMVER}, {"const": "NEXT_PATCH"}],
                    },
                    "build": {
                        "type": "object",
                        "required": ["build_system"],
                        "properties": {
                            "build_system": {
                                "enum": ["zip", "maven", "gradle", "gradlew", "custom"]
                            },
                            "custom_build_command": {
                                "anyOf": [
                                    {"type": "string", "minLength": 1},
                                    {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"type": "string", "minLength": 1},
                                    },
                                ]
                            },
                            "options": {"type": "object"},
                        },
                        "if": {"properties": {"build_system": {"const": "custom"}}},
                        "then": {"required": ["custom_build_command"]},
                    },
                    "publish": {
                        "type": "object",
                        "required": ["bucket"],
                        "properties": {
                            "bucket": {"type": "string", "minLength": 1},
                            "region": {"type": "string"},
                            "options": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
}


def _gdk_configs() -> list[Path]:
    return [REPO / "gdk-config.json", *(p / "gdk-config.json" for p in PROJECTS)]


def _recipe(project: Path) -> dict[str, Any]:
    parsed = yaml.safe_load((project / "recipe.yaml").read_text())
    assert isinstance(parsed, dict)
    return parsed


def test_every_component_is_its_own_gdk_project() -> None:
    assert {p.name for p in PROJECTS} == COMPONENTS
    for project in PROJECTS:
        config = json.loads((project / "gdk-config.json").read_text())
        assert list(config["component"]) == [project.name]
        assert _recipe(project)["ComponentName"] == project.name


@pytest.mark.parametrize("path", _gdk_configs(), ids=lambda p: str(p.relative_to(REPO)))
def test_gdk_config_follows_the_documented_schema(path: Path) -> None:
    config = json.loads(path.read_text())
    jsonschema.Draft7Validator.check_schema(GDK_CONFIG_SCHEMA)
    jsonschema.validate(config, GDK_CONFIG_SCHEMA, cls=jsonschema.Draft7Validator)
    assert check_gdk_config(config) == []
    body = next(iter(config["component"].values()))
    # pinned versions only: NEXT_PATCH needs the cloud and breaks offline CI builds
    assert SEMVER_RE.match(body["version"])
    command = body["build"]["custom_build_command"]
    script = path.parent / command[1]
    assert command[0] == "python3" and script.is_file(), script


def test_top_level_project_builds_the_device_proxy() -> None:
    top = json.loads((REPO / "gdk-config.json").read_text())
    proxy = json.loads((RECIPES / "com.wardlink.DeviceProxy" / "gdk-config.json").read_text())
    top_body = top["component"]["com.wardlink.DeviceProxy"]
    proxy_body = proxy["component"]["com.wardlink.DeviceProxy"]
    for key in ("author", "version", "publish"):
        assert top_body[key] == proxy_body[key]
    link = REPO / "recipe.yaml"
    assert link.is_symlink()
    assert link.resolve() == (RECIPES / "com.wardlink.DeviceProxy" / "recipe.yaml").resolve()


def test_all_components_share_one_version() -> None:
    versions = {
        next(iter(json.loads(p.read_text())["component"].values()))["version"]
        for p in _gdk_configs()
    }
    assert len(versions) == 1, "the components ship the same wheel; release them together"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_recipe_follows_greengrass_rules(project: Path) -> None:
    path = project / "recipe.yaml"
    assert path.stat().st_size <= MAX_RECIPE_BYTES
    recipe = _recipe(project)
    assert check_recipe(recipe, source=True) == []
    assert recipe["RecipeFormatVersion"] == "2020-01-25"
    assert recipe["ComponentVersion"] == "{COMPONENT_VERSION}"
    platforms = {(m["Platform"]["os"], m["Platform"]["architecture"]) for m in recipe["Manifests"]}
    assert platforms == {("linux", "amd64"), ("linux", "aarch64")}
    for manifest in recipe["Manifests"]:
        [artifact] = manifest["Artifacts"]
        arch = {"amd64": "x86_64", "aarch64": "aarch64"}[manifest["Platform"]["architecture"]]
        assert artifact["URI"] == (
            f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/wardlink-gateway-linux-{arch}.zip"
        )
        assert artifact["Unarchive"] == "ZIP"
    lifecycle = recipe["Lifecycle"]
    assert set(lifecycle) <= {"Setenv", "Install", "Run", "Shutdown", "Recover"}
    for step in ("Install", "Run"):
        assert lifecycle[step]["RequiresPrivilege"] is False
    assert '/install.sh" "{work:path}/venv"' in lifecycle["Install"]["Script"]
    assert "pip install" not in lifecycle["Install"]["Script"]
    assert "{configuration:" not in lifecycle["Install"]["Script"]
    deps = recipe["ComponentDependencies"]
    assert deps["aws.greengrass.Nucleus"]["DependencyType"] == "SOFT"


def _policies(recipe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policies: dict[str, dict[str, Any]] = recipe["ComponentConfiguration"]["DefaultConfiguration"][
        "accessControl"
    ]
    return policies


def test_least_privilege_and_the_phi_split() -> None:
    recipes = {p.name: _recipe(p) for p in PROJECTS}
    for name, recipe in recipes.items():
        for service, policies in _policies(recipe).items():
            for policy_id, policy in policies.items():
                assert policy_id.startswith(f"{name}:"), policy_id
                assert "*" not in policy["operations"], policy_id
                assert "*" not in policy["resources"], policy_id
                assert policy["policyDescription"], policy_id
                if service == "aws.greengrass.ipc.pubsub":
                    assert all(r.startswith("wardlink/local/") for r in policy["resources"])
    # only the Uplink reaches IoT Core, only to publish, only under its own thing
    mqtt = {n for n, r in recipes.items() if "aws.greengrass.ipc.mqttproxy" in _policies(r)}
    assert mqtt == {"com.wardlink.Uplink"}
    [uplink_policy] = _policies(recipes["com.wardlink.Uplink"])[
        "aws.greengrass.ipc.mqttproxy"
    ].values()
    assert uplink_policy["operations"] == ["aws.greengrass#PublishToIoTCore"]
    assert {r.rsplit("/", 1)[1] for r in uplink_policy["resources"]} == {
        "telemetry",
        "status",
        "alert",
        "health",
        "audit",
    }
    assert all(r.startswith("wardlink/v1/{iot:thingName}/") for r in uplink_policy["resources"])
    # the pseudonym keys are readable by the proxy only; the UI command key by the proxy and the UI
    secrets = {n for n, r in recipes.items() if "aws.greengrass.SecretManager" in _policies(r)}
    assert secrets == {"com.wardlink.DeviceProxy", "com.wardlink.GatewayUI"}
    readable = {
        name: {
            resource
            for policy in _policies(recipes[name])["aws.greengrass.SecretManager"].values()
            for resource in policy["resources"]
        }
        for name in secrets
    }
    command_key = "arn:aws:secretsmanager:*:*:secret:wardlink-ui-command-key-*"
    assert readable["com.wardlink.GatewayUI"] == {command_key}
    assert command_key in readable["com.wardlink.DeviceProxy"]
    assert all(
        r.startswith("arn:aws:secretsmanager:") for r in readable["com.wardlink.DeviceProxy"]
    )
    # the UI reads the local feeds, sends commands and audit copies: no IoT Core, no other topic
    ui = _policies(recipes["com.wardlink.GatewayUI"])["aws.greengrass.ipc.pubsub"]
    granted = {(op, r) for p in ui.values() for op in p["operations"] for r in p["resources"]}
    assert granted == {
        ("aws.greengrass#SubscribeToTopic", "wardlink/local/devices"),
        ("aws.greengrass#SubscribeToTopic", "wardlink/local/telemetry"),
        ("aws.greengrass#SubscribeToTopic", "wardlink/local/site"),
        ("aws.greengrass#SubscribeToTopic", "wardlink/local/site-devices"),
        ("aws.greengrass#SubscribeToTopic", "wardlink/local/commands/results"),
        ("aws.greengrass#PublishToTopic", "wardlink/local/commands"),
        ("aws.greengrass#PublishToTopic", "wardlink/local/audit"),
    }
    # DeviceProxy depends on the Uplink softly (it keeps reading devices while the Uplink restarts)
    dep = recipes["com.wardlink.DeviceProxy"]["ComponentDependencies"]["com.wardlink.Uplink"]
    assert dep["DependencyType"] == "SOFT"
    assert "com.wardlink.DeviceProxy" not in recipes["com.wardlink.Uplink"].get(
        "ComponentDependencies", {}
    )


def test_default_configuration_is_what_the_runtime_accepts(tmp_path: Path) -> None:
    recipes = find_recipes(RECIPES)
    configs = effective_configurations(recipes, {}, "gw-test", tmp_path)
    proxy = config_from_document(configs["com.wardlink.DeviceProxy"])
    uplink = config_from_document(configs["com.wardlink.Uplink"])
    # the two components open the same spool file
    assert proxy.spool.path == uplink.spool.path
    assert str(proxy.spool.path).startswith(str(tmp_path / "work" / "com.wardlink.Uplink"))
    assert proxy.spool.max_bytes == uplink.spool.max_bytes
    # the UI keeps its accounts in its own work directory and asks for the proxy's command key
    ui = config_from_document(configs["com.wardlink.GatewayUI"]).ui
    assert ui.state_dir == tmp_path / "work" / "com.wardlink.GatewayUI" / "ui"
    assert ui.host == "127.0.0.1"
    assert ui.command_key_secret == proxy.ui.command_key_secret


def test_wardlink_components_validate_passes() -> None:
    report = validation_problems(RECIPES)
    assert report and all(problems == [] for problems in report.values()), report


# ------------------------------------------------------------------ the checks bite
def _good_recipe() -> dict[str, Any]:
    return _recipe(RECIPES / "com.wardlink.Uplink")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r.update(RecipeFormatVersion="2021-01-01"), "RecipeFormatVersion"),
        (lambda r: r.update(Surprise=1), "unknown top-level key"),
        (lambda r: r.update(ComponentName="bad name!"), "ComponentName"),
        (lambda r: r.update(ComponentVersion="1.0"), "ComponentVersion"),
        (lambda r: r["Lifecycle"].update(Startup="x"), "Startup or Run"),
        (lambda r: r["Lifecycle"].update(Launch="x"), "unknown lifecycle key"),
        (lambda r: r["Lifecycle"]["Run"].update(RequiresPrivilege="maybe"), "RequiresPrivilege"),
        (lambda r: r["Manifests"][0].update(Platform="linux"), "Platform"),
        (lambda r: r["Manifests"][0]["Artifacts"][0].update(Unarchive="TAR"), "Unarchive"),
        (
            lambda r: r["ComponentDependencies"]["aws.greengrass.Nucleus"].update(
                DependencyType="WEAK"
            ),
            "DependencyType",
        ),
        (
            lambda r: r["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"][
                "aws.greengrass.ipc.pubsub"
            ]["com.wardlink.Uplink:pubsub:1"].update(resources=[]),
            "resources",
        ),
    ],
)
def test_recipe_rules_catch_violations(mutate: Any, expected: str) -> None:
    recipe = _good_recipe()
    mutate(recipe)
    problems = check_recipe(recipe, source=True)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.pop("gdk_version"),
        lambda c: c["component"].update({"com.example.Second": {}}),
        lambda c: c["component"]["com.wardlink.Uplink"]["build"].update(build_system="make"),
        lambda c: c["component"]["com.wardlink.Uplink"]["build"].pop("custom_build_command"),
        lambda c: c["component"]["com.wardlink.Uplink"]["publish"].pop("bucket"),
        lambda c: c["component"]["com.wardlink.Uplink"].update(version="latest"),
    ],
)
def test_gdk_config_checks_catch_violations(mutate: Any) -> None:
    config = json.loads((RECIPES / "com.wardlink.Uplink" / "gdk-config.json").read_text())
    mutate(config)
    assert check_gdk_config(config)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, GDK_CONFIG_SCHEMA, cls=jsonschema.Draft7Validator)


def test_oversized_recipe_is_reported(tmp_path: Path) -> None:
    project = tmp_path / "com.wardlink.Uplink"
    project.mkdir()
    (project / "gdk-config.json").write_text(
        (RECIPES / "com.wardlink.Uplink" / "gdk-config.json").read_text()
    )
    text = (RECIPES / "com.wardlink.Uplink" / "recipe.yaml").read_text()
    (project / "recipe.yaml").write_text(text + "#" + "x" * MAX_RECIPE_BYTES + os.linesep)
    report = validation_problems(tmp_path, repo_root=REPO)
    assert any("limited to 16000" in p for p in report[str(project / "recipe.yaml")])
