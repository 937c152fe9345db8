"""The demo attached to a local cloud that runs on its own (``wardlink demo --cloud-env F``).

``wardlink demo --cloud`` starts a local cloud and stops it with the demo, so support
has nothing left to triage afterwards. Attached, the demo uses the cloud that
``wardlink cloud local --env-file F`` keeps running: it asks that cloud (signed as
the operator named in F) for the demo gateway's own credentials, registers the
devices through the API with them, and hands every message its broker accepted to
the cloud's IoT rule stand-in (``POST /_local/iot-rule``). When the demo ends the
cloud keeps running, with its devices, telemetry and alarms, so ``wardlink support
... --env-file F`` works during and after the demo.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
from pathlib import Path
from typing import Any

from wardlink.demo.cloud_side import SITE_ID, CloudReport, DemoCloud
from wardlink.uplink.registrar import DeviceRegistrar

log = logging.getLogger(__name__)

IOT_RULE_PATH = "/_local/iot-rule"
CREDENTIALS_PATH = "/_local/credentials"
BATCH = 200
BATCH_BYTES = 3 * 1024 * 1024  # base64 makes it 4 MB: below the local API's 6 MB body limit


class AttachedCloud(DemoCloud):
    """A ``DemoCloud`` whose local cloud is another process, found through its env file."""

    def __init__(self, env_file: Path, gateway_id: str) -> None:
        from wardlink.fleet.operator import read_env_file

        self.gateway_id = gateway_id
        self.env_file = env_file
        try:
            self.env = read_env_file(env_file)
            self.endpoint = self.env["WARDLINK_API_ENDPOINT"]
            self.region = self.env["AWS_REGION"]
            missing = [
                n for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if n not in self.env
            ]
            if missing:
                raise KeyError(missing[0])
        except OSError as exc:
            raise SystemExit(f"--cloud-env {env_file}: {exc}") from exc
        except KeyError as exc:
            raise SystemExit(
                f"--cloud-env {env_file} names no {exc.args[0]}: use the file "
                "`wardlink cloud local --env-file F` writes"
            ) from exc
        self.registrar: DeviceRegistrar | None = None
        self.report = CloudReport()
        self._outbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self.forwarded = 0
        self.forward_failures = 0

    def _operator(self) -> Any:
        from botocore.credentials import Credentials

        from wardlink.cloudclient import RetryPolicy, WardlinkApiClient

        return WardlinkApiClient(
            self.endpoint,
            self.region,
            Credentials(
                self.env["AWS_ACCESS_KEY_ID"],
                self.env["AWS_SECRET_ACCESS_KEY"],
                self.env.get("AWS_SESSION_TOKEN") or None,
            ),
            retry=RetryPolicy(max_attempts=3, base_delay_s=0.2),
            user_agent="wardlink-demo",
        )

    async def start(self) -> None:
        import asyncio

        from wardlink.cloudclient.errors import ApiClientError, ApiUnavailableError

        try:
            await asyncio.to_thread(self._mint, {"support": True})  # is anyone there?
        except (ApiClientError, ApiUnavailableError) as exc:
            raise SystemExit(
                f"--cloud-env {self.env_file}: the local cloud at {self.endpoint} does not "
                f"answer ({exc}); is `wardlink cloud local --env-file {self.env_file}` running?"
            ) from exc
        self._sender = threading.Thread(
            target=self._send_loop, name="wardlink-demo-iot-rule", daemon=True
        )
        self._sender.start()
        self.registrar = DeviceRegistrar(self._client, self.gateway_id, SITE_ID)
        print(f"attached to the local cloud at {self.endpoint} ({self.env_file})", flush=True)

    def _mint(self, wanted: dict[str, Any]) -> dict[str, str]:
        _, data = self._operator().send("POST", CREDENTIALS_PATH, json.dumps(wanted).encode())
        minted: dict[str, str] = json.loads(data)
        return minted

    def _client(self, *, support: bool = False) -> Any:
        """An API client as the demo gateway (its own thing name), or as support."""
        from botocore.credentials import Credentials

        from wardlink.cloudclient import WardlinkApiClient

        lines = self._mint({"support": True} if support else {"gateway_id": self.gateway_id})
        return WardlinkApiClient(
            self.endpoint,
            self.region,
            Credentials(
                lines["AWS_ACCESS_KEY_ID"],
                lines["AWS_SECRET_ACCESS_KEY"],
                lines.get("AWS_SESSION_TOKEN"),
            ),
        )

    def forward(self, topic: str, payload: bytes) -> None:
        """Queue one accepted message for the cloud's IoT rule (sent on a thread)."""
        self._outbox.put((topic, payload))

    def _send_loop(self) -> None:
        operator = self._operator()
        done = False
        while not done:
            item = self._outbox.get()
            batch: list[tuple[str, bytes]] = []
            size = 0
            while item is not None:
                batch.append(item)
                size += len(item[1])
                if len(batch) >= BATCH or size >= BATCH_BYTES or self._outbox.empty():
                    break
                item = self._outbox.get()
            done = item is None
            if batch:
                self._send(operator, batch)

    def _send(self, operator: Any, batch: list[tuple[str, bytes]]) -> None:
        from wardlink.cloudclient.errors import ApiClientError, ApiUnavailableError

        body = {
            "messages": [
                {"topic": topic, "payload_b64": base64.b64encode(payload).decode()}
                for topic, payload in batch
            ]
        }
        try:
            operator.send("POST", IOT_RULE_PATH, json.dumps(body).encode())
            self.forwarded += len(batch)
        except (ApiClientError, ApiUnavailableError) as exc:
            self.forward_failures += len(batch)
            log.warning("the local cloud refused messages", extra={"error": str(exc)})

    def _read_back(self) -> None:
        """Each demo device's last hour, read back from the cloud's InfluxDB (InfluxQL)."""
        from wardlink.cloudapi.telemetry.influxdb import InfluxHTTP
        from wardlink.cloudapi.telemetry.reader import InfluxQLReader

        url = self.env.get("INFLUXDB_URL")
        if not url:
            return
        reader = InfluxQLReader(
            InfluxHTTP(url), self.env.get("INFLUXDB_DATABASE", "wardlink_local")
        )
        self.report.telemetry_store = f"influxdb {url}"
        for device in sorted(self.report.telemetry_read_back_by_device):
            rows = reader.last_hour(device)
            self.report.telemetry_read_back_by_device[device] = len(rows)
            self.report.telemetry_points_read_back += len(rows)

    async def finish(self) -> CloudReport:
        """Flush the outbox and report; the cloud itself keeps running."""
        import asyncio

        from wardlink.contract.models import AlarmState

        self._outbox.put(None)
        if self._sender is not None:
            await asyncio.to_thread(self._sender.join, 30.0)
        self.report.messages_forwarded = self.forwarded
        try:
            support = await asyncio.to_thread(self._client, support=True)
            devices = await asyncio.to_thread(
                lambda: list(support.iter_devices(gateway_id=None, site_id=SITE_ID))
            )
            for device in devices:
                if device.gateway_id == self.gateway_id:
                    self.report.telemetry_read_back_by_device[device.device_id] = 0
            # the demo gateway's devices as the cloud has them registered
            self.report.devices_registered = len(self.report.telemetry_read_back_by_device)
            await asyncio.to_thread(self._read_back)
            page = await asyncio.to_thread(support.list_alarms, AlarmState.ACTIVE)
            self.report.active_alarms = [
                {"alarm_id": a.alarm_id, "state": str(a.state), "title": a.title}
                for a in page.items
            ]
            self.report.alerts = [f"{a.title}: {a.last_alert}" for a in page.items if a.last_alert]
        except Exception as exc:  # the report is informative; never fail the demo on it
            log.warning("could not read the cloud back", extra={"error": str(exc)})
        print(
            f"the local cloud keeps running at {self.endpoint}: try "
            f"`wardlink support alarms list --env-file {self.env_file}`",
            flush=True,
        )
        return self.report
