"""A local stand-in for the Greengrass nucleus: IPC, authorization, MQTT.

``NucleusEmulator`` loads every recipe under a directory, builds each
component's effective configuration (recipe defaults, then ``--config``
overrides, then recipe variables), derives the IPC authorization policies from
it, gives each component a random SVCUID, and serves event-stream RPC on a
Unix socket. A component started with that socket path and its SVCUID in the
environment (``wardlink gg run`` does this) cannot tell it from a nucleus for
the operations listed in ``services``.

The token file is written 0600 and removed on shutdown: a token is the only
thing that proves which component is calling, exactly as on a real core device.
A connection that has not presented one may cost little: it must send its
CONNECT within ``connect_timeout`` seconds, and only a small one (see ``rpc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import signal
import socket
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wardlink.nucleus.authorization import AccessControl
from wardlink.nucleus.config_store import ConfigStore
from wardlink.nucleus.defaults import DEFAULT_THING_NAME
from wardlink.nucleus.mqtt_bridge import BrokerSettings, MqttBridge
from wardlink.nucleus.pubsub import LocalPubSub
from wardlink.nucleus.rpc import CONNECT_TIMEOUT_SECONDS, RpcServer
from wardlink.nucleus.secret_store import SecretStore
from wardlink.nucleus.services import Nucleus, build_operations
from wardlink.packaging.recipe import (
    Recipe,
    RecipeError,
    VariableContext,
    deep_merge,
    find_recipes,
    load_config_overrides,
)

log = logging.getLogger(__name__)

MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class EmulatorSettings:
    recipes_dir: Path
    socket_path: Path
    tokens_out: Path
    root_dir: Path
    mqtt_url: str | None = None
    mqtt_ca: Path | None = None
    mqtt_cert: Path | None = None
    mqtt_key: Path | None = None
    mqtt_client_id: str | None = None
    thing_name: str = DEFAULT_THING_NAME
    config_file: Path | None = None
    secrets_file: Path | None = None
    state_file: Path | None = None
    publish_timeout: float = 10.0
    #: Seconds a new IPC connection has to authenticate before it is closed.
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS


def write_private_json(path: Path, document: Any) -> None:
    """Write JSON readable by the owner only, replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def effective_configurations(
    recipes: dict[str, Recipe],
    overrides: dict[str, dict[str, Any]],
    thing_name: str,
    root_dir: Path,
) -> dict[str, dict[str, Any]]:
    """Defaults merged with overrides, then recipe variables resolved."""
    unknown = sorted(set(overrides) - set(recipes))
    if unknown:
        raise RecipeError(f"configuration given for unknown components: {', '.join(unknown)}")
    merged = {
        name: deep_merge(recipe.default_configuration, overrides.get(name, {}))
        for name, recipe in recipes.items()
    }
    versions = {name: recipe.version for name, recipe in recipes.items()}
    resolved: dict[str, dict[str, Any]] = {}
    for name, recipe in recipes.items():
        context = VariableContext(
            component=name,
            thing_name=thing_name,
            root_path=root_dir,
            configurations=merged,
            dependencies=tuple(recipe.dependencies),
            versions=versions,
        )
        resolved[name] = context.interpolate(merged[name])
    return resolved


def private_directory(path: Path) -> None:
    """Create ``path`` (0700) or check that an existing one is ours and not shared.

    The socket and token file live here, often under /tmp: a directory another
    user owns or can write to would let them swap the socket or the tokens.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RecipeError(f"refusing to use {path}: it is not a directory owned by you")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RecipeError(f"refusing to use {path}: other users can write to it")


def _prepare_socket_path(path: Path) -> None:
    if len(str(path)) > MAX_SOCKET_PATH:
        raise RecipeError(f"socket path {path} is longer than {MAX_SOCKET_PATH} bytes")
    private_directory(path.parent)
    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise RecipeError(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except OSError:
        path.unlink()  # stale socket from an emulator that died
    else:
        raise RecipeError(f"another emulator is serving {path}")
    finally:
        probe.close()


class NucleusEmulator:
    """Owns the IPC server, the shared stores and the MQTT bridge."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.recipes = find_recipes(settings.recipes_dir)
        overrides = load_config_overrides(settings.config_file) if settings.config_file else {}
        self.configurations = effective_configurations(
            self.recipes, overrides, settings.thing_name, settings.root_dir
        )
        self.access = AccessControl.from_configurations(self.configurations)
        self.config = ConfigStore(self.configurations)
        self.pubsub = LocalPubSub()
        self.secrets = (
            SecretStore.load(settings.secrets_file)
            if settings.secrets_file
            else SecretStore.empty()
        )
        self.bridge = (
            MqttBridge(
                BrokerSettings.from_url(
                    settings.mqtt_url,
                    settings.mqtt_client_id or settings.thing_name,
                    settings.mqtt_ca,
                    settings.mqtt_cert,
                    settings.mqtt_key,
                ),
                publish_timeout=settings.publish_timeout,
            )
            if settings.mqtt_url
            else None
        )
        self.tokens = {name: secrets.token_urlsafe(32) for name in sorted(self.recipes)}
        self.states: dict[str, dict[str, str]] = {}
        nucleus = Nucleus(
            access=self.access,
            config=self.config,
            pubsub=self.pubsub,
            secrets=self.secrets,
            bridge=self.bridge,
            record_state=self.record_state,
        )
        self._server = RpcServer(
            str(settings.socket_path),
            self.authenticate,
            build_operations(nucleus),
            connect_timeout=settings.connect_timeout,
        )
        self._started = False

    def authenticate(self, token: str) -> str | None:
        """The component a SVCUID belongs to (constant-time comparison)."""
        owner = None
        for component, expected in self.tokens.items():
            if hmac.compare_digest(expected.encode(), token.encode()):
                owner = component
        return owner

    def record_state(self, component: str, state: str) -> None:
        self.states[component] = {"state": state, "at": datetime.now(UTC).isoformat()}
        log.info("component %s reported state %s", component, state)
        if self.settings.state_file is not None:
            write_private_json(self.settings.state_file, self.states)

    async def start(self) -> None:
        _prepare_socket_path(self.settings.socket_path)
        private_directory(self.settings.root_dir)
        private_directory(self.settings.tokens_out.parent)
        for name in self.recipes:
            (self.settings.root_dir / "work" / name).mkdir(parents=True, exist_ok=True)
        if self.bridge is not None:
            self.bridge.start()
        await self._server.start()
        os.chmod(self.settings.socket_path, 0o600)
        write_private_json(self.settings.tokens_out, self.tokens)
        self._started = True
        log.info(
            "nucleus emulator serving %s for %s (thing %s)",
            self.settings.socket_path,
            ", ".join(sorted(self.recipes)),
            self.settings.thing_name,
        )

    async def stop(self) -> None:
        await self._server.close()
        if self.bridge is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.bridge.stop)
        if self._started:
            with contextlib.suppress(FileNotFoundError):
                self.settings.socket_path.unlink()
            with contextlib.suppress(FileNotFoundError):
                self.settings.tokens_out.unlink()
        self._started = False


async def serve_forever(emulator: NucleusEmulator, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or cancellation), then shut down cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await emulator.start()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await emulator.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
