"""The technician's gateway UI (``com.wardlink.GatewayUI``, ``wardlink run ui``).

Technicians need to see which devices are connected, why one is silent, whether
the uplink is up, and to assign a device to a bed - without a shell on the
gateway and without ever seeing patient data. This package serves that over
HTTPS from the gateway itself. It reads only the local bus (sealed, redacted
records and the components' published state) and sends the DeviceProxy signed
commands (``wardlink.ui.signing``, the one module the DeviceProxy imports).
"""
