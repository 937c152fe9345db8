"""The asyncio component runner shared by every Wardlink component.

It does the parts every component needs and none should re-implement:

* picks the edge bus: Greengrass IPC when the nucleus launched us (its socket and
  SVCUID are in the environment), otherwise a direct MQTT 5 connection configured
  from a YAML file, with a client id of its own per component
  (``<gateway>#<component>``): two connections with one id knock each other off
  the broker;
* loads and validates configuration, and re-applies it when Greengrass pushes an
  update at run time. A configuration that cannot be run (invalid, or plain text to
  a host that is not loopback) stops the component at start-up, before it connects
  anywhere: the reason is logged, the nucleus is told ERRORED, and ``SystemExit``
  ends the process with status 1 and the reason (Greengrass restarts it, and after
  three failures marks it BROKEN, which is what a deployment should see);
* installs structured, PHI-scrubbed logging before anything else logs;
* turns SIGTERM/SIGINT into a graceful stop: the component flushes what it holds
  (bounded by its drain timeout) before the process exits;
* reports RUNNING / ERRORED to the nucleus (UpdateState).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wardlink.bus.port import ComponentState, EdgeBus
from wardlink.runtime.config import (
    ConfigFileError,
    GatewayConfig,
    config_from_document,
    load_config_file,
)
from wardlink.runtime.logs import configure_logging

log = logging.getLogger(__name__)

IPC_SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"


class StartupError(Exception):
    """The component cannot start as configured; the message says why and what to change."""


def under_greengrass() -> bool:
    return bool(os.environ.get(IPC_SOCKET_ENV) and os.environ.get("SVCUID"))


class Component(ABC):
    """A long-running Wardlink component."""

    name: str

    @abstractmethod
    async def run(self, bus: EdgeBus, config: GatewayConfig, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then flush and return."""

    async def reconfigure(self, config: GatewayConfig) -> None:
        """Apply a configuration pushed at run time. Default: keep running as is."""
        log.info("configuration updated; restart the component to apply structural changes")


def mqtt_client_id(gateway_id: str, component_name: str) -> str:
    """The MQTT client id of one component's direct connection: ``<gateway>#<component>``.

    A broker keeps one session per client id, so the DeviceProxy and the Uplink of
    one gateway must not share one (each would take the session over from the
    other, again and again). ``#`` joins them because a gateway id cannot contain
    it and the gateway's IoT policy already allows ``<thing>#*`` (the nucleus names
    its extra connections ``<thing>#2``, ...): ``com.wardlink.Uplink`` on gateway
    ``ward-7`` connects as ``ward-7#uplink``.
    """
    return f"{gateway_id}#{component_name.rsplit('.', 1)[-1].lower()}"


def _direct_bus(config: GatewayConfig, component_name: str) -> EdgeBus:
    from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint

    broker = config.broker
    if broker is None:
        raise StartupError("no broker configured: set `broker.url` in the configuration file")
    try:
        endpoint = MqttEndpoint(
            url=broker.url,
            client_id=mqtt_client_id(config.gateway_id, component_name),
            cert=str(broker.cert) if broker.cert else None,
            key=str(broker.key) if broker.key else None,
            ca=str(broker.ca) if broker.ca else None,
        )
    except ValueError as exc:
        raise StartupError(f"broker: {exc}") from None
    return DirectMqttBus(endpoint, secrets_file=config.secrets_file)


def _validated(source: str, parse: Callable[[], GatewayConfig]) -> GatewayConfig:
    """``parse()``, with a validation failure turned into one readable StartupError."""
    try:
        return parse()
    except ValidationError as exc:
        raise StartupError(f"invalid configuration ({source}): {_describe(exc)}") from None
    except ConfigFileError as exc:  # names the file, the line and the key itself
        raise StartupError(f"invalid configuration: {exc}") from None
    except (OSError, ValueError) as exc:  # unreadable file, YAML that is not a mapping
        raise StartupError(f"invalid configuration ({source}): {exc}") from None


def _describe(error: ValidationError) -> str:
    """``field.path: reason; ...`` - the errors without pydantic's boilerplate.

    pydantic's echo of each input value is left out: a configuration may hold
    secrets, and the reason says what is wrong with the value anyway.
    """
    parts: list[str] = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "configuration"
        context: dict[str, Any] = dict(item.get("ctx") or {})
        reason = str(context["error"]) if "error" in context else item["msg"]
        parts.append(f"{where}: {reason}")
    return "; ".join(parts)


async def _load(component: Component, config_file: Path | None) -> tuple[EdgeBus, GatewayConfig]:
    """The bus and the configuration, or StartupError; nothing has been connected then."""
    if under_greengrass():
        from wardlink.bus.greengrass_ipc import GreengrassIpcBus

        bus: EdgeBus = GreengrassIpcBus()
        await bus.start()
        try:
            document = await bus.get_configuration()
            config = _validated("Greengrass configuration", lambda: config_from_document(document))
        except Exception:
            await _report_errored(bus)
            raise
        thing = os.environ.get("AWS_IOT_THING_NAME")
        if thing and "gatewayId" not in document and "gateway_id" not in document:
            config = config.model_copy(update={"gateway_id": thing})
        return bus, config
    if config_file is None:
        raise StartupError("not running under Greengrass: pass --config FILE")
    config = _validated(str(config_file), lambda: load_config_file(config_file))
    return _direct_bus(config, component.name), config


async def _report_errored(bus: EdgeBus) -> None:
    """Tell the nucleus, then let go of the bus; the start-up error itself propagates."""
    try:
        await bus.update_state(ComponentState.ERRORED)
    except Exception:
        log.warning("could not report ERRORED to the nucleus", exc_info=True)
    finally:
        await bus.close()


async def run_component(
    component: Component,
    config_file: Path | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run ``component`` until SIGTERM/SIGINT (or ``stop``, for embedding and tests).

    Raises ``SystemExit`` (status 1, with the reason) when the configuration cannot
    be run; returns 0 after a clean stop and 1 when the component failed.
    """
    configure_logging(component.name, os.environ.get("WARDLINK_LOG_LEVEL", "INFO"))
    try:
        bus, config = await _load(component, config_file)
    except StartupError as exc:
        if config_file is not None:
            # The file's name and the schema's key names are the operator's and the
            # code's words, never a patient's: keep them readable in the JSON line.
            # A key the schema does not know stays scrubbed; the error suggests the
            # known key it is closest to, which stays readable.
            from wardlink.phi.logfilter import keep_readable
            from wardlink.runtime.config import config_key_names

            keep_readable(str(config_file), config_file.name, *config_key_names())
        log.error("component cannot start: %s", exc)  # scrubbed: hosts and URLs are masked
        # The exit message is the readable one (as Python prints it to stderr).
        raise SystemExit(f"{component.name} cannot start: {exc}") from None
    logging.getLogger().setLevel(config.log_level.upper())
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

    async def on_config(document: dict[str, object]) -> None:
        try:
            await component.reconfigure(config_from_document(dict(document)))
        except Exception:
            log.exception("rejected invalid configuration update")

    try:
        if not under_greengrass():
            await bus.start()
        await bus.watch_configuration(on_config)
        await bus.update_state(ComponentState.RUNNING)
        log.info("component started", extra={"gateway_id": config.gateway_id})
        await component.run(bus, config, stop)
        log.info("component stopped cleanly")
        return 0
    except Exception:
        log.exception("component failed")
        await bus.update_state(ComponentState.ERRORED)
        return 1
    finally:
        await bus.close()
