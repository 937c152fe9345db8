"""Who may call which route of the cloud API: one table for IAM, the handlers and the local cloud.

Every gateway signs with the same token-exchange role, so the role alone cannot keep
gateway B away from gateway A's devices. What tells them apart is the thing name the
IoT credentials provider writes into the session (``credentials-iot:ThingName``,
present because Greengrass's token exchange sends ``x-amzn-iot-thingname`` when it
fetches credentials). The gateway routes therefore carry the gateway in the path
(``/gateways/{gateway_id}/devices...``) and the gateway role's IAM policy names the
path with that variable in it, so IAM itself refuses another gateway's paths.

Support staff and operators use their own role: they may search the whole fleet,
read any gateway's devices, act on alarms, ask a gateway for a diagnostics bundle and
read Device Defender's audit findings. Gateways may do none of these; only a gateway
answers a diagnostics request.

The CDK app turns these grants into ``execute-api`` ARNs (``iam_path``), and the
local cloud evaluates the same grants per request (``allows``), the way IAM would,
so a route that works locally is a route the deployed policy allows. Only the
standard library is imported: the edge may load this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

__all__ = [
    "GATEWAY_GRANTS",
    "SUPPORT_GRANTS",
    "THING_NAME_VARIABLE",
    "Grant",
    "Role",
    "allows",
    "gateway_path",
    "sequence_path",
]

#: The IAM policy variable the IoT credentials provider sets to the caller's thing name.
THING_NAME_VARIABLE = "${credentials-iot:ThingName}"
#: Placeholder in a grant's path for the caller's own gateway (thing name).
OWN_GATEWAY = "{own_gateway}"


class Role(StrEnum):
    """The two kinds of caller the API knows."""

    GATEWAY = "gateway"
    SUPPORT = "support"


@dataclass(frozen=True)
class Grant:
    """``execute-api:Invoke`` on one method and path; ``*`` matches any characters."""

    method: str
    path: str

    def iam_path(self, thing_name: str = THING_NAME_VARIABLE) -> str:
        """The path as an ``execute-api`` ARN names it, the caller's gateway filled in."""
        return self.path.replace(OWN_GATEWAY, thing_name)


def gateway_path(gateway_id: str, *rest: str) -> str:
    """``/gateways/{gateway_id}/devices[/...]``: where a gateway's own data lives."""
    return "/".join(("", "gateways", gateway_id, "devices", *rest))


def sequence_path(gateway_id: str) -> str:
    """``/gateways/{gateway_id}/sequence``: the last ``seq`` the cloud stored for it."""
    return "/".join(("", "gateways", gateway_id, "sequence"))


GATEWAY_GRANTS: tuple[Grant, ...] = (
    Grant("POST", f"/gateways/{OWN_GATEWAY}/devices"),
    Grant("GET", f"/gateways/{OWN_GATEWAY}/devices"),
    Grant("GET", f"/gateways/{OWN_GATEWAY}/devices/*"),
    Grant("POST", f"/gateways/{OWN_GATEWAY}/devices/*/uploads"),
    Grant("GET", f"/gateways/{OWN_GATEWAY}/sequence"),
    # diagnostics on request: read its requests, answer one (approve / decline)
    Grant("GET", f"/gateways/{OWN_GATEWAY}/diagnostics"),
    Grant("POST", f"/gateways/{OWN_GATEWAY}/diagnostics/*"),
)

SUPPORT_GRANTS: tuple[Grant, ...] = (
    Grant("GET", "/devices"),
    Grant("GET", "/devices/*"),
    Grant("GET", "/gateways/*"),
    Grant("GET", "/alarms"),
    Grant("GET", "/alarms/*"),
    Grant("POST", "/alarms/*"),
    Grant("POST", "/gateways/*/diagnostics"),  # ask a gateway for its diagnostics bundle
    Grant("GET", "/audit/findings"),
    Grant("GET", "/fleet/devices"),
)


def grants_for(role: Role) -> tuple[Grant, ...]:
    return GATEWAY_GRANTS if role is Role.GATEWAY else SUPPORT_GRANTS


def allows(role: Role, thing_name: str | None, method: str, path: str) -> bool:
    """Whether IAM would let a caller of ``role`` invoke ``method path``.

    ``path`` is the request path as sent (still percent-encoded). A gateway without
    a thing name matches nothing: the variable would be absent and the policy
    statement would not apply, as in IAM.
    """
    if role is Role.GATEWAY and not thing_name:
        return False
    for grant in grants_for(role):
        if grant.method != method.upper():
            continue
        iam_path = grant.iam_path(thing_name or "")
        if _glob(iam_path).fullmatch(path):
            return True
    return False


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """IAM ARN matching: ``*`` is any run of characters (``/`` included), the rest literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
