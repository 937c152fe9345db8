"""``wardlink components``: build and check the Greengrass components without GDK.

``build`` produces exactly what ``gdk component build`` produces in each
component's GDK project (``recipes/<name>/greengrass-build/``), or, with
``--output DIR``, one merged tree (``DIR/recipes/<name>-<version>.yaml`` and
``DIR/artifacts/<name>/<version>/``) that ``greengrass-cli deployment create
--recipeDir DIR/recipes --artifactDir DIR/artifacts`` accepts. The gateway
runtime (Wardlink wheels and the per-platform wheelhouses) is built once and
shared by all components.

``lock`` re-resolves the gateway's lock file after a dependency changes.

``validate`` runs the recipe and GDK-config checks that CI runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_RECIPES = Path("recipes")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("components", help="build and validate Greengrass components")
    commands = parser.add_subparsers(dest="components_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])

    build = commands.add_parser(
        "build",
        help="build components into the GDK greengrass-build layout",
        description="Build the wardlink wheel and render recipes as 'gdk component build' does.",
    )
    build.add_argument("names", nargs="*", metavar="NAME", help="component names to build")
    build.add_argument("--all", action="store_true", help="build every component in --recipes")
    build.add_argument(
        "--recipes",
        type=Path,
        default=DEFAULT_RECIPES,
        help="GDK projects root (default ./recipes)",
    )
    build.add_argument("--output", type=Path, help="one merged greengrass-build tree for all")
    build.set_defaults(func=run_build)

    lock = commands.add_parser(
        "lock",
        help="re-resolve components/requirements.lock (the gateway's pinned dependencies)",
        description="Resolve core's and edge's dependencies for every Linux gateway platform "
        "and CPython 3.11/3.12, pinned with every file's sha256 (uv pip compile --universal).",
    )
    lock.add_argument("--repo", default=".", help="repository root (default .)")
    lock.set_defaults(func=run_lock)

    validate = commands.add_parser(
        "validate", help="check every recipe and gdk-config.json against Greengrass/GDK rules"
    )
    validate.add_argument(
        "--recipes",
        type=Path,
        default=DEFAULT_RECIPES,
        help="GDK projects root (default ./recipes)",
    )
    validate.set_defaults(func=run_validate)


def run_build(args: argparse.Namespace) -> int:
    from wardlink.packaging.component_build import (
        BuildError,
        build_all,
        discover_projects,
        find_repo_root,
        print_result,
    )

    if not args.all and not args.names:
        print("wardlink components build: name components or pass --all", file=sys.stderr)
        return 2
    try:
        projects = discover_projects(args.recipes)
        if not args.all:
            by_name = {p.component_name: p for p in projects}
            unknown = [n for n in args.names if n not in by_name]
            if unknown:
                raise BuildError(
                    f"unknown components {', '.join(unknown)}; known: {', '.join(sorted(by_name))}"
                )
            projects = [by_name[n] for n in args.names]
        for result in build_all(projects, find_repo_root(args.recipes), args.output):
            print_result(result)
    except BuildError as exc:
        print(f"wardlink components build: {exc}", file=sys.stderr)
        return 1
    return 0


def run_lock(args: argparse.Namespace) -> int:
    from wardlink.packaging.lock import LockError, write_lock

    try:
        path = write_lock(Path(args.repo))
    except LockError as exc:
        print(f"wardlink components lock: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def validation_problems(
    recipes_root: Path, repo_root: Path | None = None
) -> dict[str, list[str]]:
    """Problems per file for every GDK project under ``recipes_root``.

    Besides the Greengrass and GDK rules: each manifest ships its platform archive,
    Install runs the offline gateway install, and the Run command exists in the
    ``wardlink`` that install provides (``repo_root`` holds the pyprojects that say
    so; found above ``recipes_root`` when not given).
    """
    import yaml

    from wardlink.packaging.component_build import (
        GDK_CONFIG,
        RECIPE_FILES,
        BuildError,
        check_artifact_uris,
        find_repo_root,
    )
    from wardlink.packaging.run_commands import check_run_provided

    if repo_root is None:
        try:
            repo_root = find_repo_root(recipes_root)
        except BuildError as exc:
            return {str(recipes_root): [str(exc)]}
    from wardlink.packaging.recipe_rules import MAX_RECIPE_BYTES, check_gdk_config, check_recipe

    report: dict[str, list[str]] = {}
    projects = sorted(p for p in recipes_root.iterdir() if (p / GDK_CONFIG).is_file())
    if not projects:
        return {str(recipes_root): [f"no GDK projects ({GDK_CONFIG}) found"]}
    for project in projects:
        config_path = project / GDK_CONFIG
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            report[str(config_path)] = [f"not valid JSON: {exc}"]
            continue
        report[str(config_path)] = check_gdk_config(config)
        recipes = [project / name for name in RECIPE_FILES if (project / name).is_file()]
        if len(recipes) != 1:
            report[str(project)] = [f"needs exactly one of {', '.join(RECIPE_FILES)}"]
            continue
        recipe_path = recipes[0]
        raw = recipe_path.read_bytes()
        problems: list[str] = []
        if len(raw) > MAX_RECIPE_BYTES:
            problems.append(f"{len(raw)} bytes; recipes are limited to {MAX_RECIPE_BYTES}")
        try:
            parsed = json.loads(raw) if recipe_path.suffix == ".json" else yaml.safe_load(raw)
        except (ValueError, yaml.YAMLError) as exc:
            problems.append(f"cannot be parsed: {exc}")
        else:
            problems.extend(check_recipe(parsed, source=True))
            problems.extend(check_artifact_uris(parsed))
            problems.extend(check_run_provided(parsed, repo_root))
            names = list((config.get("component") or {}).keys()) if isinstance(config, dict) else []
            if isinstance(parsed, dict) and names and parsed.get("ComponentName") != names[0]:
                problems.append(f"ComponentName differs from {GDK_CONFIG} ({names[0]})")
        report[str(recipe_path)] = problems
    return report


def run_validate(args: argparse.Namespace) -> int:
    report = validation_problems(args.recipes)
    failed = False
    for path, problems in sorted(report.items()):
        if problems:
            failed = True
            for problem in problems:
                print(f"{path}: {problem}")
        else:
            print(f"{path}: ok")
    return 1 if failed else 0
