"""``wardlink fleet gateways``: provision, revoke and rotate gateways (filled in below)."""

from __future__ import annotations

from typing import Any


def register(commands: Any, common: Any) -> None:
    return None
