"""Does a recipe's Run command exist in what its Install installs?

Greengrass reports a component whose Run command fails only after deployment, and
then rolls the whole deployment back: a recipe that runs ``wardlink run ui`` on a
gateway whose installed ``wardlink`` has no ``ui`` breaks every component shipped
with it. The gateway installs core and edge only, and the ``wardlink`` command is
assembled from the entry points those distributions declare. So the check builds
the command exactly from the ``wardlink.commands`` and ``wardlink.subcommands``
entry points in ``core/pyproject.toml`` and ``components/pyproject.toml`` (not
from whatever happens to be installed in the development environment) and parses
the Run command's arguments with it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import re
import shlex
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

# ``wardlink ARGS`` in a shell script, optionally with ``exec`` and a path prefix.
WARDLINK_CALL_RE = re.compile(
    r"""(?:^|[\s;&|(])(?:exec\s+)?["']?(?:[^\s"';&|]*/)?wardlink["']?[ \t]+(?P<args>[^\n;&|]*)"""
)
GATEWAY_SOURCES = ("core", "components")
VENV_COMMAND = "{work:path}/venv/bin/wardlink"
INSTALL_CALL = "install.sh"
# ``sh ".../wardlink-gateway-linux-$(uname -m)/install.sh" "{work:path}/venv"``
INSTALL_RE = re.compile(
    r"""(?m)^\s*sh\s+"?\{artifacts:decompressedPath\}/wardlink-gateway-linux-\$\(uname -m\)/"""
    r"""install\.sh"?\s+"?\{work:path\}/venv"?\s*$"""
)


def _entry_points(repo_root: Path, group: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for source in GATEWAY_SOURCES:
        with (repo_root / source / "pyproject.toml").open("rb") as handle:
            project = tomllib.load(handle).get("project", {})
        found.update(project.get("entry-points", {}).get(group, {}))
    return found


def _load(reference: str) -> Callable[[Any], Any]:
    module, _, attribute = reference.partition(":")
    return cast(Callable[[Any], Any], getattr(importlib.import_module(module), attribute))


def gateway_parser(repo_root: Path) -> argparse.ArgumentParser:
    """The ``wardlink`` parser a gateway install has: core and edge entry points only."""
    parser = argparse.ArgumentParser(prog="wardlink", exit_on_error=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    extensible: dict[str, Any] = {}
    for name, reference in sorted(_entry_points(repo_root, "wardlink.commands").items()):
        returned = _load(reference)(subparsers)
        if returned is not None:
            extensible[name] = returned
    for name, reference in sorted(_entry_points(repo_root, "wardlink.subcommands").items()):
        parent = name.split(".", 1)[0]
        if parent in extensible:
            _load(reference)(extensible[parent])
    return parser


def _step_script(lifecycle: object, step: str) -> str | None:
    if not isinstance(lifecycle, Mapping):
        return None
    for key, value in lifecycle.items():
        if str(key).lower() == step.lower():
            if isinstance(value, str):
                return value
            if isinstance(value, Mapping):
                script = {str(k).lower(): v for k, v in value.items()}.get("script")
                return script if isinstance(script, str) else None
    return None


def _scripts(recipe: Mapping[str, Any], step: str) -> list[str]:
    found = [_step_script(recipe.get("Lifecycle"), step)]
    for manifest in recipe.get("Manifests") or []:
        if isinstance(manifest, Mapping):
            found.append(_step_script(manifest.get("Lifecycle"), step))
    return [script for script in found if script]


def parse_failure(parser: argparse.ArgumentParser, arguments: list[str]) -> str | None:
    """Why ``arguments`` do not parse, or None when they do."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            namespace = parser.parse_args(arguments)
    except (argparse.ArgumentError, SystemExit) as exc:
        message = stderr.getvalue().strip().splitlines()
        return message[-1] if message else str(exc)
    if getattr(namespace, "func", None) is None:
        return "it names no command"
    return None


def check_run_provided(recipe: object, repo_root: Path) -> list[str]:
    """Problems when Install does not install the gateway or Run needs a command it lacks."""
    if not isinstance(recipe, Mapping):
        return []
    problems: list[str] = []
    installs = _scripts(recipe, "Install")
    if not any(INSTALL_RE.search(script) for script in installs):
        problems.append(
            f"Install must run the shipped {INSTALL_CALL} into {{work:path}}/venv "
            "(the offline gateway install)"
        )
    runs = _scripts(recipe, "Run") + _scripts(recipe, "Startup")
    if not runs:
        return [*problems, "no Run or Startup step"]
    parser = gateway_parser(repo_root)
    for script in runs:
        match = WARDLINK_CALL_RE.search(script)
        if match is None or VENV_COMMAND not in script:
            problems.append(f"Run must start {VENV_COMMAND}, the command Install installs")
            continue
        arguments = shlex.split(match.group("args"))
        failure = parse_failure(parser, arguments)
        if failure is not None:
            problems.append(
                f"Run command 'wardlink {' '.join(arguments)}' is not provided by what Install "
                f"installs (wardlink-core, wardlink-edge): {failure}"
            )
    return problems
