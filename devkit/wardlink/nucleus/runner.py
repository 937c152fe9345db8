"""Start one component the way the nucleus would, against the emulator.

The nucleus runs a component's Run (or Startup) script with a fixed set of
environment variables; the IPC client in the component reads the socket path
and its SVCUID from them. ``plan_run`` computes that environment and the
command, so that ``wardlink gg run`` and the end-to-end tests start components
identically:

* the Greengrass variables: ``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT``,
  ``SVCUID``, ``AWS_IOT_THING_NAME``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``,
  ``GGC_VERSION``, ``GG_ROOT_CA_PATH``;
* the recipe's ``Lifecycle.Setenv`` and the step's own ``Setenv``, with recipe
  variables resolved against the emulator's root directory;
* the command: an explicit one if given, otherwise the recipe's Run script
  adapted for a developer machine. A script that launches the ``wardlink``
  console script from the component's venv runs the ``wardlink`` of the current
  interpreter instead (``python -m wardlink.cli.main <same arguments>``), in the
  component's work directory, unless that venv exists (``install_component`` made
  it): then the script runs as written, under ``sh -c``, like any other script.

``install_component`` does what the nucleus does before Run: places the built
artifacts under ``packages/artifacts``, unarchives the ``Unarchive: ZIP`` ones
under ``packages/artifacts-unarchived``, and runs the recipe's Install script.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from wardlink.nucleus.defaults import EMULATED_NUCLEUS_VERSION
from wardlink.nucleus.emulator import effective_configurations
from wardlink.packaging.recipe import (
    Recipe,
    RecipeError,
    VariableContext,
    find_recipes,
    lifecycle_setenv,
    lifecycle_step,
    load_config_overrides,
    select_manifest,
)
from wardlink.packaging.run_commands import WARDLINK_CALL_RE


@dataclass(frozen=True)
class RunPlan:
    component: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None


def default_root_ca() -> str | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def local_command(script: str) -> list[str] | None:
    """``python -m wardlink.cli.main ARGS`` for a script that runs ``wardlink ARGS``."""
    match = WARDLINK_CALL_RE.search(script)
    if match is None:
        return None
    return [sys.executable, "-m", "wardlink.cli.main", *shlex.split(match.group("args"))]


def plan_run(
    component: str,
    *,
    recipes_dir: Path,
    socket_path: Path,
    tokens_file: Path,
    root_dir: Path,
    thing_name: str,
    region: str = "us-east-1",
    root_ca: str | None = None,
    config_file: Path | None = None,
    command: list[str] | None = None,
) -> RunPlan:
    recipes = find_recipes(recipes_dir)
    recipe = recipes.get(component)
    if recipe is None:
        raise RecipeError(
            f"no recipe for {component} in {recipes_dir}; known: {', '.join(sorted(recipes))}"
        )
    try:
        tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecipeError(
            f"cannot read tokens from {tokens_file} (is the emulator running?): {exc}"
        ) from exc
    token = tokens.get(component) if isinstance(tokens, dict) else None
    if not isinstance(token, str):
        raise RecipeError(
            f"{tokens_file} has no SVCUID for {component}; restart the emulator with its recipe"
        )
    overrides = load_config_overrides(config_file) if config_file else {}
    configurations = effective_configurations(recipes, overrides, thing_name, root_dir)
    context = VariableContext(
        component=component,
        thing_name=thing_name,
        root_path=root_dir,
        configurations=configurations,
        dependencies=tuple(recipe.dependencies),
        versions={name: r.version for name, r in recipes.items()},
    )
    lifecycle = recipe.lifecycle()
    step = lifecycle_step(lifecycle, "Run") or lifecycle_step(lifecycle, "Startup")
    env = {k: str(context.interpolate(v)) for k, v in lifecycle_setenv(lifecycle).items()}
    if step is not None:
        env.update({k: str(context.interpolate(v)) for k, v in step.setenv.items()})
    env.update(
        {
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(socket_path.resolve()),
            "SVCUID": token,
            "AWS_IOT_THING_NAME": thing_name,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "GGC_VERSION": EMULATED_NUCLEUS_VERSION,
        }
    )
    ca = root_ca or default_root_ca()
    if ca:
        env["GG_ROOT_CA_PATH"] = ca
    if command:
        return RunPlan(component, list(command), env, None)
    if step is None or not step.script.strip():
        raise RecipeError(f"{component} has no Run or Startup step; pass a command after --")
    script = str(context.interpolate(step.script))
    work_dir = context.work_path(component)
    work_dir.mkdir(parents=True, exist_ok=True)
    installed = (work_dir / "venv" / "bin" / "wardlink").is_file()
    argv = (None if installed else local_command(script)) or ["sh", "-c", script]
    return RunPlan(component, argv, env, work_dir)


@dataclass(frozen=True)
class InstallResult:
    component: str
    returncode: int
    output: str


def _recipe_artifacts(recipe: Recipe) -> list[tuple[str, bool]]:
    """(file name, unarchive) of the artifacts of the manifest for this platform."""
    manifest = select_manifest(recipe.raw)
    found: list[tuple[str, bool]] = []
    for artifact in {str(k).lower(): v for k, v in manifest.items()}.get("artifacts") or []:
        keys = {str(k).lower(): v for k, v in artifact.items()}
        name = str(keys.get("uri", "")).rsplit("/", 1)[-1]
        found.append((name, str(keys.get("unarchive", "NONE")).upper() == "ZIP"))
    return found


def install_component(
    component: str,
    *,
    recipes_dir: Path,
    artifacts_dir: Path,
    root_dir: Path,
    thing_name: str,
    config_file: Path | None = None,
    wrapper: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> InstallResult:
    """Place and unarchive the component's artifacts, then run its Install script.

    ``artifacts_dir`` is a build's ``artifacts/<component>/<version>/`` directory.
    ``wrapper`` prefixes the shell (``["unshare", "-n"]`` installs with no network).
    """
    recipes = find_recipes(recipes_dir)
    recipe = recipes.get(component)
    if recipe is None:
        raise RecipeError(f"no recipe for {component} in {recipes_dir}")
    overrides = load_config_overrides(config_file) if config_file else {}
    configurations = effective_configurations(recipes, overrides, thing_name, root_dir)
    context = VariableContext(
        component=component,
        thing_name=thing_name,
        root_path=root_dir,
        configurations=configurations,
        dependencies=tuple(recipe.dependencies),
        versions={name: r.version for name, r in recipes.items()},
    )
    placed = context.artifacts_path(component)
    unpacked = context.decompressed_path(component)
    for name, unarchive in _recipe_artifacts(recipe):
        source = artifacts_dir / name
        if not source.is_file():
            raise RecipeError(f"{component}: artifact {name} is not in {artifacts_dir}")
        placed.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, placed / name)
        if unarchive:
            target = unpacked / Path(name).stem
            shutil.rmtree(target, ignore_errors=True)
            with zipfile.ZipFile(source) as archive:
                archive.extractall(target)
                for info in archive.infolist():
                    mode = (info.external_attr >> 16) & 0o777
                    if mode:
                        (target / info.filename).chmod(mode)
    context.work_path(component).mkdir(parents=True, exist_ok=True)
    step = lifecycle_step(recipe.lifecycle(), "Install")
    if step is None or not step.script.strip():
        return InstallResult(component, 0, "")
    script = str(context.interpolate(step.script))
    environment = dict(env if env is not None else os.environ)
    environment.update(
        {k: str(context.interpolate(v)) for k, v in lifecycle_setenv(recipe.lifecycle()).items()}
    )
    environment.update({k: str(context.interpolate(v)) for k, v in step.setenv.items()})
    # the recipe's own Install script, run as the nucleus runs it
    done = subprocess.run(  # noqa: S603
        [*(wrapper or []), "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=context.work_path(component),
        env=environment,
        timeout=step.timeout or timeout,
    )
    return InstallResult(component, done.returncode, done.stdout + done.stderr)
