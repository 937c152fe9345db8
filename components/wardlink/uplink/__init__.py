"""Store-and-forward uplink to AWS IoT Core."""

from wardlink.uplink.limits import UplinkLimits
from wardlink.uplink.publisher import Publisher, UplinkCounters
from wardlink.uplink.topics import uplink_topic

__all__ = ["Publisher", "UplinkCounters", "UplinkLimits", "uplink_topic"]
