"""Defaults shared by the emulator, ``gg run`` and the CLI (standard library only,
so that building the ``wardlink`` argument parser stays cheap)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_THING_NAME = "wardlink-dev-gateway"
EMULATED_NUCLEUS_VERSION = "2.12.0"


def default_root() -> Path:
    """Per-user scratch directory that ``gg emulate`` and ``gg run`` agree on."""
    override = os.environ.get("WARDLINK_GG_ROOT")
    return Path(override) if override else Path(f"/tmp/wardlink-gg-{os.getuid()}")  # noqa: S108
