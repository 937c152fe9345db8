"""The local cloud's Greengrass v2 control plane, through boto3 as the GDK CLI and the
AWS CLI call it (endpoints from the env file's ``AWS_ENDPOINT_URL_*`` variables).

Then the real GDK CLI (the shared 1.6.2 wheel, in its own venv) publishes every
component of the session's build to it, and the local cloud lists each version.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from tests.greengrass.local_cloud import gdk_project, write_env_file
from wardlink.localcloud import LocalCloud

REPO = Path(__file__).resolve().parents[2]
THING = "ward-7-gateway"

RECIPE = {
    "RecipeFormatVersion": "2020-01-25",
    "ComponentName": "com.example.Hello",
    "ComponentVersion": "1.0.0",
    "ComponentPublisher": "Tests",
    "ComponentDescription": "says hello",
    "Manifests": [
        {
            "Platform": {"os": "linux"},
            "Lifecycle": {"Run": "echo hello"},
            "Artifacts": [{"URI": "s3://gg-test-artifacts/com.example.Hello/1.0.0/hello.zip"}],
        }
    ],
}


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    return local_cloud


def _client(cloud: LocalCloud, service: str, env: dict[str, str] | None = None) -> Any:
    env = env or cloud.environment()
    return boto3.client(
        service,
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        endpoint_url=env[f"AWS_ENDPOINT_URL_{service.upper()}"],
    )


def test_components_and_deployments_round_trip(cloud: LocalCloud) -> None:
    gg = _client(cloud, "greengrassv2")
    s3 = _client(cloud, "s3")
    sts = _client(cloud, "sts")
    assert sts.get_caller_identity()["Account"] == cloud.config.account_id

    with pytest.raises(ClientError) as missing:  # the artifact is not uploaded yet
        gg.create_component_version(inlineRecipe=json.dumps(RECIPE).encode())
    assert "hello.zip" in str(missing.value)
    s3.create_bucket(Bucket="gg-test-artifacts")
    s3.put_object(Bucket="gg-test-artifacts", Key="com.example.Hello/1.0.0/hello.zip", Body=b"z")
    created = gg.create_component_version(inlineRecipe=yaml.safe_dump(RECIPE).encode())
    assert created["status"]["componentState"] == "DEPLOYABLE"
    arn = created["arn"]
    with pytest.raises(ClientError, match="ConflictException"):
        gg.create_component_version(inlineRecipe=json.dumps(RECIPE).encode())

    component_arn = arn.rsplit(":versions:", 1)[0]
    (listed,) = [
        c for c in gg.list_components()["components"] if c["componentName"] == "com.example.Hello"
    ]
    assert listed["latestVersion"]["componentVersion"] == "1.0.0"
    versions = gg.list_component_versions(arn=component_arn)["componentVersions"]
    assert [v["componentVersion"] for v in versions] == ["1.0.0"]
    assert gg.describe_component(arn=arn)["publisher"] == "Tests"
    recipe = yaml.safe_load(gg.get_component(arn=arn, recipeOutputFormat="YAML")["recipe"])
    assert recipe["ComponentName"] == "com.example.Hello"

    target = f"arn:aws:iot:{cloud.region}:{cloud.config.account_id}:thing/{THING}"
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        gg.create_deployment(
            targetArn=target, components={"com.example.Hello": {"componentVersion": "9.9.9"}}
        )
    deployment = gg.create_deployment(
        targetArn=target,
        deploymentName="hello",
        components={
            "com.example.Hello": {"componentVersion": "1.0.0"},
            "aws.greengrass.Nucleus": {"componentVersion": "2.12.0"},
        },
    )
    got = gg.get_deployment(deploymentId=deployment["deploymentId"])
    assert got["deploymentStatus"] == "ACTIVE" and got["isLatestForTarget"]
    listed_deployments = gg.list_deployments(targetArn=target)["deployments"]
    assert [d["deploymentId"] for d in listed_deployments] == [deployment["deploymentId"]]
    (effective,) = gg.list_effective_deployments(coreDeviceThingName=THING)["effectiveDeployments"]
    assert effective["coreDeviceExecutionStatus"] == "QUEUED"


def test_only_the_operator_publishes(cloud: LocalCloud) -> None:
    gateway = cloud.gateway_credentials(THING)
    env = {
        **cloud.environment(),
        "AWS_ACCESS_KEY_ID": gateway.access_key,
        "AWS_SECRET_ACCESS_KEY": gateway.secret_key,
        "AWS_SESSION_TOKEN": gateway.session_token or "",
    }
    with pytest.raises(ClientError, match="AccessDenied"):
        _client(cloud, "greengrassv2", env).create_component_version(
            inlineRecipe=json.dumps({**RECIPE, "ComponentVersion": "1.0.1"}).encode()
        )


@pytest.mark.integration
def test_the_real_gdk_publishes_every_component_to_the_local_cloud(
    cloud: LocalCloud, gateway_build: Path, tmp_path: Path
) -> None:
    from tests.greengrass.test_real_gdk import _gdk

    gdk = _gdk()
    env_file = write_env_file(cloud, tmp_path / "cloud.env")
    env = dict(os.environ)
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    env["PATH"] = f"{gdk.parent}:{env['PATH']}"
    names = []
    for project in sorted((REPO / "recipes").iterdir()):  # Uplink before DeviceProxy: any order
        folder = gdk_project(gateway_build, project, tmp_path)
        done = subprocess.run(
            [str(gdk), "component", "publish"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        names.append(folder.name)
    gg = _client(cloud, "greengrassv2")
    listed = {c["componentName"]: c["latestVersion"] for c in gg.list_components()["components"]}
    for name in names:
        assert listed[name]["componentVersion"] == "0.1.0"
        recipe = json.loads(
            gg.get_component(arn=listed[name]["arn"], recipeOutputFormat="JSON")["recipe"]
        )
        uris = [a["URI"] for m in recipe["Manifests"] for a in m.get("Artifacts", [])]
        bucket = f"wardlink-greengrass-components-us-east-1-{cloud.config.account_id}"
        assert uris and all(u.startswith(f"s3://{bucket}/{name}/0.1.0/") for u in uris)


def test_a_malformed_device_report_is_refused(cloud: LocalCloud) -> None:
    from wardlink.nucleus.deployments import CloudClient

    client = CloudClient(cloud.environment())
    target = client.thing_arn("ward-8-gateway")
    deployment = client.greengrass.create_deployment(
        targetArn=target, components={"aws.greengrass.Nucleus": {"componentVersion": "2.12.0"}}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        client.report(
            "ward-8-gateway",
            deployment["deploymentId"],
            "SUCCEEDED",
            "ok",
            [{"version": "1.0.0", "state": "RUNNING"}],  # no name
        )
    assert refused.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as unknown:
        client.report("ward-8-gateway", deployment["deploymentId"], "DONE", "?", [])
    assert unknown.value.code == 400
    client.report("ward-8-gateway", deployment["deploymentId"], "SUCCEEDED", "ok", [])
    got = client.greengrass.get_deployment(deploymentId=deployment["deploymentId"])
    assert got["deploymentStatus"] == "COMPLETED"
