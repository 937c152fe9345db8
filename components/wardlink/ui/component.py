"""``com.wardlink.GatewayUI``: the technician's UI as a Greengrass component.

It subscribes to what the other components publish on the local bus, reads the
command key from the Greengrass secret store (IPC GetSecretValue; a secrets file
outside Greengrass), makes or loads its TLS certificate and serves HTTPS with
uvicorn in the component's event loop. Without the command key the UI still
shows everything, and says that actions are unavailable. Every audit record is
also copied to the cloud and, when configured, the site's syslog (``audit_copies``).
With a cloud API configured it reads support's diagnostics requests and sends the
technician's decisions, with the gateway's token-exchange credentials
(``support_requests``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wardlink.bus.port import EdgeBus, LocalMessage
from wardlink.runtime.config import GatewayConfig, UiConfig
from wardlink.runtime.runner import Component
from wardlink.ui.accounts import AccountStore
from wardlink.ui.app import CommandClient, Sessions, UiContext, create_app
from wardlink.ui.asgi_server import Config, Server
from wardlink.ui.audit import AuditLog
from wardlink.ui.audit_copies import AuditCopies
from wardlink.ui.diagnostics import LogRing
from wardlink.ui.heap import keep_trimmed, small_tls_buffers
from wardlink.ui.signing import COMMANDS_TOPIC, RESULTS_TOPIC
from wardlink.ui.site_view import (
    DEVICES_TOPIC,
    SITE_DEVICES_TOPIC,
    SITE_TOPIC,
    TELEMETRY_TOPIC,
    SiteView,
)
from wardlink.ui.support_requests import SupportRequests
from wardlink.ui.tls import ServerCertificate, certificate_in_child

log = logging.getLogger(__name__)


class _Server(Server):
    """uvicorn without its own signal handling: the component runner owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class UiServer:
    """A running UI: its context (for tests and the demo) and where it listens."""

    ctx: UiContext
    host: str
    port: int
    certificate: ServerCertificate

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def build_context(
    settings: UiConfig, gateway_id: str, view: SiteView, commands: CommandClient | None
) -> UiContext:
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    return UiContext(
        view=view,
        accounts=AccountStore(state / "accounts.json", settings.max_failures, settings.lockout_s),
        audit=AuditLog(state / "audit.jsonl"),
        sessions=Sessions(settings.idle_timeout_s),
        gateway_id=gateway_id,
        commands=commands,
        log_files=settings.log_files,
        disk_path=state,
    )


def attach_audit_copies(ctx: UiContext, bus: EdgeBus, settings: UiConfig) -> AuditCopies:
    """Copy every audit record to the cloud (through the Uplink) and the site's syslog."""
    copies = AuditCopies.for_gateway(
        bus.publish_local, ctx.gateway_id, settings.syslog, max_queued=settings.audit_queue
    )
    ctx.audit.sinks.append(copies.sink)
    ctx.audit_copies = copies
    return copies


def support_requests(url: str, region: str, gateway_id: str) -> SupportRequests:
    """Support's diagnostics requests, read and answered with the gateway's credentials."""

    def client() -> object:
        from wardlink.cloudclient import WardlinkApiClient

        return WardlinkApiClient.for_gateway(url, region)

    return SupportRequests(client, gateway_id)


async def subscribe(bus: EdgeBus, view: SiteView, commands: CommandClient | None) -> None:
    """Feed ``view`` (and command answers) from the local bus."""

    async def on_state(message: LocalMessage) -> None:
        view.ingest(message.topic, message.payload)

    for topic in (DEVICES_TOPIC, TELEMETRY_TOPIC, SITE_TOPIC, SITE_DEVICES_TOPIC):
        await bus.subscribe_local(topic, on_state)
    if commands is not None:

        async def on_result(message: LocalMessage) -> None:
            commands.on_result(message.payload)

        await bus.subscribe_local(RESULTS_TOPIC, on_result)


async def serve(
    ctx: UiContext,
    certificate: ServerCertificate,
    host: str,
    port: int,
    stop: asyncio.Event,
    started: asyncio.Future[UiServer] | None = None,
) -> None:
    """Serve HTTPS until ``stop``; ``started`` gets the bound address once listening."""
    config = Config(
        create_app(ctx),
        host=host,
        port=port,
        ssl_certfile=str(certificate.cert_file),
        ssl_keyfile=str(certificate.key_file),
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.05)
    if server.started:
        bound = server.servers[0].sockets[0].getsockname()
        log.info("gateway UI listening", extra={"host": host, "port": int(bound[1])})
        if started is not None and not started.done():
            started.set_result(UiServer(ctx, host, int(bound[1]), certificate))
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopper.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    if started is not None and not started.done():
        started.set_exception(RuntimeError(f"the UI could not listen on {host}:{port}"))


class GatewayUI(Component):
    name = "com.wardlink.GatewayUI"

    def __init__(self) -> None:
        self.ring = LogRing()

    async def run(self, bus: EdgeBus, config: GatewayConfig, stop: asyncio.Event) -> None:
        settings = config.ui
        small_tls_buffers()
        logging.getLogger().addHandler(self.ring)
        view = SiteView()
        commands: CommandClient | None = None
        key = b""
        try:
            key = await bus.get_secret(settings.command_key_secret)
            commands = CommandClient(key, bus.publish_local, COMMANDS_TOPIC)
        except Exception as exc:
            log.warning(
                "command key unavailable: the UI shows the site but cannot send commands",
                extra={"secret": settings.command_key_secret, "error": type(exc).__name__},
            )
        ctx = build_context(settings, config.gateway_id, view, commands)
        ctx.log_ring = self.ring
        ctx.config = config.model_dump(mode="json", by_alias=True)
        ctx.forbidden = (key,) if key else ()
        certificate, ctx.cert_not_after = await asyncio.to_thread(
            certificate_in_child,
            settings.state_dir,
            config.gateway_id,
            settings.host,
            settings.cert_file,
            settings.key_file,
        )
        copies = attach_audit_copies(ctx, bus, settings)
        background = [asyncio.create_task(copies.run(stop))]
        if config.api is not None:
            ctx.support = support_requests(config.api.url, config.api.region, config.gateway_id)
            background.append(asyncio.create_task(ctx.support.run(stop)))
        await subscribe(bus, view, commands)
        started: asyncio.Future[UiServer] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            serve(ctx, certificate, settings.host, settings.port, stop, started)
        )
        trimming: asyncio.Task[None] | None = None
        try:
            first: set[asyncio.Future[Any]] = {server, started}
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            trimming = asyncio.create_task(keep_trimmed(stop))  # start-up's garbage, then steady
            await server
        finally:
            stop.set()
            if trimming is not None:
                trimming.cancel()
                await asyncio.gather(trimming, return_exceptions=True)
            if not server.done():
                server.cancel()
                await asyncio.gather(server, return_exceptions=True)
            await asyncio.gather(*background, return_exceptions=True)
