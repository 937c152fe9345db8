"""``wardlink run proxy|uplink|ui [--config FILE]``: run one component.

Under Greengrass (or ``wardlink gg run``) the configuration comes over IPC and
``--config`` is not needed.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace) -> int:
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
