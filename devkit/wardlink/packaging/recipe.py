"""Loading recipes and resolving recipe variables, as the nucleus would.

The emulator and ``wardlink gg run`` need three things from a recipe: the
effective configuration (DefaultConfiguration merged with deployment
overrides, with recipe variables such as ``{iot:thingName}`` resolved), the
lifecycle for this platform, and the dependency list. GDK placeholders
(``{COMPONENT_VERSION}``...) in source recipes are filled from the
``gdk-config.json`` next to the recipe, so ``recipes/`` works unbuilt.

Variables follow the recipe reference: ``{iot:thingName}``,
``{kernel:rootPath}``, ``[component:]configuration:/json/pointer``,
``[component:]artifacts:path``, ``[component:]artifacts:decompressedPath`` and
``[component:]work:path``, where a named component must be this one or a
direct dependency. A variable that cannot be resolved is left as written, as
the nucleus does. Unlike a real nucleus, the emulator always interpolates
configuration (as with ``interpolateComponentConfiguration: true``).
"""

from __future__ import annotations

import copy
import json
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wardlink.packaging.component_build import BUILD_DIR, GDK_CONFIG
from wardlink.packaging.recipe_rules import RECIPE_FORMAT_VERSION, check_recipe

LIFECYCLE_STEP_NAMES = ("Bootstrap", "Install", "Startup", "Run", "Shutdown", "Recover")
_VARIABLE_RE = re.compile(
    r"\{(?:(?P<component>[A-Za-z0-9._-]+):)?"
    r"(?P<namespace>iot|kernel|configuration|artifacts|work):(?P<key>[^{}]*)\}"
)


class RecipeError(Exception):
    """A recipe or configuration file the emulator cannot use."""


def _lower(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in mapping.items()}


@dataclass(frozen=True)
class LifecycleStep:
    script: str
    requires_privilege: bool = False
    setenv: dict[str, str] = field(default_factory=dict)
    timeout: int | None = None


@dataclass(frozen=True)
class Recipe:
    """The parts of a recipe the emulator uses (keys are matched case-insensitively)."""

    path: Path
    name: str
    version: str
    default_configuration: dict[str, Any]
    dependencies: dict[str, dict[str, Any]]
    raw: dict[str, Any]

    def lifecycle(self, system: str | None = None, machine: str | None = None) -> dict[str, Any]:
        """The lifecycle that applies on this platform (manifest first, then global)."""
        manifest = select_manifest(self.raw, system, machine)
        mkeys = _lower(manifest)
        if "lifecycle" in mkeys and isinstance(mkeys["lifecycle"], Mapping):
            return dict(mkeys["lifecycle"])
        global_lifecycle = _lower(self.raw).get("lifecycle") or {}
        if not isinstance(global_lifecycle, Mapping):
            return {}
        selections = mkeys.get("selections") or ["all"]
        if isinstance(selections, str):
            selections = [selections]
        return _apply_selections(dict(global_lifecycle), [str(s) for s in selections])


def current_platform() -> tuple[str, str]:
    """(os, architecture) with Greengrass's names for them."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "aarch64",
        "arm64": "aarch64",
        "armv7l": "arm",
        "armv6l": "arm",
        "i386": "x86",
        "i686": "x86",
    }.get(machine, machine)
    return system, arch


def _platform_value_matches(wanted: str, actual: str) -> bool:
    if wanted == "*":
        return True
    if len(wanted) > 1 and wanted.startswith("/") and wanted.endswith("/"):
        return re.fullmatch(wanted[1:-1], actual) is not None
    return wanted == actual


def select_manifest(
    raw: Mapping[str, Any], system: str | None = None, machine: str | None = None
) -> Mapping[str, Any]:
    """The first manifest whose Platform matches, as the nucleus picks it."""
    os_name, arch = current_platform()
    attributes = {"os": system or os_name, "architecture": machine or arch}
    for manifest in _lower(raw).get("manifests") or []:
        if not isinstance(manifest, Mapping):
            continue
        wanted = _lower(manifest).get("platform") or {}
        if all(
            _platform_value_matches(str(value), attributes.get(str(key).lower(), ""))
            for key, value in wanted.items()
        ):
            return manifest
    raise RecipeError(f"no manifest matches platform {attributes}")


def _apply_selections(lifecycle: dict[str, Any], selections: list[str]) -> dict[str, Any]:
    """Resolve global-lifecycle selection keys (lower-case keys) for a manifest."""
    step_keys = {name.lower() for name in (*LIFECYCLE_STEP_NAMES, "Setenv")}

    def choose(node: Any) -> Any:
        if not isinstance(node, Mapping):
            return node
        keys = list(node)
        if keys and all(str(k).lower() not in step_keys and str(k).islower() for k in keys):
            for selection in [*selections, "all"]:
                if selection in node:
                    return choose(node[selection])
            return None
        return {k: choose(v) for k, v in node.items()}

    chosen = choose(lifecycle)
    return dict(chosen) if isinstance(chosen, Mapping) else {}


def lifecycle_step(lifecycle: Mapping[str, Any], name: str) -> LifecycleStep | None:
    """One step of a lifecycle, normalised (string steps become scripts)."""
    for key, value in lifecycle.items():
        if str(key).lower() != name.lower() or value is None:
            continue
        if isinstance(value, str):
            return LifecycleStep(script=value)
        if isinstance(value, Mapping):
            keys = _lower(value)
            timeout = keys.get("timeout")
            return LifecycleStep(
                script=str(keys.get("script", "")),
                requires_privilege=str(keys.get("requiresprivilege", False)).lower() == "true",
                setenv={str(k): _scalar(v) for k, v in (keys.get("setenv") or {}).items()},
                timeout=int(timeout) if timeout is not None else None,
            )
    return None


def lifecycle_setenv(lifecycle: Mapping[str, Any]) -> dict[str, str]:
    for key, value in lifecycle.items():
        if str(key).lower() == "setenv" and isinstance(value, Mapping):
            return {str(k): _scalar(v) for k, v in value.items()}
    return {}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _gdk_values(recipe_path: Path) -> dict[str, str]:
    config_path = recipe_path.parent / GDK_CONFIG
    if not config_path.is_file():
        return {}
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        name, body = next(iter(config["component"].items()))
        return {
            "{COMPONENT_NAME}": str(name),
            "{COMPONENT_VERSION}": str(body.get("version", "")),
            "{COMPONENT_AUTHOR}": str(body.get("author", "")),
        }
    except (ValueError, KeyError, StopIteration, AttributeError) as exc:
        raise RecipeError(f"{config_path} is not a usable GDK config: {exc}") from exc


def load_recipe(path: Path) -> Recipe:
    """Parse one recipe file (YAML or JSON) and check its structure."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"cannot read {path}: {exc}") from exc
    for placeholder, value in _gdk_values(path).items():
        if value:
            text = text.replace(placeholder, value)
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise RecipeError(f"{path} is not valid {path.suffix.lstrip('.').upper()}: {exc}") from exc
    problems = check_recipe(raw, source=True)
    if problems:
        raise RecipeError(f"{path}: " + "; ".join(problems))
    keys = _lower(raw)
    configuration = _lower(keys.get("componentconfiguration") or {})
    default = configuration.get("defaultconfiguration") or {}
    dependencies = {
        str(name): _lower(dep) for name, dep in (keys.get("componentdependencies") or {}).items()
    }
    return Recipe(
        path=path,
        name=str(keys["componentname"]),
        version=str(keys["componentversion"]),
        default_configuration=copy.deepcopy(dict(default)),
        dependencies=dependencies,
        raw=raw,
    )


def _looks_like_recipe(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml", ".json") or path.name == GDK_CONFIG:
        return False
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return "RecipeFormatVersion" in head and RECIPE_FORMAT_VERSION in head


def find_recipes(directory: Path) -> dict[str, Recipe]:
    """Every recipe under ``directory`` by component name.

    ``greengrass-build`` folders inside the tree are skipped so that a built
    project does not shadow its source; point at a build folder to use it.
    """
    if not directory.is_dir():
        raise RecipeError(f"{directory} is not a directory")
    found: dict[str, Recipe] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if BUILD_DIR in relative.parts[:-1] or not path.is_file() or not _looks_like_recipe(path):
            continue
        recipe = load_recipe(path)
        if recipe.name in found:
            raise RecipeError(
                f"{recipe.name} is defined twice: {found[recipe.name].path} and {path}"
            )
        found[recipe.name] = recipe
    if not found:
        raise RecipeError(f"no component recipes under {directory}")
    return found


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Greengrass MERGE semantics: objects merge recursively, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config_overrides(path: Path) -> dict[str, dict[str, Any]]:
    """Per-component configuration to merge over recipe defaults.

    Accepts either ``{"com.example.C": {...merge...}}`` or a create-deployment
    document (``{"components": {"com.example.C": {"configurationUpdate":
    {"merge": "<json>"}}}}``), so the deployment JSON used for the cloud can be
    tried locally unchanged.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecipeError(f"cannot read configuration file {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise RecipeError(f"{path} must hold a JSON object")
    components = document.get("components")
    if isinstance(components, dict) and all(isinstance(v, dict) for v in components.values()):
        overrides: dict[str, dict[str, Any]] = {}
        for name, spec in components.items():
            update = spec.get("configurationUpdate") or {}
            merge = update.get("merge") or {}
            if isinstance(merge, str):
                try:
                    merge = json.loads(merge)
                except ValueError as exc:
                    raise RecipeError(f"{path}: merge of {name} is not JSON: {exc}") from exc
            if not isinstance(merge, dict):
                raise RecipeError(f"{path}: merge of {name} must be a JSON object")
            overrides[name] = merge
        return overrides
    for name, value in document.items():
        if not isinstance(value, dict):
            raise RecipeError(f"{path}: configuration of {name} must be a JSON object")
    return document


def json_pointer(document: Any, pointer: str) -> tuple[bool, Any]:
    """Resolve an RFC 6901 pointer; returns (found, value)."""
    if pointer == "":
        return True, document
    if not pointer.startswith("/"):
        return False, None
    node = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False, None
    return True, node


@dataclass
class VariableContext:
    """What recipe variables resolve against, for one component."""

    component: str
    thing_name: str
    root_path: Path
    configurations: Mapping[str, Any]
    dependencies: Iterable[str] = ()
    versions: Mapping[str, str] = field(default_factory=dict)

    def artifacts_path(self, component: str) -> Path:
        version = self.versions.get(component, "0.0.0")
        return self.root_path / "packages" / "artifacts" / component / version

    def decompressed_path(self, component: str) -> Path:
        version = self.versions.get(component, "0.0.0")
        return self.root_path / "packages" / "artifacts-unarchived" / component / version

    def work_path(self, component: str) -> Path:
        return self.root_path / "work" / component

    def resolve(self, match: re.Match[str]) -> str:
        target = match.group("component") or self.component
        namespace, key = match.group("namespace"), match.group("key")
        allowed = target == self.component or target in set(self.dependencies)
        if namespace == "iot" and match.group("component") is None:
            return self.thing_name if key == "thingName" else match.group(0)
        if namespace == "kernel" and match.group("component") is None:
            return str(self.root_path) if key == "rootPath" else match.group(0)
        if not allowed:
            return match.group(0)
        if namespace == "configuration":
            found, value = json_pointer(self.configurations.get(target, {}), key)
            return _scalar(value) if found else match.group(0)
        if namespace == "artifacts" and key == "path":
            return str(self.artifacts_path(target))
        if namespace == "artifacts" and key == "decompressedPath":
            return str(self.decompressed_path(target))
        if namespace == "work" and key == "path":
            return str(self.work_path(target))
        return match.group(0)

    def interpolate(self, value: Any) -> Any:
        """Resolve variables in every string inside ``value``."""
        if isinstance(value, str):
            return _VARIABLE_RE.sub(self.resolve, value)
        if isinstance(value, Mapping):
            return {k: self.interpolate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v) for v in value]
        return value
