"""Wardlink: the edge and cloud software of a medical-device gateway.

The package is organised in layers, lowest first:

* ``wardlink.model``      - the domain types, including the PHI boundary types.
* ``wardlink.phi``        - the redaction policy, the only code that may mint outbound types.
* ``wardlink.codecs``     - pure bytes-to-observation decoders, one per device protocol.
* ``wardlink.transports`` - serial, BLE and TCP byte transports behind one interface.
* ``wardlink.spool``      - the durable store-and-forward queue.
* ``wardlink.bus``        - the edge bus port, with Greengrass IPC and direct MQTT 5 adapters.
* ``wardlink.uplink``     - batching and publishing spooled telemetry to AWS IoT Core.
* ``wardlink.runtime``    - component runner, configuration, logging, health.
* ``wardlink.cli``        - the ``wardlink`` command.
"""

__version__ = "0.1.0"
