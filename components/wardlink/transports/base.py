"""The transport interface: how bytes get from a device to its codec.

Every medium (serial, BLE, TCP) is one backend of the same small interface, in the
way bleak has one client interface with a backend per platform. A transport owns
connection management - discovery, reconnect with backoff, bonding - and hands
complete chunks (stream transports) or complete values (BLE notifications) to
whoever reads it. It knows nothing about protocols.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from wardlink.model import WardlinkError


class TransportError(WardlinkError):
    """The link to the device failed; the transport will try to reconnect."""


class TransportClosed(TransportError):
    """The transport was closed on purpose; reading stops."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, capped.

    Full jitter spreads reconnect attempts of many devices on one gateway, so that a
    hub power cycle does not make every device reconnect in lockstep.
    """

    initial: float = 0.2
    maximum: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * self.factor ** max(0, attempt))
        return random.uniform(self.initial / 2, ceiling)


@dataclass(frozen=True)
class Chunk:
    """Bytes from the device. ``source`` names the characteristic for BLE values."""

    data: bytes
    source: str = ""


class Transport(ABC):
    """A connection to one device that survives the device going away and coming back."""

    @property
    @abstractmethod
    def connected(self) -> bool:
        """Whether the link is up right now."""

    @abstractmethod
    def chunks(self) -> AsyncIterator[Chunk]:
        """Yield data as it arrives, reconnecting behind the scenes, until ``close``."""

    @abstractmethod
    async def write(self, data: bytes, target: str = "") -> None:
        """Send bytes to the device (ACK/NAK replies, RACP requests)."""

    @abstractmethod
    async def close(self) -> None:
        """Stop reading and release the device."""

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def sleep_backoff(backoff: Backoff, attempt: int, closing: asyncio.Event) -> bool:
    """Sleep for the attempt's delay; return False if the transport closed meanwhile."""
    try:
        await asyncio.wait_for(closing.wait(), timeout=backoff.delay(attempt))
    except TimeoutError:
        return True
    return False
