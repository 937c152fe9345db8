"""Build a component into GDK's ``greengrass-build/`` layout, with or without GDK.

Each component is its own GDK project (``recipes/<ComponentName>/`` holding
``gdk-config.json`` and ``recipe.yaml``) whose build system is ``custom``: GDK
creates an empty ``greengrass-build/`` and then runs this file by path. The same
code backs ``wardlink components build`` for CI, so both produce::

    greengrass-build/recipes/recipe.yaml
    greengrass-build/artifacts/<ComponentName>/<version>/wardlink-<v>-py3-none-any.whl

The recipe is rendered the way GDK renders one: ``{COMPONENT_NAME}``,
``{COMPONENT_VERSION}`` and ``{COMPONENT_AUTHOR}`` take the values from
``gdk-config.json``, and the wheel artifact URI gets the real wheel file name
under ``s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/``, which
``gdk component publish`` rewrites to the real bucket.

Only the standard library (plus PyYAML when present, for validation) is used,
because GDK runs this from a clean clone where ``wardlink`` is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run by path (GDK custom build): import the stdlib-only rules from the source tree.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from wardlink.packaging.recipe_rules import (
    MAX_RECIPE_BYTES,
    check_gdk_config,
    check_recipe,
)

GDK_CONFIG = "gdk-config.json"
RECIPE_FILES = ("recipe.yaml", "recipe.yml", "recipe.json")
BUILD_DIR = "greengrass-build"
WHEEL_URI_RE = re.compile(r"s3://[^\s\"']*?/wardlink-[^/\s\"']*\.whl")
ARTIFACT_PREFIX = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/"


class BuildError(Exception):
    """The component cannot be built; the message says why."""


@dataclass(frozen=True)
class GdkProject:
    """One component's GDK project directory."""

    directory: Path
    component_name: str
    version: str
    author: str
    recipe_path: Path
    bucket: str
    region: str

    @classmethod
    def load(cls, directory: Path) -> GdkProject:
        directory = directory.resolve()
        config_path = directory / GDK_CONFIG
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise BuildError(f"{config_path} does not exist") from exc
        except ValueError as exc:
            raise BuildError(f"{config_path} is not valid JSON: {exc}") from exc
        problems = check_gdk_config(config)
        if problems:
            raise BuildError(f"{config_path}: " + "; ".join(problems))
        name, body = next(iter(config["component"].items()))
        if body["version"] == "NEXT_PATCH":
            raise BuildError(
                f"{config_path}: version NEXT_PATCH needs the Greengrass cloud to resolve; "
                "pin a semantic version for local and CI builds"
            )
        recipes = [directory / f for f in RECIPE_FILES if (directory / f).is_file()]
        if len(recipes) != 1:
            raise BuildError(f"{directory} must contain exactly one of {', '.join(RECIPE_FILES)}")
        publish = body.get("publish", {})
        return cls(
            directory=directory,
            component_name=name,
            version=body["version"],
            author=body["author"],
            recipe_path=recipes[0],
            bucket=publish.get("bucket", ""),
            region=publish.get("region", ""),
        )


@dataclass(frozen=True)
class BuildResult:
    component_name: str
    version: str
    recipe: Path
    artifacts: tuple[Path, ...]


def find_repo_root(start: Path) -> Path:
    """The directory holding wardlink's ``pyproject.toml``, searched upwards."""
    for candidate in (start.resolve(), *start.resolve().parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and re.search(
            r'(?m)^name\s*=\s*"wardlink"', pyproject.read_text(encoding="utf-8")
        ):
            return candidate
    raise BuildError(f"no wardlink pyproject.toml above {start}")


def _setuptools_is_recent(python: str) -> bool:
    if python != sys.executable:
        return False
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    try:
        major = int(version("setuptools").split(".")[0])
    except (ValueError, Exception):
        return False
    return major >= 68


def build_wheel(repo_root: Path, out_dir: Path, python: str = sys.executable) -> Path:
    """Build the wardlink wheel (no dependencies) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = [python, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q"]
    attempts = [[*base, "--no-build-isolation"], base] if _setuptools_is_recent(python) else [base]
    # setuptools leaves build/ in the source tree; remove it unless it was there before.
    stray = repo_root / "build"
    stray_existed = stray.exists()
    with tempfile.TemporaryDirectory(prefix="wardlink-wheel-") as scratch:
        try:
            return _run_pip_wheel(attempts, repo_root, Path(scratch), out_dir)
        finally:
            if not stray_existed:
                shutil.rmtree(stray, ignore_errors=True)


def _run_pip_wheel(
    attempts: list[list[str]], repo_root: Path, scratch: Path, out_dir: Path
) -> Path:
    last = ""
    for command in attempts:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [*command, "--wheel-dir", str(scratch), str(repo_root)],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = sorted(scratch.glob("wardlink-*.whl"))
        if done.returncode == 0 and len(wheels) == 1:
            target = out_dir / wheels[0].name
            shutil.copy2(wheels[0], target)
            return target
        last = done.stderr.strip() or done.stdout.strip()
    raise BuildError(f"pip wheel failed for {repo_root}: {last[-2000:]}")


def render_recipe(text: str, project: GdkProject, wheel_name: str) -> str:
    """Fill GDK placeholders and point the wheel artifact at the built file."""
    rendered = (
        text.replace("{COMPONENT_NAME}", project.component_name)
        .replace("{COMPONENT_VERSION}", project.version)
        .replace("{COMPONENT_AUTHOR}", project.author)
    )
    return WHEEL_URI_RE.sub(ARTIFACT_PREFIX + wheel_name, rendered)


def _parse_recipe(path: Path, text: str) -> object:
    if path.suffix == ".json":
        return json.loads(text)
    if importlib.util.find_spec("yaml") is None:
        return None  # validation needs PyYAML; GDK's own environment has it
    import yaml

    return yaml.safe_load(text)


def build_project(
    project: GdkProject,
    wheel: Path,
    out_dir: Path | None = None,
    recipe_file_name: str | None = None,
) -> BuildResult:
    """Write the built recipe and artifacts for one project.

    ``out_dir`` defaults to the project's own ``greengrass-build/`` (wiped first,
    as GDK does). ``recipe_file_name`` lets ``--all`` builds that share one output
    directory name recipes ``<name>-<version>.yaml``.
    """
    source = project.recipe_path.read_text(encoding="utf-8")
    rendered = render_recipe(source, project, wheel.name)
    size = len(rendered.encode("utf-8"))
    if size > MAX_RECIPE_BYTES:
        raise BuildError(
            f"{project.recipe_path}: built recipe is {size} bytes; the limit is {MAX_RECIPE_BYTES}"
        )
    parsed = _parse_recipe(project.recipe_path, rendered)
    if parsed is not None:
        problems = check_recipe(parsed, source=False)
        if problems:
            raise BuildError(f"{project.recipe_path}: " + "; ".join(problems))
        name = parsed.get("ComponentName") if isinstance(parsed, dict) else None
        if name != project.component_name:
            raise BuildError(
                f"{project.recipe_path}: ComponentName {name!r} differs from "
                f"{project.component_name!r} in {GDK_CONFIG}"
            )
    if out_dir is None:
        out_dir = project.directory / BUILD_DIR
        shutil.rmtree(out_dir, ignore_errors=True)
    recipes_dir = out_dir / "recipes"
    artifacts_dir = out_dir / "artifacts" / project.component_name / project.version
    recipes_dir.mkdir(parents=True, exist_ok=True)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    recipe_out = recipes_dir / (recipe_file_name or project.recipe_path.name)
    recipe_out.write_text(rendered, encoding="utf-8")
    artifact = artifacts_dir / wheel.name
    if wheel.resolve() != artifact.resolve():
        shutil.copy2(wheel, artifact)
    return BuildResult(project.component_name, project.version, recipe_out, (artifact,))


def discover_projects(recipes_root: Path) -> list[GdkProject]:
    """Every GDK project directly under ``recipes_root``, sorted by name."""
    projects = [
        GdkProject.load(child)
        for child in sorted(recipes_root.iterdir())
        if child.is_dir() and (child / GDK_CONFIG).is_file()
    ]
    if not projects:
        raise BuildError(f"no GDK projects (directories with {GDK_CONFIG}) in {recipes_root}")
    return projects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="GDK custom build: build the wardlink wheel and render this project's recipe"
    )
    parser.add_argument("--gdk-project", type=Path, default=Path("."), help="project directory")
    parser.add_argument("--wheel", type=Path, help="use this prebuilt wardlink wheel")
    args = parser.parse_args(argv)
    try:
        project = GdkProject.load(args.gdk_project)
        if args.wheel is not None:
            wheel = args.wheel.resolve()
            if not wheel.is_file():
                raise BuildError(f"{wheel} does not exist")
        else:
            scratch = Path(tempfile.mkdtemp(prefix="wardlink-build-"))
            wheel = build_wheel(find_repo_root(project.directory), scratch)
        result = build_project(project, wheel)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print(f"built {result.component_name} {result.version}: {result.recipe}")
    for artifact in result.artifacts:
        print(f"  artifact {artifact}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
