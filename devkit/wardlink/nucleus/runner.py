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
  component's work directory; any other script runs under ``sh -c``.
"""

from __future__ import annotations

import json
import re
import shlex
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from wardlink.nucleus.defaults import EMULATED_NUCLEUS_VERSION
from wardlink.nucleus.emulator import effective_configurations
from wardlink.packaging.recipe import (
    RecipeError,
    VariableContext,
    find_recipes,
    lifecycle_setenv,
    lifecycle_step,
    load_config_overrides,
)

_WARDLINK_CALL_RE = re.compile(
    r"""(?:^|[\s;&|(])(?:exec\s+)?["']?(?:[^\s"';&|]*/)?wardlink["']?[ \t]+(?P<args>[^\n;&|]*)"""
)


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
    match = _WARDLINK_CALL_RE.search(script)
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
    argv = local_command(script) or ["sh", "-c", script]
    return RunPlan(component, argv, env, work_dir)
