"""Device profiles: a device model declared in YAML instead of written in code."""

from wardlink.profiles.loader import (
    ProfileError,
    builtin_profiles,
    find_profile,
    load_profile,
    load_profiles,
    parse_profile,
)
from wardlink.profiles.schema import (
    BleCharacteristicSpec,
    BleTransportSpec,
    DeviceProfile,
    MetricSpec,
    SerialTransportSpec,
    TcpTransportSpec,
    UsbSelector,
    normalize_uuid,
    profile_summary,
)

__all__ = [
    "BleCharacteristicSpec",
    "BleTransportSpec",
    "DeviceProfile",
    "MetricSpec",
    "ProfileError",
    "SerialTransportSpec",
    "TcpTransportSpec",
    "UsbSelector",
    "builtin_profiles",
    "find_profile",
    "load_profile",
    "load_profiles",
    "normalize_uuid",
    "parse_profile",
    "profile_summary",
]
