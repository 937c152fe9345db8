"""``wardlink components build`` and the GDK custom-build script.

The wheel is built once per module (it takes a few seconds); the other tests
reuse it through ``--wheel``.
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
from wardlink.packaging.recipe_rules import MAX_RECIPE_BYTES, check_recipe

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "components" / "wardlink" / "greengrass" / "component_build.py"
NAMES = ("com.wardlink.DeviceProxy", "com.wardlink.GatewayUI", "com.wardlink.Uplink")


@pytest.fixture(scope="module")
def merged_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("greengrass-build")
    assert (
        main(
            [
                "components",
                "build",
                "--all",
                "--recipes",
                str(REPO / "recipes"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def wheel(merged_build: Path) -> Path:
    [built] = sorted(merged_build.glob("artifacts/com.wardlink.Uplink/*/wardlink-*.whl"))
    return built


def test_merged_build_layout(merged_build: Path, wheel: Path) -> None:
    for name in NAMES:
        recipe_path = merged_build / "recipes" / f"{name}-0.1.0.yaml"
        text = recipe_path.read_text()
        assert len(text.encode()) <= MAX_RECIPE_BYTES
        assert "{COMPONENT_" not in text
        recipe = yaml.safe_load(text)
        assert check_recipe(recipe, source=False) == []
        assert (recipe["ComponentName"], recipe["ComponentVersion"]) == (name, "0.1.0")
        uris = {a["URI"] for m in recipe["Manifests"] for a in m["Artifacts"]}
        assert uris == {f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{wheel.name}"}
        assert (merged_build / "artifacts" / name / "0.1.0" / wheel.name).is_file()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "wardlink/greengrass/emulator.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_build_one_component_into_its_gdk_project(tmp_path: Path, wheel: Path) -> None:
    recipes = tmp_path / "recipes"
    shutil.copytree(REPO / "recipes" / "com.wardlink.Uplink", recipes / "com.wardlink.Uplink")
    shutil.copytree(REPO / "recipes" / "com.wardlink.GatewayUI", recipes / "com.wardlink.GatewayUI")
    code = main(
        [
            "components",
            "build",
            "com.wardlink.Uplink",
            "--recipes",
            str(recipes),
            "--wheel",
            str(wheel),
        ]
    )
    assert code == 0
    build = recipes / "com.wardlink.Uplink" / "greengrass-build"
    assert (build / "recipes" / "recipe.yaml").is_file()
    assert (build / "artifacts" / "com.wardlink.Uplink" / "0.1.0" / wheel.name).is_file()
    assert not (recipes / "com.wardlink.GatewayUI" / "greengrass-build").exists()
    assert (
        main(
            [
                "components",
                "build",
                "com.example.Nope",
                "--recipes",
                str(recipes),
                "--wheel",
                str(wheel),
            ]
        )
        == 1
    )


def test_gdk_custom_build_script_runs_without_wardlink_installed(
    tmp_path: Path, wheel: Path
) -> None:
    """GDK runs the script by path; -S -I hides site-packages, so only the stdlib is there."""
    project = tmp_path / "com.wardlink.DeviceProxy"
    shutil.copytree(REPO / "recipes" / "com.wardlink.DeviceProxy", project)
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            "-I",
            str(SCRIPT),
            "--gdk-project",
            str(project),
            "--wheel",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    built = project / "greengrass-build"
    text = (built / "recipes" / "recipe.yaml").read_text()
    assert 'ComponentVersion: "0.1.0"' in text
    assert (built / "artifacts" / "com.wardlink.DeviceProxy" / "0.1.0" / wheel.name).is_file()


def test_build_refuses_a_broken_project(tmp_path: Path, wheel: Path) -> None:
    project = tmp_path / "com.wardlink.Uplink"
    shutil.copytree(REPO / "recipes" / "com.wardlink.Uplink", project)
    recipe = project / "recipe.yaml"
    recipe.write_text(
        recipe.read_text().replace(
            "ComponentName: com.wardlink.Uplink", "ComponentName: com.wardlink.Other"
        )
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--gdk-project", str(project), "--wheel", str(wheel)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "differs from" in done.stderr
