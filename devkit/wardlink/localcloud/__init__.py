"""The local cloud: real handlers, DynamoDB Local, moto, SigV4-checked API, MQTT bridge."""

from wardlink.localcloud.cloud import LocalCloud, LocalCloudConfig, LocalCloudStats
from wardlink.localcloud.sigv4 import Principal

__all__ = ["LocalCloud", "LocalCloudConfig", "LocalCloudStats", "Principal"]
