"""A test's view of the API as the right caller for each call, with real credentials.

Many tests register devices for several gateways and then triage alarms. In the
cloud those are different callers: each gateway signs with its own session (its
thing name confines it to ``/gateways/{id}/...``), support signs with the support
role. ``FleetApi`` keeps those tests short while every request is still signed by
the caller that would make it: a gateway-scoped call goes out with credentials
minted for that gateway, anything else with support credentials.
"""

from __future__ import annotations

from typing import Any

from botocore.credentials import Credentials

from wardlink.cloudclient import RetryPolicy, WardlinkApiClient
from wardlink.contract.models import DeviceRegistration
from wardlink.localcloud import LocalCloud, Principal


def client_for(cloud: LocalCloud, principal: Principal, **options: Any) -> WardlinkApiClient:
    options.setdefault("retry", RetryPolicy(max_attempts=2, base_delay_s=0.01))
    return WardlinkApiClient(
        cloud.endpoint,
        cloud.region,
        Credentials(principal.access_key, principal.secret_key, principal.session_token),
        **options,
    )


class FleetApi:
    """``WardlinkApiClient``'s methods, each sent as its caller: a gateway or support."""

    def __init__(self, cloud: LocalCloud, **options: Any) -> None:
        self._cloud = cloud
        self._options = options
        self._gateways: dict[str, WardlinkApiClient] = {}
        self.support_principal = cloud.support_credentials()
        self.support = client_for(cloud, self.support_principal, **options)

    def gateway(self, gateway_id: str) -> WardlinkApiClient:
        """The client of one gateway (credentials bound to its thing name)."""
        if gateway_id not in self._gateways:
            principal = self._cloud.gateway_credentials(gateway_id)
            self._gateways[gateway_id] = client_for(self._cloud, principal, **self._options)
        return self._gateways[gateway_id]

    def register_device(self, registration: DeviceRegistration | None = None, **fields: Any) -> Any:
        body = registration or DeviceRegistration(**fields)
        return self.gateway(body.gateway_id).register_device(body)

    def get_device(self, device_uid: str) -> Any:
        return self.gateway(device_uid.partition("/")[0]).get_device(device_uid)

    def request_upload_url(self, device_uid: str, *args: Any, **kwargs: Any) -> Any:
        return self.gateway(device_uid.partition("/")[0]).request_upload_url(
            device_uid, *args, **kwargs
        )

    def upload_file(self, device_uid: str, *args: Any, **kwargs: Any) -> Any:
        return self.gateway(device_uid.partition("/")[0]).upload_file(device_uid, *args, **kwargs)

    def search_devices(self, **selector: Any) -> Any:
        gateway_id = selector.get("gateway_id")
        return (self.gateway(gateway_id) if gateway_id else self.support).search_devices(
            **selector
        )

    def iter_devices(self, **selector: Any) -> Any:
        gateway_id = selector.get("gateway_id")
        return (self.gateway(gateway_id) if gateway_id else self.support).iter_devices(**selector)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.support, name)  # alarms, raw sends: support's business
