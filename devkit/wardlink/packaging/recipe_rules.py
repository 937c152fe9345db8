"""Structural rules for component recipes and GDK project configs.

These are the constraints the Greengrass service and the GDK CLI enforce,
restated from the recipe reference and GDK's documented configuration so that a
bad recipe fails in CI and in ``wardlink components build`` instead of at
``CreateComponentVersion`` time. Each checker returns a list of human-readable
problems (empty means valid) rather than raising, so a report shows them all.

This module uses the standard library only: the GDK custom build runs
``component_build.py`` from a clean clone, where ``wardlink`` is not installed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

RECIPE_FORMAT_VERSION = "2020-01-25"
MAX_RECIPE_BYTES = 16_000  # GDK and the service reject larger recipes
COMPONENT_NAME_RE = re.compile(r"^[a-zA-Z0-9\-_.]+$")
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
GDK_PLACEHOLDERS = ("{COMPONENT_NAME}", "{COMPONENT_VERSION}", "{COMPONENT_AUTHOR}")

RECIPE_KEYS = {
    "recipeformatversion",
    "componentname",
    "componentversion",
    "componentdescription",
    "componentpublisher",
    "componentconfiguration",
    "componentdependencies",
    "componenttype",
    "componentsource",
    "manifests",
    "lifecycle",
}
MANIFEST_KEYS = {"name", "platform", "lifecycle", "selections", "artifacts"}
LIFECYCLE_STEPS = {"bootstrap", "install", "startup", "run", "shutdown", "recover"}
STEP_KEYS = {"script", "requiresprivilege", "skipif", "timeout", "setenv"}
ARTIFACT_KEYS = {"uri", "unarchive", "permission", "digest", "algorithm"}
PERMISSIONS = {"NONE", "OWNER", "ALL"}
COMPONENT_TYPES = {
    "aws.greengrass.generic",
    "aws.greengrass.lambda",
    "aws.greengrass.plugin",
    "aws.greengrass.nucleus",
}
POLICY_KEYS = {"policydescription", "operations", "resources", "resourcetype"}
SKIPIF_RE = re.compile(r"^(onpath|exists)\s+\S.*$")

BUILD_SYSTEMS = {"zip", "maven", "gradle", "gradlew", "custom"}
GDK_TOP_KEYS = {"component", "gdk_version", "test-e2e"}
GDK_COMPONENT_KEYS = {"author", "version", "build", "publish"}


def _lower_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in mapping.items()}


def is_component_version(value: object, *, allow_placeholder: bool) -> bool:
    if not isinstance(value, str) or len(value) > 64:
        return False
    if allow_placeholder and value == "{COMPONENT_VERSION}":
        return True
    return SEMVER_RE.match(value) is not None


def _check_step(where: str, step: object, problems: list[str], selections: bool = False) -> None:
    if isinstance(step, str):
        return
    if not isinstance(step, Mapping):
        problems.append(f"{where} must be a script string or an object")
        return
    keys = _lower_keys(step)
    for extra in sorted(set(keys) - STEP_KEYS):
        problems.append(f"{where} has unknown key {extra!r}")
    script = keys.get("script")
    by_selection = (
        selections
        and isinstance(script, Mapping)
        and all(isinstance(v, str) for v in script.values())
    )
    if not isinstance(script, str) and not by_selection:
        problems.append(f"{where}.Script is required and must be a string")
    privilege = keys.get("requiresprivilege", False)
    if not isinstance(privilege, bool) and str(privilege).lower() not in ("true", "false"):
        problems.append(f"{where}.RequiresPrivilege must be true or false")
    timeout = keys.get("timeout")
    if timeout is not None and not (
        (isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > 0)
        or (isinstance(timeout, str) and timeout.isdigit())
    ):
        problems.append(f"{where}.Timeout must be a positive number of seconds")
    skipif = keys.get("skipif")
    if skipif is not None and (not isinstance(skipif, str) or not SKIPIF_RE.match(skipif)):
        problems.append(f"{where}.Skipif must be 'onpath <runnable>' or 'exists <file>'")
    _check_setenv(f"{where}.Setenv", keys.get("setenv"), problems)


def _check_setenv(where: str, setenv: object, problems: list[str]) -> None:
    if setenv is None:
        return
    if not isinstance(setenv, Mapping):
        problems.append(f"{where} must be a map of variable names to values")
        return
    for name, value in setenv.items():
        if not isinstance(value, str | int | float | bool):
            problems.append(f"{where}.{name} must be a scalar")


def check_lifecycle(
    where: str, lifecycle: object, problems: list[str], selections: bool = False
) -> None:
    """Check a lifecycle whose keys are steps (``selections``: scripts may be per selection)."""
    if isinstance(lifecycle, str):
        return
    if not isinstance(lifecycle, Mapping):
        problems.append(f"{where} must be an object")
        return
    keys = _lower_keys(lifecycle)
    for key, value in keys.items():
        if key == "setenv":
            _check_setenv(f"{where}.Setenv", value, problems)
        elif key in LIFECYCLE_STEPS:
            _check_step(f"{where}.{key.capitalize()}", value, problems, selections)
        else:
            problems.append(f"{where} has unknown lifecycle key {key!r}")
    if "startup" in keys and "run" in keys:
        problems.append(f"{where} may define Startup or Run, not both")


def check_global_lifecycle(where: str, lifecycle: object, problems: list[str]) -> None:
    """Check the recipe-level lifecycle, which may be split by selection keys."""
    if not isinstance(lifecycle, Mapping):
        problems.append(f"{where} must be an object")
        return
    keys = _lower_keys(lifecycle)
    if set(keys) & (LIFECYCLE_STEPS | {"setenv"}):
        check_lifecycle(where, lifecycle, problems, selections=True)
        return
    for selection, section in lifecycle.items():
        check_global_lifecycle(f"{where}.{selection}", section, problems)


def _check_artifacts(where: str, artifacts: object, problems: list[str]) -> None:
    if not isinstance(artifacts, list):
        problems.append(f"{where} must be a list")
        return
    names: set[str] = set()
    for index, artifact in enumerate(artifacts):
        spot = f"{where}[{index}]"
        if not isinstance(artifact, Mapping):
            problems.append(f"{spot} must be an object")
            continue
        keys = _lower_keys(artifact)
        for extra in sorted(set(keys) - ARTIFACT_KEYS):
            problems.append(f"{spot} has unknown key {extra!r}")
        uri = keys.get("uri")
        if not isinstance(uri, str) or not uri:
            problems.append(f"{spot}.URI is required")
        else:
            name = uri.rsplit("/", 1)[-1]
            if name in names:
                problems.append(f"{spot}.URI file name {name!r} is not unique in the manifest")
            names.add(name)
        unarchive = keys.get("unarchive", "NONE")
        if str(unarchive).upper() not in ("NONE", "ZIP"):
            problems.append(f"{spot}.Unarchive must be NONE or ZIP")
        permission = keys.get("permission")
        if permission is not None:
            if not isinstance(permission, Mapping):
                problems.append(f"{spot}.Permission must be an object")
            else:
                for mode, value in _lower_keys(permission).items():
                    if mode not in ("read", "execute") or str(value).upper() not in PERMISSIONS:
                        problems.append(f"{spot}.Permission.{mode} must be NONE, OWNER or ALL")


def check_access_control(where: str, access: object, problems: list[str]) -> None:
    """Check an ``accessControl`` object: service -> policy id -> policy."""
    if not isinstance(access, Mapping):
        problems.append(f"{where} must be an object")
        return
    for service, policies in access.items():
        if not isinstance(policies, Mapping) or not policies:
            problems.append(f"{where}.{service} must map policy ids to policies")
            continue
        for policy_id, policy in policies.items():
            spot = f"{where}.{service}.{policy_id}"
            if not isinstance(policy, Mapping):
                problems.append(f"{spot} must be an object")
                continue
            keys = _lower_keys(policy)
            for extra in sorted(set(keys) - POLICY_KEYS):
                problems.append(f"{spot} has unknown key {extra!r}")
            for field in ("operations", "resources"):
                values = keys.get(field)
                if (
                    not isinstance(values, list)
                    or not values
                    or not all(isinstance(v, str) and v for v in values)
                ):
                    problems.append(f"{spot}.{field} must be a non-empty list of strings")


def check_recipe(recipe: object, *, source: bool = True) -> list[str]:
    """Problems with one parsed recipe. ``source`` allows GDK placeholders."""
    problems: list[str] = []
    if not isinstance(recipe, Mapping):
        return ["a recipe must be an object"]
    keys = _lower_keys(recipe)
    for extra in sorted(set(keys) - RECIPE_KEYS):
        problems.append(f"unknown top-level key {extra!r}")
    if keys.get("recipeformatversion") != RECIPE_FORMAT_VERSION:
        problems.append(f"RecipeFormatVersion must be '{RECIPE_FORMAT_VERSION}'")
    name = keys.get("componentname")
    if not isinstance(name, str) or not COMPONENT_NAME_RE.match(name) or len(name) > 128:
        problems.append("ComponentName must be 1-128 characters of [a-zA-Z0-9-_.]")
    elif name.startswith("aws.greengrass"):
        problems.append("ComponentName must not use the reserved aws.greengrass prefix")
    if not is_component_version(keys.get("componentversion"), allow_placeholder=source):
        problems.append("ComponentVersion must be a semantic version (major.minor.patch)")
    if not isinstance(keys.get("componentpublisher"), str) or not keys["componentpublisher"]:
        problems.append("ComponentPublisher is required")
    for optional in ("componentdescription",):
        if optional in keys and not isinstance(keys[optional], str):
            problems.append(f"{optional} must be a string")
    ctype = keys.get("componenttype")
    if ctype is not None and str(ctype) not in COMPONENT_TYPES:
        problems.append(f"ComponentType {ctype!r} is not a Greengrass component type")
    configuration = keys.get("componentconfiguration")
    if configuration is not None:
        if not isinstance(configuration, Mapping):
            problems.append("ComponentConfiguration must be an object")
        else:
            cfg = _lower_keys(configuration)
            for extra in sorted(set(cfg) - {"defaultconfiguration"}):
                problems.append(f"ComponentConfiguration has unknown key {extra!r}")
            default = cfg.get("defaultconfiguration", {})
            if not isinstance(default, Mapping):
                problems.append("DefaultConfiguration must be an object")
            elif "accessControl" in default:
                check_access_control(
                    "DefaultConfiguration.accessControl", default["accessControl"], problems
                )
    dependencies = keys.get("componentdependencies")
    if dependencies is not None:
        if not isinstance(dependencies, Mapping):
            problems.append("ComponentDependencies must be an object")
        else:
            for dep_name, dep in dependencies.items():
                spot = f"ComponentDependencies.{dep_name}"
                if not COMPONENT_NAME_RE.match(str(dep_name)):
                    problems.append(f"{spot} is not a valid component name")
                if not isinstance(dep, Mapping):
                    problems.append(f"{spot} must be an object")
                    continue
                dep_keys = _lower_keys(dep)
                if not isinstance(dep_keys.get("versionrequirement"), str):
                    problems.append(f"{spot}.VersionRequirement is required")
                kind = str(dep_keys.get("dependencytype", "HARD")).upper()
                if kind not in ("SOFT", "HARD"):
                    problems.append(f"{spot}.DependencyType must be SOFT or HARD")
    manifests = keys.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        problems.append("Manifests must be a non-empty list")
        manifests = []
    for index, manifest in enumerate(manifests):
        where = f"Manifests[{index}]"
        if not isinstance(manifest, Mapping):
            problems.append(f"{where} must be an object")
            continue
        mkeys = _lower_keys(manifest)
        for extra in sorted(set(mkeys) - MANIFEST_KEYS):
            problems.append(f"{where} has unknown key {extra!r}")
        platform = mkeys.get("platform")
        if platform is not None and (
            not isinstance(platform, Mapping)
            or not all(isinstance(v, str) for v in platform.values())
        ):
            problems.append(f"{where}.Platform must map attribute names to strings")
        if "lifecycle" in mkeys:
            check_lifecycle(f"{where}.Lifecycle", mkeys["lifecycle"], problems)
        if "artifacts" in mkeys:
            _check_artifacts(f"{where}.Artifacts", mkeys["artifacts"], problems)
    if "lifecycle" in keys:
        check_global_lifecycle("Lifecycle", keys["lifecycle"], problems)
    return problems


def _check_build(where: str, build: object, problems: list[str]) -> None:
    if not isinstance(build, Mapping):
        problems.append(f"{where} must be an object")
        return
    system = build.get("build_system")
    if system not in BUILD_SYSTEMS:
        problems.append(f"{where}.build_system must be one of {sorted(BUILD_SYSTEMS)}")
    command = build.get("custom_build_command")
    if system == "custom":
        valid = (isinstance(command, str) and command) or (
            isinstance(command, list)
            and command
            and all(isinstance(part, str) and part for part in command)
        )
        if not valid:
            problems.append(f"{where}.custom_build_command is required for the custom build system")
    elif command is not None:
        problems.append(f"{where}.custom_build_command only applies to build_system 'custom'")
    options = build.get("options")
    if options is not None:
        if not isinstance(options, Mapping):
            problems.append(f"{where}.options must be an object")
        elif system == "zip":
            excludes = options.get("excludes")
            if excludes is not None and (not isinstance(excludes, list) or not excludes):
                problems.append(f"{where}.options.excludes must be a non-empty list")
            if "zip_name" in options and not isinstance(options["zip_name"], str):
                problems.append(f"{where}.options.zip_name must be a string")


def check_gdk_config(config: object) -> list[str]:
    """Problems with one parsed ``gdk-config.json``."""
    problems: list[str] = []
    if not isinstance(config, Mapping):
        return ["gdk-config.json must be a JSON object"]
    for extra in sorted(set(config) - GDK_TOP_KEYS):
        problems.append(f"unknown top-level key {extra!r}")
    version = config.get("gdk_version")
    if not isinstance(version, str) or not SEMVER_RE.match(version):
        problems.append("gdk_version is required and must be a semantic version")
    component = config.get("component")
    if not isinstance(component, Mapping) or len(component) != 1:
        problems.append("component must hold exactly one component (GDK builds one per project)")
        return problems
    name, body = next(iter(component.items()))
    if not COMPONENT_NAME_RE.match(str(name)):
        problems.append(f"component name {name!r} is not valid")
    if not isinstance(body, Mapping):
        problems.append(f"component.{name} must be an object")
        return problems
    for missing in sorted(GDK_COMPONENT_KEYS - set(body)):
        problems.append(f"component.{name}.{missing} is required")
    if "author" in body and not isinstance(body["author"], str):
        problems.append(f"component.{name}.author must be a string")
    if "version" in body and not (
        body["version"] == "NEXT_PATCH"
        or is_component_version(body["version"], allow_placeholder=False)
    ):
        problems.append(f"component.{name}.version must be a semantic version or NEXT_PATCH")
    if "build" in body:
        _check_build(f"component.{name}.build", body["build"], problems)
    publish = body.get("publish")
    if publish is not None:
        if not isinstance(publish, Mapping):
            problems.append(f"component.{name}.publish must be an object")
        else:
            if not isinstance(publish.get("bucket"), str) or not publish.get("bucket"):
                problems.append(f"component.{name}.publish.bucket is required")
            if "region" in publish and not isinstance(publish["region"], str):
                problems.append(f"component.{name}.publish.region must be a string")
            if "options" in publish and not isinstance(publish["options"], Mapping):
                problems.append(f"component.{name}.publish.options must be an object")
    return problems
