"""IPC authorization from each component's ``accessControl`` configuration.

The nucleus authorizes a request when some policy of the calling component,
under the IPC service that owns the operation, lists the operation (or ``*``)
and has a resource that matches. There is no deny rule: everything not allowed
is refused. Operations on a component's own state (GetConfiguration,
UpdateConfiguration, UpdateState...) need no policy, and any component may read
another's configuration, as in Greengrass.

Policies are read once, from the configuration the emulator starts with
(recipe defaults merged with overrides, variables resolved). A malformed
policy stops the emulator at start-up rather than silently allowing or
denying later: that is the fail-closed choice for a development tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wardlink.nucleus.errors import UnauthorizedError
from wardlink.nucleus.topics import policy_allows
from wardlink.packaging.recipe_rules import check_access_control

MQTT_PROXY = "aws.greengrass.ipc.mqttproxy"
PUBSUB = "aws.greengrass.ipc.pubsub"
SECRET_MANAGER = "aws.greengrass.SecretManager"  # noqa: S105 - a service name

# Services whose resources use MQTT wildcard semantics.
_MQTT_WILDCARD_SERVICES = frozenset({MQTT_PROXY})


class PolicyError(ValueError):
    """An accessControl block that cannot be enforced."""


@dataclass(frozen=True)
class Policy:
    policy_id: str
    component: str
    service: str
    operations: frozenset[str]
    resources: tuple[str, ...]

    def allows(self, operation: str, resource: str) -> bool:
        if "*" not in self.operations and operation not in self.operations:
            return False
        wildcards = self.service in _MQTT_WILDCARD_SERVICES
        return any(policy_allows(r, resource, mqtt_wildcards=wildcards) for r in self.resources)


class AccessControl:
    """All components' policies, indexed by (component, service)."""

    def __init__(self, policies: list[Policy]) -> None:
        self._index: dict[tuple[str, str], list[Policy]] = {}
        for policy in policies:
            self._index.setdefault((policy.component, policy.service), []).append(policy)

    @classmethod
    def from_configurations(cls, configurations: Mapping[str, Mapping[str, Any]]) -> AccessControl:
        policies: list[Policy] = []
        owners: dict[str, str] = {}
        for component, configuration in sorted(configurations.items()):
            access = configuration.get("accessControl")
            if access is None:
                continue
            problems: list[str] = []
            check_access_control(f"{component}.accessControl", access, problems)
            if problems:
                raise PolicyError("; ".join(problems))
            for service, by_id in access.items():
                for policy_id, body in by_id.items():
                    if policy_id in owners and owners[policy_id] != component:
                        raise PolicyError(
                            f"policy id {policy_id!r} is used by {owners[policy_id]} and "
                            f"{component}; Greengrass requires unique policy ids"
                        )
                    owners[policy_id] = component
                    keys = {str(k).lower(): v for k, v in body.items()}
                    policies.append(
                        Policy(
                            policy_id=str(policy_id),
                            component=component,
                            service=str(service),
                            operations=frozenset(str(op) for op in keys["operations"]),
                            resources=tuple(str(r) for r in keys["resources"]),
                        )
                    )
        return cls(policies)

    def policies_of(self, component: str) -> list[Policy]:
        return [p for (owner, _), items in self._index.items() if owner == component for p in items]

    def is_allowed(self, component: str, service: str, operation: str, resource: str) -> bool:
        return any(p.allows(operation, resource) for p in self._index.get((component, service), []))

    def check(self, component: str, service: str, operation: str, resource: str) -> None:
        """Raise ``UnauthorizedError`` unless a policy allows the request."""
        if not self.is_allowed(component, service, operation, resource):
            raise UnauthorizedError(
                f"{component} is not authorized to perform {service}:{operation} "
                f"on resource {resource!r}"
            )
