"""DynamoDB access, one repository per table. Key and GSI reads only, never Scan."""

from wardlink.cloudapi.repositories.alarms import AlarmRepository
from wardlink.cloudapi.repositories.devices import DeviceRepository, FleetQuery
from wardlink.cloudapi.repositories.gateways import GatewayRepository

__all__ = [
    "AlarmRepository",
    "DeviceRepository",
    "FleetQuery",
    "GatewayRepository",
]
