"""Gateway pipelines: device acquisition (DeviceProxy) and the spool writer."""
