"""The asyncio component runner shared by every Wardlink component.

It does the parts every component needs and none should re-implement:

* picks the edge bus: Greengrass IPC when the nucleus launched us (its socket and
  SVCUID are in the environment), otherwise a direct MQTT 5 connection configured
  from a YAML file;
* loads and validates configuration, and re-applies it when Greengrass pushes an
  update at run time;
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
from pathlib import Path

from wardlink.bus.port import ComponentState, EdgeBus
from wardlink.runtime.config import GatewayConfig, config_from_document, load_config_file
from wardlink.runtime.logs import configure_logging

log = logging.getLogger(__name__)

IPC_SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"


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


def _direct_bus(config: GatewayConfig, client_suffix: str) -> EdgeBus:
    from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint

    broker = config.broker
    if broker is None:
        raise SystemExit("no broker configured: set `broker.url` in the configuration file")
    endpoint = MqttEndpoint(
        url=broker.url,
        client_id=f"{config.gateway_id}-{client_suffix}",
        cert=str(broker.cert) if broker.cert else None,
        key=str(broker.key) if broker.key else None,
        ca=str(broker.ca) if broker.ca else None,
    )
    return DirectMqttBus(endpoint, secrets_file=config.secrets_file)


async def _load(config_file: Path | None) -> tuple[EdgeBus, GatewayConfig]:
    if under_greengrass():
        from wardlink.bus.greengrass_ipc import GreengrassIpcBus

        bus: EdgeBus = GreengrassIpcBus()
        await bus.start()
        document = await bus.get_configuration()
        config = config_from_document(document)
        thing = os.environ.get("AWS_IOT_THING_NAME")
        if thing and "gatewayId" not in document and "gateway_id" not in document:
            config = config.model_copy(update={"gateway_id": thing})
        return bus, config
    if config_file is None:
        raise SystemExit("not running under Greengrass: pass --config FILE")
    config = load_config_file(config_file)
    return _direct_bus(config, "direct"), config


async def run_component(
    component: Component,
    config_file: Path | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run ``component`` until SIGTERM/SIGINT (or ``stop``, for embedding and tests)."""
    configure_logging(component.name, os.environ.get("WARDLINK_LOG_LEVEL", "INFO"))
    bus, config = await _load(config_file)
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
