"""Byte transports to devices: serial, BLE and TCP backends of one interface."""

from wardlink.transports.base import (
    Backoff,
    Chunk,
    Transport,
    TransportClosed,
    TransportError,
)

__all__ = ["Backoff", "Chunk", "Transport", "TransportClosed", "TransportError"]
