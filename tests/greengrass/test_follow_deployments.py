"""The emulated core follows its deployments from the local cloud, and rolls back.

Two small components are published to the local cloud (artifacts in its S3). The
first deployment installs them from the downloaded artifacts and runs them; the
second deploys a version of one that fails at start: after three failures it is
BROKEN, and the whole deployment is rolled back, so both components run their
previous versions again, and the cloud shows the deployment FAILED with the reason.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from wardlink.localcloud import LocalCloud
from wardlink.nucleus.deployments import CloudClient, DeploymentFollower
from wardlink.nucleus.emulator import EmulatorSettings

THING = "ward-9-gateway"
BUCKET = "follow-test-artifacts"
# Install copies the script out of the unarchived artifact (nothing else is fetched);
# Run writes the version it is and stays up, or fails at once.
SCRIPT = 'echo "$1" > "$2"\nexec sleep 600\n'


def _recipe(name: str, version: str, run: str) -> dict[str, Any]:
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": version,
        "ComponentPublisher": "Tests",
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Artifacts": [
                    {"URI": f"s3://{BUCKET}/{name}/{version}/app.zip", "Unarchive": "ZIP"}
                ],
                "Lifecycle": {
                    "Install": "cp {artifacts:decompressedPath}/app/run.sh {work:path}/run.sh",
                    "Run": run,
                },
            }
        ],
    }


def _publish(cloud: LocalCloud, gg: Any, s3: Any, name: str, version: str, fails: bool) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("run.sh", SCRIPT)
    s3.put_object(Bucket=BUCKET, Key=f"{name}/{version}/app.zip", Body=archive.getvalue())
    run = "exit 3" if fails else f"sh {{work:path}}/run.sh {version} {{work:path}}/version"
    gg.create_component_version(inlineRecipe=yaml.safe_dump(_recipe(name, version, run)).encode())


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    return local_cloud


def test_deploy_then_a_failing_version_rolls_the_whole_deployment_back(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    client = CloudClient(cloud.environment())
    gg, s3 = client.greengrass, client.s3
    s3.create_bucket(Bucket=BUCKET)
    _publish(cloud, gg, s3, "com.example.Beat", "1.0.0", fails=False)
    _publish(cloud, gg, s3, "com.example.Peer", "1.0.0", fails=False)
    _publish(cloud, gg, s3, "com.example.Beat", "2.0.0", fails=True)
    _publish(cloud, gg, s3, "com.example.Peer", "1.1.0", fails=False)
    target = client.thing_arn(THING)
    root = tmp_path / "gg"
    settings = EmulatorSettings(
        recipes_dir=root,
        socket_path=root / "ipc.sock",
        tokens_out=root / "tokens.json",
        root_dir=root,
        thing_name=THING,
    )
    follower = DeploymentFollower(client, settings, start_window=1.0)

    def deploy(beat: str, peer: str) -> str:
        versions = {"com.example.Beat": beat, "com.example.Peer": peer}
        created = gg.create_deployment(
            targetArn=target,
            components={
                **{n: {"componentVersion": v} for n, v in versions.items()},
                "aws.greengrass.Nucleus": {"componentVersion": "2.12.0"},
            },
            deploymentPolicies={"failureHandlingPolicy": "ROLLBACK"},
        )
        return str(created["deploymentId"])

    def running_versions() -> dict[str, str]:
        return {
            name: (root / "work" / name / "version").read_text().strip()
            for name in ("com.example.Beat", "com.example.Peer")
        }

    async def scenario() -> tuple[str | None, str | None]:
        try:
            first = deploy("1.0.0", "1.0.0")
            assert await follower.poll_once() == "SUCCEEDED"
            assert running_versions() == {"com.example.Beat": "1.0.0", "com.example.Peer": "1.0.0"}
            assert await follower.poll_once() is None  # nothing new
            second = deploy("2.0.0", "1.1.0")
            assert await follower.poll_once() == "FAILED"
            return first, second
        finally:
            after = running_versions()
            await follower._stop_components()
            await follower._stop_emulator()
            assert after == {"com.example.Beat": "1.0.0", "com.example.Peer": "1.0.0"}

    first, second = asyncio.run(scenario())

    superseded = gg.get_deployment(deploymentId=first)
    assert superseded["deploymentStatus"] == "COMPLETED" and not superseded["isLatestForTarget"]
    failed = gg.get_deployment(deploymentId=second)
    assert failed["deploymentStatus"] == "FAILED"
    effective = {
        d["deploymentId"]: d
        for d in gg.list_effective_deployments(coreDeviceThingName=THING)["effectiveDeployments"]
    }
    assert effective[first]["coreDeviceExecutionStatus"] == "SUCCEEDED"
    assert effective[second]["coreDeviceExecutionStatus"] == "FAILED"
    reason = effective[second]["reason"]
    assert (
        "com.example.Beat 2.0.0 is BROKEN" in reason
        and f"rolled back to deployment {first}" in reason
    )
    installed = {
        c["componentName"]: (c["componentVersion"], c["lifecycleState"])
        for c in gg.list_installed_components(coreDeviceThingName=THING)["installedComponents"]
    }
    assert installed == {
        "com.example.Beat": ("1.0.0", "RUNNING"),
        "com.example.Peer": ("1.0.0", "RUNNING"),
    }
    assert json.loads((root / "deployments" / second / "configuration.json").read_text()) == {}
