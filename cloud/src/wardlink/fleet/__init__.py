"""Fleet registration for operators: the device inventory, gateway provisioning, revocation.

Medical devices are not IoT things in Wardlink; only gateways are. So a manufacturer's
inventory of devices is loaded straight into the Devices table (``inventory``), while
gateways are provisioned in the IoT registry with a bulk registration task
(``provisioning``) and retired or renewed there (``gateways``). Everything here runs
on an operator's machine with the operator's identity, never a gateway's.
"""

from wardlink.fleet.inventory import (
    INVENTORY_PREFIX,
    InventoryLoader,
    InventoryRecord,
    LoadReport,
    RowError,
    inventory_uid,
    read_inventory,
    validate_rows,
)

__all__ = [
    "INVENTORY_PREFIX",
    "InventoryLoader",
    "InventoryRecord",
    "LoadReport",
    "RowError",
    "inventory_uid",
    "read_inventory",
    "validate_rows",
]
