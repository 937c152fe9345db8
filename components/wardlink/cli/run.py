"""``wardlink run proxy|uplink|ui [--config FILE]``: run one component.

Under Greengrass (or ``wardlink gg run``) the configuration comes over IPC and
``--config`` is not needed. A component runs for weeks on a small gateway, so its
start-up is ordered for a small resident set: the DeviceProxy and the Uplink keep
OpenSSL out (``wardlink.runtime.no_openssl``; the UI serves HTTPS, so it does not),
none loads ``importlib.metadata`` for pydantic's plugins (``wardlink.runtime.lean``),
it loads the PHI name lexicon before the heap fills, and imports only the modules of
the component it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace) -> int:
    if args.component != "ui":  # the UI serves HTTPS through asyncio: it needs ssl there
        from wardlink.runtime.no_openssl import preload_without_openssl

        preload_without_openssl()  # first: before anything imports asyncio or hashlib
    from wardlink.runtime.lean import keep_pydantic_plugins_out

    keep_pydantic_plugins_out()  # before pydantic builds its first validator
    from wardlink.phi.lexicon import load_lexicon

    # Next the PHI name lexicon, which the log filter needs from the first record on:
    # read into a heap that is still empty, the names it parses and drops leave room
    # for the imports below rather than free space nothing reuses (~1 MB of RSS).
    load_lexicon()
    import asyncio

    from wardlink.runtime.runner import Component, run_component

    component: Component
    if args.component == "proxy":
        from wardlink.gateway.proxy import DeviceProxy

        component = DeviceProxy()
    elif args.component == "ui":
        from wardlink.ui.component import GatewayUI

        component = GatewayUI()
    else:
        from wardlink.uplink.component import Uplink

        component = Uplink()
    return asyncio.run(run_component(component, args.config))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run a gateway component")
    parser.add_argument("component", choices=["proxy", "uplink", "ui"])
    parser.add_argument("--config", type=Path, default=None, help="YAML file (outside Greengrass)")
    parser.set_defaults(func=_run)
