"""The edge bus port and its adapters (Greengrass IPC, direct MQTT 5)."""

from wardlink.bus.port import (
    BusError,
    ComponentState,
    EdgeBus,
    LocalMessage,
    NotConnected,
    Unauthorized,
)

__all__ = ["BusError", "ComponentState", "EdgeBus", "LocalMessage", "NotConnected", "Unauthorized"]
