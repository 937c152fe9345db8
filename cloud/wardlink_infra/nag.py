"""cdk-nag 3 wiring: attach the packs, acknowledge findings with reasons, gate synthesis.

cdk-nag 3 is a CDK policy-validation plugin (``Validations.of(app).addPlugins``),
no longer an Aspect; acknowledgements are CDK's own ``Validations.of(x).acknowledge``
metadata, and there is no NagSuppressions/NagReportLogger any more. CDK fails
synthesis on *errors* only, so :func:`unacknowledged_findings` re-runs each pack's
``validate_scope`` after synthesis and reports warnings too: the app gate treats any
finding, of any level, as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack
from constructs import IConstruct

_ANNOTATION_PREFIX = "annotation::"
# e.g. ec2.Vpc acknowledges CloudFormation-Validate::W3010 (literal AZs) itself
_CDK_OWN_PREFIX = "CloudFormation-Validate::"
MIN_REASON_LENGTH = 40


class AcknowledgementError(ValueError):
    """An acknowledgement without a real reason; refuse it rather than hide a finding."""


@dataclass(frozen=True)
class Acknowledgement:
    """One acknowledged rule (or ``Rule[finding]``) on one construct, and why."""

    rule_id: str
    reason: str
    path: str


@dataclass(frozen=True)
class Finding:
    """A rule violation no acknowledgement covers."""

    pack: str
    rule_id: str
    severity: str
    description: str
    paths: tuple[str, ...]

    def render(self) -> str:
        where = "\n".join(f"    at {p}" for p in self.paths)
        return f"[{self.severity}] {self.rule_id} ({self.pack}): {self.description}\n{where}"


def attach_nag_packs(app: cdk.App) -> tuple[NagPack, ...]:
    """Register HIPAA Security and AWS Solutions on the whole app; return them."""
    packs: tuple[NagPack, ...] = (
        AwsSolutionsChecks(app, verbose=False),
        HIPAASecurityChecks(app, verbose=False),
    )
    cdk.Validations.of(app).add_plugins(*packs)
    return packs


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on ``scope`` and everything below it, for ``reason``.

    The reason is part of the audit trail (docs/cloud.md lists every one), so a
    short or placeholder reason is rejected at synthesis time.
    """
    text = " ".join(reason.split())
    if len(text) < MIN_REASON_LENGTH:
        raise AcknowledgementError(
            f"acknowledgement of {rule_id} on {scope.node.path} needs a specific reason "
            f"(at least {MIN_REASON_LENGTH} characters), got {reason!r}"
        )
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=text))


def acknowledge_all(scope: IConstruct, rules: Iterable[tuple[str, str]]) -> None:
    """Acknowledge several ``(rule_id, reason)`` pairs on one scope."""
    for rule_id, reason in rules:
        acknowledge(scope, rule_id, reason)


def acknowledgements(root: IConstruct) -> list[Acknowledgement]:
    """Every acknowledgement recorded anywhere under ``root``, in tree order."""
    found: list[Acknowledgement] = []
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY or not entry.data:
                continue
            for raw_id, reason in dict(entry.data).items():
                rule_id = str(raw_id)
                if rule_id.startswith(_CDK_OWN_PREFIX):
                    continue  # CDK's constructs acknowledge their own template checks
                if rule_id.lower().startswith(_ANNOTATION_PREFIX):
                    rule_id = rule_id[len(_ANNOTATION_PREFIX):]
                found.append(Acknowledgement(rule_id, str(reason), construct.node.path))
    return found


def unacknowledged_findings(root: IConstruct, packs: Sequence[NagPack]) -> list[Finding]:
    """Findings of any severity that no acknowledgement covers."""
    findings: list[Finding] = []
    for pack in packs:
        report = pack.validate_scope(root)
        for violation in report.violations:
            findings.append(
                Finding(
                    pack=pack.name,
                    rule_id=violation.rule_name,
                    severity=str(violation.severity),
                    description=violation.description,
                    paths=tuple(
                        str(r.construct_path) for r in violation.violating_resources
                    ),
                )
            )
    return findings



def flatten_reference(value: Any) -> str:
    """A resolved CloudFormation value, spelled the way cdk-nag spells it in finding ids
    (``Fn::Join`` joined, ``Ref`` as ``<Id>``, ``Fn::GetAtt`` as ``<Id.Attr>``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return str(delimiter).join(flatten_reference(item) for item in items)
        if "Fn::Sub" in value:
            return flatten_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def acknowledge_wildcard_resource(scope: IConstruct, resource_arn: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly one wildcard resource ARN on ``scope``."""
    flat = flatten_reference(cdk.Stack.of(scope).resolve(resource_arn))
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{flat}]", reason)
