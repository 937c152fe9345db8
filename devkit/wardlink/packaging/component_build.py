"""Build a Greengrass component into GDK's ``greengrass-build/`` layout: what a gateway installs.

A hospital gateway often cannot reach PyPI, and what it runs must be exactly what
was tested and listed (IEC 62304 SOUP). So a component's artifacts are the whole
gateway runtime, not a wheel that pulls the rest from the internet: per platform
the recipe lists, one archive ``wardlink-gateway-linux-<arch>.zip`` holding

* ``cp311/``, ``cp312/``: a wheelhouse per CPython the gateway OSes ship (3.11 on
  Debian 12, 3.12 on Ubuntu 24.04): the ``wardlink-core`` and ``wardlink-edge``
  wheels and every third-party wheel of the committed lock file
  (``components/requirements.lock``) for that platform, manylinux up to glibc 2.36;
* ``requirements.txt``: the lock plus the two Wardlink wheels, every line pinned by
  sha256, so pip installs these files and nothing else;
* ``install.sh`` (:file:`gateway_install.sh`): the recipe's Install step, offline;
* ``BUILD-ID``: a digest of ``requirements.txt``, which makes Install idempotent.

Greengrass unarchives it (``Unarchive: ZIP``). Beside the artifacts the build
writes, per component, the SOUP list, the CycloneDX SBOM and the known-vulnerability
report (``greengrass-build/sbom/``); the build fails on a dependency without a
recorded purpose or a known vulnerability without a recorded assessment.

Each component is its own GDK project (``recipes/<ComponentName>/``) whose build
system is ``custom``: GDK runs this file by path with the system ``python3``. The
build needs the development environment (pip, the dev kit), so run by path it
re-executes itself in the repository's ``.venv`` (``bash .ci/bootstrap`` creates
it). ``wardlink components build`` runs the same code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REPO_GUESS = Path(__file__).resolve().parents[3]

if __name__ == "__main__" and __package__ in (None, ""):
    # Run by path (GDK custom build): continue inside the development venv.
    _venv_python = _REPO_GUESS / ".venv" / "bin" / "python"
    if not _venv_python.is_file():
        sys.stderr.write(
            f"build failed: {_venv_python} does not exist; run 'bash .ci/bootstrap' in "
            f"{_REPO_GUESS} first (the component build needs the development environment)\n"
        )
        sys.exit(1)
    os.execv(  # noqa: S606 - fixed interpreter, our own module
        str(_venv_python),
        [str(_venv_python), "-m", "wardlink.packaging.component_build", *sys.argv[1:]],
    )

import argparse  # noqa: E402 - after the re-exec guard on purpose
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import zipfile  # noqa: E402
from collections.abc import Iterable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from importlib import resources  # noqa: E402

from wardlink.packaging.recipe_rules import (  # noqa: E402
    MAX_RECIPE_BYTES,
    check_gdk_config,
    check_recipe,
)

GDK_CONFIG = "gdk-config.json"
RECIPE_FILES = ("recipe.yaml", "recipe.yml", "recipe.json")
BUILD_DIR = "greengrass-build"
ARTIFACT_PREFIX = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/"
LOCK_FILE = Path("components") / "requirements.lock"
# What the gateway installs: the source roots of core and edge, in install order.
GATEWAY_SOURCES = ("core", "components")
PYTHONS = ("3.11", "3.12")
# Debian 12 ships glibc 2.36, Ubuntu 24.04 2.39: wheels must run on the older.
MAX_GLIBC_MINOR = 36
MIN_GLIBC_MINOR = 17
# Greengrass platform architecture -> wheel platform architecture.
ARCHITECTURES = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
INSTALL_SCRIPT = "gateway_install.sh"


class BuildError(Exception):
    """The component cannot be built; the message says why."""


def archive_name(arch: str) -> str:
    """The platform archive's file name for a wheel architecture (``x86_64``)."""
    return f"wardlink-gateway-linux-{arch}.zip"


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
    records: tuple[Path, ...] = ()


@dataclass
class GatewayRuntime:
    """The built gateway runtime: Wardlink wheels plus per-platform archives, built once."""

    wheels: tuple[Path, ...]
    archives: dict[str, Path] = field(default_factory=dict)  # wheel arch -> zip
    wheelhouses: dict[str, Path] = field(default_factory=dict)  # wheel arch -> directory


def find_repo_root(start: Path) -> Path:
    """The repository root (it holds ``components/requirements.lock``), searched upwards."""
    for candidate in (start.resolve(), *start.resolve().parents):
        if (candidate / LOCK_FILE).is_file() and (candidate / "core" / "pyproject.toml").is_file():
            return candidate
    raise BuildError(f"no Wardlink repository (with {LOCK_FILE}) above {start}")


def _pip_env() -> dict[str, str]:
    """The environment for pip: no extra find-links, extra indexes or constraints of the host.

    The lock's hashes decide what is acceptable; a host's local wheel directory or
    extra index could only offer files with other hashes.
    """
    env = dict(os.environ)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_NO_INDEX"):
        env[name] = ""
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run_pip(args: Sequence[str], what: str, *, cwd: Path | None = None) -> None:
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        check=False,
        env=_pip_env(),
        cwd=cwd,
    )
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip())[-3000:]
        raise BuildError(f"{what} failed: {detail}")


def build_distributions(repo_root: Path, out_dir: Path) -> tuple[Path, ...]:
    """Build the ``wardlink-core`` and ``wardlink-edge`` wheels (no dependencies)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    for source in GATEWAY_SOURCES:
        project = repo_root / source
        stray = project / "build"
        stray_existed = stray.exists()
        with tempfile.TemporaryDirectory(prefix="wardlink-wheel-") as scratch:
            try:
                _run_pip(
                    ["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", scratch,
                     str(project)],
                    f"building the wheel of {source}/",
                )
            finally:
                if not stray_existed:
                    shutil.rmtree(stray, ignore_errors=True)
            built = sorted(Path(scratch).glob("*.whl"))
            if len(built) != 1:
                raise BuildError(f"building {source}/ produced {len(built)} wheels")
            target = out_dir / built[0].name
            shutil.copy2(built[0], target)
            wheels.append(target)
    return tuple(wheels)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_requirement(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name.replace('_', '-')}=={version} \\\n    --hash=sha256:{_sha256(wheel)}\n"


def gateway_requirements(lock: Path, wheels: Iterable[Path]) -> str:
    """The lock plus the Wardlink wheels: every distribution the gateway installs, hashed."""
    text = lock.read_text(encoding="utf-8").rstrip("\n") + "\n"
    header = "# Wardlink gateway runtime: the lock file plus the Wardlink wheels of this build.\n"
    return header + text + "".join(_wheel_requirement(w) for w in wheels)


def _platform_args(arch: str, python: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(MIN_GLIBC_MINOR, MAX_GLIBC_MINOR + 1)]
    tags.append(f"manylinux2014_{arch}")
    abi = "cp" + python.replace(".", "")
    args = [f"--platform={tag}" for tag in tags]
    return [*args, "--python-version", python, "--implementation", "cp", "--abi", abi]


def download_wheelhouse(lock: Path, arch: str, python: str, dest: Path) -> None:
    """Every locked third-party wheel for one platform and Python, checked against the lock."""
    dest.mkdir(parents=True, exist_ok=True)
    _run_pip(
        [
            "download", "--no-deps", "--only-binary=:all:", "--require-hashes", "-q",
            *_platform_args(arch, python), "-r", str(lock), "-d", str(dest),
        ],
        f"downloading the {arch} CPython {python} wheels of {lock.name}",
    )  # fmt: skip


def build_archive(
    repo_root: Path, wheels: Sequence[Path], arch: str, staging: Path, out_dir: Path
) -> Path:
    """Stage and zip one platform archive; returns the zip."""
    lock = repo_root / LOCK_FILE
    root = staging / f"linux-{arch}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for python in PYTHONS:
        house = root / ("cp" + python.replace(".", ""))
        download_wheelhouse(lock, arch, python, house)
        for wheel in wheels:
            shutil.copy2(wheel, house / wheel.name)
    requirements = gateway_requirements(lock, wheels)
    (root / "requirements.txt").write_text(requirements, encoding="utf-8")
    build_id = hashlib.sha256(requirements.encode("utf-8")).hexdigest()[:16]
    (root / "BUILD-ID").write_text(build_id + "\n", encoding="utf-8")
    script = resources.files("wardlink.packaging").joinpath(INSTALL_SCRIPT).read_bytes()
    (root / "install.sh").write_bytes(script)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / archive_name(arch)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as bundle:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                # wheels are zips already: storing them keeps the build fast
                info = zipfile.ZipInfo.from_file(path, path.relative_to(root).as_posix())
                info.date_time = (1980, 1, 1, 0, 0, 0)  # reproducible archive
                mode = 0o755 if path.name == "install.sh" else 0o644
                info.external_attr = (mode | 0o100000) << 16
                with path.open("rb") as source, bundle.open(info, "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
    return archive


def recipe_architectures(recipe: object) -> list[str]:
    """Wheel architectures of the recipe's Linux manifests, in manifest order."""
    found: list[str] = []
    manifests = recipe.get("Manifests", []) if isinstance(recipe, dict) else []
    for manifest in manifests:
        platform = manifest.get("Platform", {}) if isinstance(manifest, dict) else {}
        if str(platform.get("os", "linux")).lower() != "linux":
            raise BuildError(f"manifest {manifest.get('Name')!r}: only Linux gateways are built")
        gg_arch = str(platform.get("architecture", ""))
        arch = ARCHITECTURES.get(gg_arch)
        if arch is None:
            raise BuildError(
                f"manifest {manifest.get('Name')!r}: no wheels are built for architecture "
                f"{gg_arch!r}; supported: {', '.join(sorted(ARCHITECTURES))}"
            )
        if arch not in found:
            found.append(arch)
    if not found:
        raise BuildError("the recipe lists no Linux manifest")
    return found


def check_artifact_uris(recipe: object) -> list[str]:
    """Each manifest names exactly its platform archive, unarchived as ZIP."""
    problems: list[str] = []
    manifests = recipe.get("Manifests", []) if isinstance(recipe, dict) else []
    for manifest in manifests:
        arch = ARCHITECTURES.get(str(manifest.get("Platform", {}).get("architecture", "")))
        expected = ARTIFACT_PREFIX + archive_name(arch or "?")
        artifacts = manifest.get("Artifacts") or []
        uris = [a.get("URI") for a in artifacts if isinstance(a, dict)]
        if uris != [expected]:
            problems.append(f"manifest {manifest.get('Name')!r} must list only {expected}")
        elif str(artifacts[0].get("Unarchive", "NONE")).upper() != "ZIP":
            problems.append(f"manifest {manifest.get('Name')!r}: {expected} needs Unarchive: ZIP")
    return problems


def render_recipe(text: str, project: GdkProject) -> str:
    """Fill the GDK placeholders the way ``gdk component build`` does."""
    return (
        text.replace("{COMPONENT_NAME}", project.component_name)
        .replace("{COMPONENT_VERSION}", project.version)
        .replace("{COMPONENT_AUTHOR}", project.author)
    )


def _parse_recipe(path: Path, text: str) -> object:
    if path.suffix == ".json":
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def prepare_runtime(repo_root: Path, architectures: Iterable[str], scratch: Path) -> GatewayRuntime:
    """Build the Wardlink wheels and one archive per architecture."""
    runtime = GatewayRuntime(wheels=build_distributions(repo_root, scratch / "wheels"))
    for arch in architectures:
        if arch not in runtime.archives:
            runtime.archives[arch] = build_archive(
                repo_root, runtime.wheels, arch, scratch / "staging", scratch / "archives"
            )
            runtime.wheelhouses[arch] = scratch / "staging" / f"linux-{arch}"
    return runtime


def write_records(
    project: GdkProject, repo_root: Path, runtime: GatewayRuntime, out_dir: Path
) -> tuple[Path, ...]:
    """SOUP list, SBOM and vulnerability report for the component (``out_dir/sbom``)."""
    from wardlink.packaging import soup_records

    try:
        return soup_records.write_component_records(
            component=project.component_name,
            version=project.version,
            lock=repo_root / LOCK_FILE,
            wheelhouses=runtime.wheelhouses,
            out_dir=out_dir / "sbom",
        )
    except soup_records.RecordsError as exc:
        raise BuildError(str(exc)) from exc


def build_project(
    project: GdkProject,
    runtime: GatewayRuntime,
    repo_root: Path,
    out_dir: Path | None = None,
    recipe_file_name: str | None = None,
) -> BuildResult:
    """Write the built recipe, the artifacts and the records for one project.

    ``out_dir`` defaults to the project's own ``greengrass-build/`` (wiped first,
    as GDK does). ``recipe_file_name`` lets ``--all`` builds that share one output
    directory name recipes ``<name>-<version>.yaml``.
    """
    source = project.recipe_path.read_text(encoding="utf-8")
    rendered = render_recipe(source, project)
    size = len(rendered.encode("utf-8"))
    if size > MAX_RECIPE_BYTES:
        raise BuildError(
            f"{project.recipe_path}: built recipe is {size} bytes; the limit is {MAX_RECIPE_BYTES}"
        )
    parsed = _parse_recipe(project.recipe_path, rendered)
    problems = check_recipe(parsed, source=False) + check_artifact_uris(parsed)
    from wardlink.packaging.run_commands import check_run_provided

    problems += check_run_provided(parsed, repo_root)
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
    artifacts: list[Path] = []
    for arch in recipe_architectures(parsed):
        archive = runtime.archives[arch]
        target = artifacts_dir / archive.name
        shutil.copy2(archive, target)
        artifacts.append(target)
    records = write_records(project, repo_root, runtime, out_dir)
    recipe_out = recipes_dir / (recipe_file_name or project.recipe_path.name)
    recipe_out.write_text(rendered, encoding="utf-8")
    return BuildResult(
        project.component_name, project.version, recipe_out, tuple(artifacts), records
    )


def project_architectures(projects: Iterable[GdkProject]) -> list[str]:
    found: list[str] = []
    for project in projects:
        text = project.recipe_path.read_text(encoding="utf-8")
        for arch in recipe_architectures(_parse_recipe(project.recipe_path, text)):
            if arch not in found:
                found.append(arch)
    return found


def build_all(
    projects: Sequence[GdkProject], repo_root: Path, out_dir: Path | None
) -> list[BuildResult]:
    """Build several projects sharing one runtime build (``out_dir``: one merged tree)."""
    with tempfile.TemporaryDirectory(prefix="wardlink-build-") as scratch:
        runtime = prepare_runtime(repo_root, project_architectures(projects), Path(scratch))
        return [
            build_project(
                project,
                runtime,
                repo_root,
                out_dir=out_dir,
                recipe_file_name=(
                    f"{project.component_name}-{project.version}.yaml" if out_dir else None
                ),
            )
            for project in projects
        ]


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


def print_result(result: BuildResult) -> None:
    print(f"built {result.component_name} {result.version}: {result.recipe}")
    for path in (*result.artifacts, *result.records):
        print(f"  {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="GDK custom build: the gateway runtime, this project's recipe and records"
    )
    parser.add_argument("--gdk-project", type=Path, default=Path("."), help="project directory")
    args = parser.parse_args(argv)
    try:
        project = GdkProject.load(args.gdk_project)
        [result] = build_all([project], find_repo_root(project.directory), None)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
