"""A local cloud for the Greengrass tests: DynamoDB Local, moto S3 and the Greengrass v2
control plane, and the env-file variables that point boto3 and the GDK CLI at it."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.dynamodb_local import running_dynamodb_local
from wardlink.localcloud import LocalCloud

REGION = "us-east-1"  # the region every component's gdk-config.json publishes to


@contextmanager
def running_local_cloud(workdir: Path) -> Iterator[LocalCloud]:
    unique = uuid.uuid4().hex[:6]
    with running_dynamodb_local() as endpoint:
        cloud = LocalCloud(
            region=REGION,
            dynamodb_endpoint=endpoint,
            table_prefix=f"gg{unique}-",
            bucket=f"wardlink-gg{unique}-data",  # moto's state is process-wide
            workdir=workdir,
            detectors=False,
            log_level="ERROR",
        )
        cloud.start()
        try:
            yield cloud
        finally:
            cloud.stop()


def write_env_file(cloud: LocalCloud, path: Path) -> Path:
    """The file ``wardlink cloud local --env-file`` writes."""
    path.write_text("".join(f"{k}={v}\n" for k, v in cloud.environment().items()))
    return path


def gdk_project(build: Path, project: Path, into: Path) -> Path:
    """A copy of GDK project ``project`` in ``into`` holding the session build's output,
    as ``gdk component build`` leaves it, so ``gdk component publish`` does not build."""
    config = json.loads((project / "gdk-config.json").read_text())
    (name,) = config["component"]
    version = config["component"][name]["version"]
    target = into / name
    (target / "greengrass-build" / "recipes").mkdir(parents=True)
    shutil.copy(project / "gdk-config.json", target / "gdk-config.json")
    shutil.copy(project / "recipe.yaml", target / "recipe.yaml")
    shutil.copy(
        build / "recipes" / f"{name}-{version}.yaml",
        target / "greengrass-build" / "recipes" / "recipe.yaml",
    )
    artifacts = target / "greengrass-build" / "artifacts" / name / version
    artifacts.mkdir(parents=True)
    for archive in (build / "artifacts" / name / version).iterdir():
        os.symlink(archive, artifacts / archive.name)  # ~60 MB each: no copy
    return target
