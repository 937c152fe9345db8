"""``wardlink gg``: a local Greengrass nucleus for developing components.

``wardlink gg emulate`` serves Greengrass IPC on a Unix socket with the
authorization the recipes declare, bridging IoT Core operations to an MQTT
broker; with ``--cloud-env F`` it follows the thing's deployments from the local
cloud instead of serving a recipes directory (``wardlink.nucleus.deployments``).
``wardlink gg run COMPONENT`` starts a component against it with the
environment the nucleus would give it. Both default to the same per-user
directory (``/tmp/wardlink-gg-$UID``, or ``$WARDLINK_GG_ROOT``) for the socket,
token file and work directories, so they find each other without flags.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_RECIPES = Path("recipes")


def _defaults() -> tuple[Path, Path, Path]:
    from wardlink.nucleus.defaults import default_root

    root = default_root()
    return root, root / "ipc.sock", root / "tokens.json"


def register(subparsers: Any) -> None:
    root, socket_path, tokens = _defaults()
    gg = subparsers.add_parser("gg", help="local Greengrass nucleus emulator")
    commands = gg.add_subparsers(dest="gg_command", metavar="SUBCOMMAND")
    gg.set_defaults(func=lambda _args: (gg.print_help(), 2)[1])

    emulate = commands.add_parser(
        "emulate",
        help="serve Greengrass IPC for the components in a recipes directory",
        description="Serve Greengrass IPC (event-stream RPC) on a Unix socket, enforcing each "
        "recipe's accessControl, with IoT Core operations bridged to an MQTT broker.",
    )
    emulate.add_argument(
        "--recipes", type=Path, help="directory searched for recipes (or --cloud-env)"
    )
    emulate.add_argument(
        "--cloud-env",
        type=Path,
        metavar="FILE",
        help="follow the thing's deployments from the local cloud whose env file this is "
        "(`wardlink cloud local --env-file FILE`): download, install, run, roll back",
    )
    emulate.add_argument(
        "--start-window",
        type=float,
        default=5.0,
        help="with --cloud-env: seconds a deployed component must keep running (default 5)",
    )
    emulate.add_argument(
        "--mqtt",
        required=True,
        help="broker standing in for AWS IoT Core: mqtt://host:port, mqtts://host:port, or 'none'",
    )
    emulate.add_argument(
        "--socket",
        type=Path,
        default=None,
        help=f"IPC socket (default ROOT/ipc.sock: {socket_path})",
    )
    emulate.add_argument(
        "--tokens-out",
        type=Path,
        default=None,
        help=f"where to write {{component: SVCUID}} (default ROOT/tokens.json: {tokens})",
    )
    emulate.add_argument(
        "--root", type=Path, default=root, help=f"emulated Greengrass root (default {root})"
    )
    emulate.add_argument(
        "--thing-name", default=None, help="core device thing name (default wardlink-dev-gateway)"
    )
    emulate.add_argument(
        "--config", type=Path, help="configuration overrides or a create-deployment JSON"
    )
    emulate.add_argument("--secrets", type=Path, help="local secrets JSON for GetSecretValue")
    emulate.add_argument("--state-file", type=Path, help="write UpdateState reports here as JSON")
    emulate.add_argument("--mqtt-ca", type=Path, help="CA bundle for mqtts://")
    emulate.add_argument("--mqtt-cert", type=Path, help="client certificate for mutual TLS")
    emulate.add_argument("--mqtt-key", type=Path, help="client private key for mutual TLS")
    emulate.add_argument("--mqtt-client-id", help="MQTT client id (default: the thing name)")
    emulate.add_argument(
        "--publish-timeout", type=float, default=10.0, help="seconds to wait for a PUBACK"
    )
    emulate.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    emulate.set_defaults(func=run_emulate)

    run = commands.add_parser(
        "run",
        help="run a component against the emulator",
        usage="wardlink gg run [options] COMPONENT [options] [-- CMD ...]",
        description="Run COMPONENT with the nucleus environment (IPC socket, SVCUID, thing "
        "name...). Without a command after --, runs the recipe's Run step adapted to this machine.",
    )
    _add_run_options(run, root, socket_path, tokens)
    # Everything from COMPONENT on; options after it are parsed again in run_component
    # (argparse cannot mix a positional, options and a trailing "-- CMD").
    run.add_argument(
        "rest", nargs=argparse.REMAINDER, metavar="COMPONENT [-- CMD ...]", help=argparse.SUPPRESS
    )
    run.set_defaults(func=run_component)


def _add_run_options(
    parser: argparse.ArgumentParser, root: Path, socket_path: Path, tokens: Path
) -> None:
    parser.add_argument(
        "--socket",
        type=Path,
        default=None,
        help=f"IPC socket (default ROOT/ipc.sock: {socket_path})",
    )
    parser.add_argument(
        "--tokens",
        type=Path,
        default=None,
        help=f"token file of the emulator (default ROOT/tokens.json: {tokens})",
    )
    parser.add_argument(
        "--recipes",
        type=Path,
        default=DEFAULT_RECIPES,
        help="recipes directory (default ./recipes)",
    )
    parser.add_argument(
        "--root", type=Path, default=root, help=f"emulated Greengrass root (default {root})"
    )
    parser.add_argument(
        "--thing-name", default=None, help="core device thing name (default wardlink-dev-gateway)"
    )
    parser.add_argument("--region", default="us-east-1", help="AWS_REGION for the component")
    parser.add_argument("--root-ca", help="GG_ROOT_CA_PATH (default: the system CA bundle)")
    parser.add_argument("--config", type=Path, help="the same --config the emulator was given")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the environment and command only"
    )


def _split_run_arguments(args: argparse.Namespace) -> tuple[argparse.Namespace, list[str]]:
    """Parse ``COMPONENT [options] [-- CMD...]`` from the remainder of ``gg run``."""
    rest = list(args.rest or [])
    command: list[str] = []
    if "--" in rest:
        index = rest.index("--")
        rest, command = rest[:index], rest[index + 1 :]
    inner = argparse.ArgumentParser(prog="wardlink gg run", add_help=False)
    _add_run_options(inner, args.root, args.socket, args.tokens)
    inner.add_argument("component")
    inner.set_defaults(**{k: v for k, v in vars(args).items() if k not in ("rest", "func")})
    parsed = inner.parse_args(rest)
    return parsed, command


def _under_root(chosen: Path | None, root: Path, name: str) -> Path:
    """An explicit ``--socket``/``--tokens`` path, else ``name`` inside ``--root``."""
    return chosen if chosen is not None else root / name


def _thing_name(args: argparse.Namespace) -> str:
    from wardlink.nucleus.defaults import DEFAULT_THING_NAME

    return str(args.thing_name or DEFAULT_THING_NAME)


def run_emulate(args: argparse.Namespace) -> int:
    from wardlink.nucleus.authorization import PolicyError
    from wardlink.nucleus.emulator import EmulatorSettings, NucleusEmulator, serve_forever
    from wardlink.nucleus.mqtt_bridge import BrokerConfigError
    from wardlink.nucleus.secret_store import SecretFileError
    from wardlink.packaging.recipe import RecipeError

    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    mqtt_url = None if str(args.mqtt).lower() == "none" else str(args.mqtt)
    if (args.recipes is None) == (args.cloud_env is None):
        print("wardlink gg emulate: give --recipes DIR or --cloud-env FILE", file=sys.stderr)
        return 2
    root = args.root.absolute()
    settings = EmulatorSettings(
        recipes_dir=args.recipes or root,
        socket_path=_under_root(args.socket, args.root, "ipc.sock").absolute(),
        tokens_out=_under_root(args.tokens_out, args.root, "tokens.json"),
        root_dir=root,
        mqtt_url=mqtt_url,
        mqtt_ca=args.mqtt_ca,
        mqtt_cert=args.mqtt_cert,
        mqtt_key=args.mqtt_key,
        mqtt_client_id=args.mqtt_client_id,
        thing_name=_thing_name(args),
        config_file=args.config,
        secrets_file=args.secrets,
        state_file=args.state_file,
        publish_timeout=args.publish_timeout,
    )
    try:
        if args.cloud_env is not None:
            return _follow(settings, args.cloud_env, args.start_window)
        emulator = NucleusEmulator(settings)
        asyncio.run(serve_forever(emulator))
    except (RecipeError, PolicyError, BrokerConfigError, SecretFileError) as exc:
        print(f"wardlink gg emulate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _follow(settings: Any, env_file: Path, start_window: float) -> int:
    import signal

    from wardlink.nucleus.deployments import (
        CloudClient,
        DeploymentError,
        DeploymentFollower,
        read_env_file,
    )

    try:
        cloud = CloudClient(read_env_file(env_file))
    except (OSError, DeploymentError) as exc:
        print(f"wardlink gg emulate: cannot use {env_file}: {exc}", file=sys.stderr)
        return 2

    async def follow() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        follower = DeploymentFollower(cloud, settings, start_window=start_window)
        print(
            f"wardlink gg emulate: following deployments of thing {settings.thing_name} "
            f"from {cloud.env['AWS_ENDPOINT_URL_GREENGRASSV2']}",
            flush=True,
        )
        await follower.run(stop)

    asyncio.run(follow())
    return 0


def run_component(args: argparse.Namespace) -> int:
    from wardlink.nucleus.runner import plan_run
    from wardlink.packaging.recipe import RecipeError

    if not args.rest:
        print("wardlink gg run: name the component to run", file=sys.stderr)
        return 2
    args, command = _split_run_arguments(args)
    try:
        plan = plan_run(
            args.component,
            recipes_dir=args.recipes,
            socket_path=_under_root(args.socket, args.root, "ipc.sock"),
            tokens_file=_under_root(args.tokens, args.root, "tokens.json"),
            root_dir=args.root.absolute(),
            thing_name=_thing_name(args),
            region=args.region,
            root_ca=args.root_ca,
            config_file=args.config,
            command=command or None,
        )
    except RecipeError as exc:
        print(f"wardlink gg run: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        for key in sorted(plan.env):
            value = "<redacted>" if key == "SVCUID" else plan.env[key]
            print(f"{key}={value}")
        if plan.cwd is not None:
            print(f"# cwd: {plan.cwd}")
        print(" ".join(plan.argv))
        return 0
    if plan.cwd is not None:
        os.chdir(plan.cwd)
    try:
        os.execvpe(plan.argv[0], plan.argv, {**os.environ, **plan.env})  # noqa: S606
    except OSError as exc:
        print(f"wardlink gg run: cannot start {plan.argv[0]}: {exc}", file=sys.stderr)
        return 127
    return 0  # not reached: exec replaced the process
