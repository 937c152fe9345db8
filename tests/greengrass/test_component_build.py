"""``wardlink components build`` and the GDK custom-build script: what a gateway receives.

The build is made once per session (``gateway_build``); installing it is
``test_gateway_install.py``'s job. Here: the layout GDK expects, the contents of
each platform archive, and the recipes the build refuses.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from wardlink.cli.main import main
from wardlink.packaging.component_build import ARTIFACT_PREFIX, archive_name
from wardlink.packaging.recipe_rules import MAX_RECIPE_BYTES, check_recipe

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "devkit" / "wardlink" / "packaging" / "component_build.py"
NAMES = ("com.wardlink.DeviceProxy", "com.wardlink.Uplink")
ARCHES = ("x86_64", "aarch64")
FOREIGN = tuple(
    f"wardlink/{name}/"
    for name in ("cloudapi", "detectors", "sim", "nucleus", "localcloud", "demo", "phieval")
)


def test_merged_build_layout(gateway_build: Path) -> None:
    for name in NAMES:
        text = (gateway_build / "recipes" / f"{name}-0.1.0.yaml").read_text()
        assert len(text.encode()) <= MAX_RECIPE_BYTES
        assert "{COMPONENT_" not in text
        recipe = yaml.safe_load(text)
        assert check_recipe(recipe, source=False) == []
        assert (recipe["ComponentName"], recipe["ComponentVersion"]) == (name, "0.1.0")
        for manifest in recipe["Manifests"]:
            [artifact] = manifest["Artifacts"]
            assert artifact["Unarchive"] == "ZIP"
            assert artifact["URI"].startswith(ARTIFACT_PREFIX)
        for arch in ARCHES:
            assert (gateway_build / "artifacts" / name / "0.1.0" / archive_name(arch)).is_file()


@pytest.mark.parametrize("arch", ARCHES)
def test_platform_archive_is_the_whole_pinned_runtime(gateway_build: Path, arch: str) -> None:
    archive = gateway_build / "artifacts" / "com.wardlink.Uplink" / "0.1.0" / archive_name(arch)
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        requirements = bundle.read("requirements.txt").decode()
        install = bundle.getinfo("install.sh")
        edge_wheel = next(n for n in names if n.startswith("cp311/wardlink_edge-"))
        with bundle.open(edge_wheel) as raw, zipfile.ZipFile(raw) as wheel:
            edge_files = wheel.namelist()
    assert {"BUILD-ID", "install.sh", "requirements.txt"} <= names
    assert (install.external_attr >> 16) & 0o111, "install.sh keeps its execute bit"
    for python in ("cp311", "cp312"):
        wheels = [n for n in names if n.startswith(f"{python}/") and n.endswith(".whl")]
        assert any("wardlink_core-" in n for n in wheels)
        assert any("wardlink_edge-" in n for n in wheels)
        platform_wheels = [n for n in wheels if "manylinux" in n]
        assert platform_wheels and all(arch in n for n in platform_wheels)
    # every requirement is pinned and hashed, the Wardlink wheels included
    entries = [line for line in requirements.splitlines() if "==" in line]
    assert entries and all(line.rstrip().endswith("\\") for line in entries)
    assert "wardlink-core==0.1.0" in requirements and "wardlink-edge==0.1.0" in requirements
    assert not [f for f in edge_files if f.startswith(FOREIGN)]
    assert "wardlink/gateway/proxy.py" in edge_files


def test_build_one_component_into_its_gdk_project(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    for name in NAMES:
        shutil.copytree(REPO / "recipes" / name, recipes / name)
    # the projects sit outside the repository: the build finds it from --recipes
    code = main(["components", "build", "com.wardlink.Uplink", "--recipes", str(recipes)])
    assert code == 1  # no repository above tmp_path
    inside = REPO / "recipes"
    code = main(["components", "build", "com.example.Nope", "--recipes", str(inside)])
    assert code == 1


def test_gdk_custom_build_script_runs_by_path(tmp_path: Path) -> None:
    """GDK runs the script by path with the system python3; it continues in the dev venv."""
    project = REPO / "recipes" / "com.wardlink.Uplink"
    built = project / "greengrass-build"
    try:
        done = subprocess.run(
            [sys.executable, "-S", "-I", str(SCRIPT), "--gdk-project", str(project)],
            capture_output=True, text=True, timeout=300, check=False, cwd=project,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        text = (built / "recipes" / "recipe.yaml").read_text()
        assert 'ComponentVersion: "0.1.0"' in text
        for arch in ARCHES:
            artifacts = built / "artifacts" / "com.wardlink.Uplink" / "0.1.0"
            assert (artifacts / archive_name(arch)).is_file()
    finally:
        shutil.rmtree(built, ignore_errors=True)


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    repo = tmp_path / "repo"
    project = repo / "recipes" / "com.wardlink.Uplink"
    shutil.copytree(REPO / "recipes" / "com.wardlink.Uplink", project)
    for part in ("core", "components"):
        (repo / part).mkdir()
        shutil.copy2(REPO / part / "pyproject.toml", repo / part / "pyproject.toml")
    shutil.copy2(REPO / "components" / "requirements.lock", repo / "components")
    recipe = project / "recipe.yaml"
    assert old in recipe.read_text()
    recipe.write_text(recipe.read_text().replace(old, new))
    return project


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("ComponentName: com.wardlink.Uplink", "ComponentName: com.wardlink.Other", "differs from"),
        # a Run command the gateway's wardlink does not have
        ('bin/wardlink" run uplink', 'bin/wardlink" run shell', "is not provided by what Install"),
        ('bin/wardlink" run uplink', 'bin/wardlink" demo', "is not provided by what Install"),
        ('sh "{artifacts:decompressedPath}', 'pip install "{artifacts:decompressedPath}',
         "Install must run the shipped install.sh"),
    ],
)  # fmt: skip
def test_build_refuses_a_broken_recipe(tmp_path: Path, old: str, new: str, expected: str) -> None:
    from wardlink.packaging.component_build import (
        BuildError,
        GatewayRuntime,
        GdkProject,
        build_project,
    )

    project = _broken_copy(tmp_path, old, new)
    runtime = GatewayRuntime(wheels=())
    with pytest.raises(BuildError, match=expected):
        build_project(GdkProject.load(project), runtime, REPO, out_dir=tmp_path / "out")


def test_validate_reports_a_run_command_the_gateway_lacks(tmp_path: Path) -> None:
    project = _broken_copy(tmp_path, 'bin/wardlink" run uplink', 'bin/wardlink" run shell')
    from wardlink.cli.components import validation_problems

    problems = validation_problems(project.parent, repo_root=REPO)
    found = [p for ps in problems.values() for p in ps]
    assert any("is not provided by what Install installs" in p for p in found), found
