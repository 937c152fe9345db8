"""The emulated core device follows its deployments from the local cloud, as a nucleus does.

``wardlink gg emulate --cloud-env F`` (F is what ``wardlink cloud local --env-file``
wrote) makes the emulator a core device of the local cloud's Greengrass: it polls the
latest deployment for its thing, and for a new one

1. reports it IN_PROGRESS;
2. downloads each component version's recipe (GetComponent) and its ``s3://``
   artifacts (from the local S3) into ``<root>/deployments/<id>/``; the public
   ``aws.greengrass.*`` components are the nucleus's own and are skipped;
3. stops the components of the previous deployment, and serves IPC for the new set
   (recipes, and the deployment's ``configurationUpdate.merge``);
4. runs each component's Install (from the downloaded artifacts only: nothing else
   is fetched) and then its Run, in dependency order;
5. waits ``start_window`` seconds: a component whose Run exits non-zero (or that
   reports ERRORED) is restarted, and after three failures is BROKEN, as the
   nucleus does. A Run that exits 0 is FINISHED;
6. reports SUCCEEDED with each component's state, or, when a component is BROKEN
   and the deployment's ``failureHandlingPolicy`` is ROLLBACK (the default), stops
   the new set, brings the whole previous deployment back (its components and
   versions, installed and running again) and reports FAILED with the reason.

Reports go to the local cloud's device-report endpoint (see
``wardlink.localcloud.greengrass``), signed with the env file's identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from wardlink.nucleus.emulator import EmulatorSettings, NucleusEmulator
from wardlink.nucleus.runner import install_component, plan_run
from wardlink.packaging.recipe import RecipeError, find_recipes, select_manifest

log = logging.getLogger(__name__)

RESTARTS = 3  # errors before a component is BROKEN, as the nucleus counts them
POLL_SECONDS = 2.0


class DeploymentError(Exception):
    """A deployment cannot be applied (download, recipe, Install or start failed)."""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines, as ``wardlink cloud local --env-file`` writes them."""
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key and not key.startswith("#"):
            env[key] = value
    return env


class CloudClient:
    """The calls a core device makes, to the local cloud named by an env file."""

    def __init__(self, env: Mapping[str, str]) -> None:
        import boto3

        missing = [
            k for k in ("AWS_ENDPOINT_URL_GREENGRASSV2", "AWS_ENDPOINT_URL_S3") if not env.get(k)
        ]
        if missing:
            raise DeploymentError(f"the cloud env file lacks {', '.join(missing)}")
        self.env = dict(env)
        self.region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            region_name=self.region,
        )
        self._session = session
        self.greengrass = session.client(
            "greengrassv2", endpoint_url=env["AWS_ENDPOINT_URL_GREENGRASSV2"]
        )
        self.s3 = session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"])
        self.account = self.greengrass_account()

    def greengrass_account(self) -> str:
        sts_endpoint = self.env.get("AWS_ENDPOINT_URL_STS")
        if not sts_endpoint:
            return "000000000000"
        sts = self._session.client("sts", endpoint_url=sts_endpoint)
        return str(sts.get_caller_identity()["Account"])

    def thing_arn(self, thing: str) -> str:
        return f"arn:aws:iot:{self.region}:{self.account}:thing/{thing}"

    def latest_deployment(self, thing: str) -> dict[str, Any] | None:
        rows = self.greengrass.list_deployments(
            targetArn=self.thing_arn(thing), historyFilter="LATEST_ONLY"
        )["deployments"]
        if not rows:
            return None
        return dict(self.greengrass.get_deployment(deploymentId=rows[-1]["deploymentId"]))

    def recipe(self, name: str, version: str) -> dict[str, Any]:
        arn = (
            f"arn:aws:greengrass:{self.region}:{self.account}:components:{name}:versions:{version}"
        )
        answer = self.greengrass.get_component(arn=arn, recipeOutputFormat="YAML")
        recipe = yaml.safe_load(answer["recipe"])
        if not isinstance(recipe, dict):
            raise DeploymentError(f"{name} {version}: the cloud's recipe is not a mapping")
        return recipe

    def download(self, uri: str, target: Path) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(bucket, key, str(target))

    def report(
        self,
        thing: str,
        deployment_id: str,
        status: str,
        reason: str,
        components: list[dict[str, str]],
    ) -> None:
        import urllib.request

        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        endpoint = self.env["AWS_ENDPOINT_URL_GREENGRASSV2"].rstrip("/")
        url = (
            f"{endpoint}/_local/greengrass/coreDevices/{quote(thing, safe='')}"
            f"/deployments/{quote(deployment_id, safe='')}"
        )
        body = json.dumps({"status": status, "reason": reason, "components": components}).encode()
        request = AWSRequest(
            method="PUT", url=url, data=body, headers={"Content-Type": "application/json"}
        )
        credentials = self._session.get_credentials()
        SigV4Auth(credentials, "greengrass", self.region).add_auth(request)
        prepared = urllib.request.Request(  # noqa: S310 - the local cloud named by the env file
            url, data=body, method="PUT", headers=dict(request.headers.items())
        )
        with urllib.request.urlopen(prepared, timeout=30) as response:  # noqa: S310
            response.read()


@dataclass
class Running:
    name: str
    version: str
    process: subprocess.Popen[bytes] | None = None
    state: str = "NEW"
    errors: int = 0


@dataclass
class Applied:
    """A deployment as it was downloaded: where its recipes and artifacts are."""

    deployment_id: str
    folder: Path
    versions: dict[str, str]
    config_file: Path
    policy: str = "ROLLBACK"
    running: dict[str, Running] = field(default_factory=dict)

    @property
    def recipes(self) -> Path:
        return self.folder / "recipes"

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"


class DeploymentFollower:
    """Applies the thing's latest deployment on the emulated core, with rollback."""

    def __init__(
        self,
        cloud: CloudClient,
        settings: EmulatorSettings,
        start_window: float = 5.0,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.cloud = cloud
        self.settings = settings
        self.start_window = start_window
        self.poll_seconds = poll_seconds
        self.current: Applied | None = None
        self.emulator: NucleusEmulator | None = None
        self.seen: set[str] = set()

    @property
    def thing(self) -> str:
        return self.settings.thing_name

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and apply until ``stop`` is set; then stop the components and the IPC."""
        try:
            while not stop.is_set():
                try:
                    await self.poll_once()
                except Exception:  # the cloud is down, a bad answer: try again next poll
                    log.exception("following deployments failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
        finally:
            await self._stop_components()
            await self._stop_emulator()

    async def poll_once(self) -> str | None:
        """Apply the latest deployment if it is new; returns the status reported, if any."""
        latest = await asyncio.to_thread(self.cloud.latest_deployment, self.thing)
        if latest is None or latest["deploymentId"] in self.seen:
            return None
        self.seen.add(latest["deploymentId"])
        return await self.apply(latest)

    async def apply(self, deployment: dict[str, Any]) -> str:
        deployment_id = str(deployment["deploymentId"])
        log.info("deployment %s: applying", deployment_id)
        await self._report(deployment_id, "IN_PROGRESS", "applying", None)
        try:
            applied = await asyncio.to_thread(self._download, deployment)
        except Exception as exc:  # nothing was changed on the device yet
            reason = f"download failed: {exc}"
            await self._report(deployment_id, "FAILED", reason, self.current)
            return "FAILED"
        previous = self.current
        await self._stop_components()
        broken = await self._start(applied)
        if broken is None:
            self.current = applied
            await self._report(deployment_id, "SUCCEEDED", "all components started", applied)
            return "SUCCEEDED"
        reason = f"{broken}"
        if applied.policy == "ROLLBACK" and previous is not None:
            log.warning("deployment %s failed (%s); rolling back", deployment_id, reason)
            await self._stop_components(applied)
            again = await self._start(previous)
            self.current = previous
            reason += f"; rolled back to deployment {previous.deployment_id}"
            if again is not None:
                reason += f" (which failed too: {again})"
            await self._report(deployment_id, "FAILED", reason, previous)
            return "FAILED"
        if applied.policy == "ROLLBACK":
            await self._stop_components(applied)
            await self._stop_emulator()
            self.current = None
            await self._report(deployment_id, "FAILED", f"{reason}; nothing to roll back to", None)
            return "FAILED"
        self.current = applied
        await self._report(deployment_id, "FAILED", reason, applied)
        return "FAILED"

    # -- download ---------------------------------------------------------------------------

    def _download(self, deployment: dict[str, Any]) -> Applied:
        deployment_id = str(deployment["deploymentId"])
        folder = self.settings.root_dir / "deployments" / deployment_id
        versions: dict[str, str] = {}
        overrides: dict[str, Any] = {}
        for name, spec in (deployment.get("components") or {}).items():
            if name.startswith("aws.greengrass."):
                continue  # the nucleus's own components: the emulator stands in for them
            version = str(spec["componentVersion"])
            versions[name] = version
            recipe = self.cloud.recipe(name, version)
            (folder / "recipes").mkdir(parents=True, exist_ok=True)
            (folder / "recipes" / f"{name}-{version}.yaml").write_text(
                yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8"
            )
            manifest = select_manifest(recipe)
            for artifact in {str(k).lower(): v for k, v in manifest.items()}.get("artifacts") or []:
                keys = {str(k).lower(): v for k, v in artifact.items()}
                uri = str(keys.get("uri", ""))
                if not uri.startswith("s3://"):
                    raise DeploymentError(f"{name}: only s3:// artifacts are served here ({uri})")
                target = folder / "artifacts" / name / version / uri.rsplit("/", 1)[-1]
                self.cloud.download(uri, target)
            update = (spec.get("configurationUpdate") or {}).get("merge")
            if update:
                overrides[name] = json.loads(update) if isinstance(update, str) else update
        (folder / "recipes").mkdir(parents=True, exist_ok=True)
        config_file = folder / "configuration.json"
        config_file.write_text(json.dumps(overrides), encoding="utf-8")
        policy = str(
            (deployment.get("deploymentPolicies") or {}).get("failureHandlingPolicy") or "ROLLBACK"
        )
        return Applied(deployment_id, folder, versions, config_file, policy)

    # -- components -------------------------------------------------------------------------

    def _settings_for(self, applied: Applied) -> EmulatorSettings:
        from dataclasses import replace

        return replace(self.settings, recipes_dir=applied.recipes, config_file=applied.config_file)

    async def _start(self, applied: Applied) -> str | None:
        """Serve IPC for ``applied``, install and run its components; the reason it is
        broken, or None when every component started."""
        await self._stop_emulator()
        try:
            emulator = NucleusEmulator(self._settings_for(applied))
        except RecipeError as exc:
            return f"invalid deployment: {exc}"
        await emulator.start()
        self.emulator = emulator
        recipes = find_recipes(applied.recipes)
        applied.running = {n: Running(n, v) for n, v in applied.versions.items()}
        for name in _dependency_order(recipes):
            running = applied.running[name]
            installed = await asyncio.to_thread(
                install_component,
                name,
                recipes_dir=applied.recipes,
                artifacts_dir=applied.artifacts / name / applied.versions[name],
                root_dir=self.settings.root_dir,
                thing_name=self.thing,
                config_file=applied.config_file,
            )
            if installed.returncode != 0:
                running.state = "BROKEN"
                tail = installed.output.strip().splitlines()[-1:] or [""]
                return (
                    f"{name} {running.version}: Install failed ({installed.returncode}) {tail[0]}"
                )
            running.state = "INSTALLED"
            self._launch(applied, running)
        deadline = time.monotonic() + self.start_window
        while time.monotonic() < deadline:
            for running in applied.running.values():
                broken = self._check(applied, running)
                if broken:
                    return broken
            await asyncio.sleep(0.1)
        for running in applied.running.values():
            broken = self._check(applied, running)
            if broken:
                return broken
        return None

    def _launch(self, applied: Applied, running: Running) -> None:
        plan = plan_run(
            running.name,
            recipes_dir=applied.recipes,
            socket_path=self.settings.socket_path,
            tokens_file=self.settings.tokens_out,
            root_dir=self.settings.root_dir,
            thing_name=self.thing,
            region=self.cloud.region,
            config_file=applied.config_file,
        )
        log_dir = self.settings.root_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / f"{running.name}.log").open("ab") as out:
            running.process = subprocess.Popen(  # noqa: S603 - the recipe's own Run step
                plan.argv,
                cwd=plan.cwd,
                env={**os.environ, **plan.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running.state = "RUNNING"

    def _check(self, applied: Applied, running: Running) -> str | None:
        """Restart a component whose Run failed; the reason once it is BROKEN."""
        process = running.process
        reported = (
            (self.emulator.states.get(running.name) or {}).get("state") if self.emulator else None
        )
        code = process.poll() if process is not None else None
        if code == 0 and running.state == "RUNNING":
            running.state = "FINISHED"
            return None
        failed = (code is not None and code != 0) or reported == "ERRORED"
        if not failed or running.state in ("FINISHED", "BROKEN"):
            return None
        running.errors += 1
        _terminate(process)
        if self.emulator is not None:
            self.emulator.states.pop(running.name, None)
        if running.errors >= RESTARTS:
            running.state = "BROKEN"
            failures = f"failed {running.errors} times at start"
            return f"{running.name} {running.version} is BROKEN ({failures})"
        log.info("%s failed at start (%s); restarting", running.name, code)
        self._launch(applied, running)
        return None

    async def _stop_components(self, applied: Applied | None = None) -> None:
        target = applied or self.current
        if target is None:
            return
        for running in target.running.values():
            await asyncio.to_thread(_terminate, running.process)
            if running.state not in ("BROKEN", "FINISHED"):
                running.state = "INSTALLED"

    async def _stop_emulator(self) -> None:
        if self.emulator is not None:
            await self.emulator.stop()
            self.emulator = None

    async def _report(
        self, deployment_id: str, status: str, reason: str, applied: Applied | None
    ) -> None:
        components = [
            {"name": r.name, "version": r.version, "state": r.state}
            for r in (applied.running.values() if applied is not None else ())
        ]
        try:
            await asyncio.to_thread(
                self.cloud.report, self.thing, deployment_id, status, reason, components
            )
        except Exception:
            log.exception("could not report deployment %s as %s", deployment_id, status)
        log.info("deployment %s: %s (%s)", deployment_id, status, reason)


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _dependency_order(recipes: Mapping[str, Any]) -> list[str]:
    """Dependencies first (those in the deployment), then by name."""
    order: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in order or name not in recipes or name in trail:
            return
        for dependency in sorted(recipes[name].dependencies):
            visit(dependency, (*trail, name))
        order.append(name)

    for name in sorted(recipes):
        visit(name, ())
    return order
