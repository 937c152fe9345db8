"""The real GDK CLI (1.6.2, the wheel in ``../shared/tools``) builds every component.

GDK is not on PyPI (the PyPI ``gdk`` is unrelated), so the shared wheel, built from
GDK's public source, is installed into its own virtualenv outside the runtime
environment (cached under ``~/.cache/wardlink/gdk-<digest>``). Then
``gdk component build`` runs in each component's GDK project and at the
repository root, exactly as a device engineer runs it; the custom build continues
in the repository's ``.venv``. What it builds is checked for the layout GDK
publishes from; installing it is ``test_gateway_install.py``'s job.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from wardlink.packaging.component_build import archive_name

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO.parent / "shared" / "tools"
PROJECTS = (REPO / "recipes" / "com.wardlink.DeviceProxy", REPO / "recipes" / "com.wardlink.Uplink")


def _gdk() -> Path:
    wheels = sorted(TOOLS.glob("gdk-*.whl"))
    if not wheels:
        pytest.skip(f"no GDK wheel in {TOOLS}")
    wheel = wheels[-1]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]
    venv = Path.home() / ".cache" / "wardlink" / f"gdk-{digest}"
    gdk = venv / "bin" / "gdk"
    if not gdk.is_file():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    version = subprocess.run([str(gdk), "--version"], capture_output=True, text=True, check=True)
    assert "1.6.2" in version.stdout
    return gdk


@pytest.mark.integration
def test_gdk_component_build_builds_every_component() -> None:
    gdk = _gdk()
    env = {**os.environ, "PATH": f"{gdk.parent}:{os.environ['PATH']}"}
    for project in (*PROJECTS, REPO):
        built = project / "greengrass-build"
        shutil.rmtree(built, ignore_errors=True)  # a build output; GDK wipes it too
        try:
            done = subprocess.run(
                [str(gdk), "component", "build"],
                cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
            recipe = yaml.safe_load((built / "recipes" / "recipe.yaml").read_text())
            name = recipe["ComponentName"]
            artifacts = built / "artifacts" / name / recipe["ComponentVersion"]
            for arch in ("x86_64", "aarch64"):
                assert (artifacts / archive_name(arch)).is_file()
            assert (built / "sbom" / name / "sbom.cdx.json").is_file()
            assert (built / "sbom" / name / "soup.md").is_file()
        finally:
            shutil.rmtree(built, ignore_errors=True)
