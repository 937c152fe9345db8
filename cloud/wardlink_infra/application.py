"""Build, synthesize and nag-check the Wardlink CDK app in one call.

``cloud/app.py`` and the template tests both use :func:`build_app`, so what the
tests assert is exactly what ``cdk deploy`` would deploy. Synthesis is offline:
no lookups, no Docker, no credentials; an unset account makes the stack
account-agnostic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# jsii prints a banner when node is past its end of life; it is noise for a synth.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import cx_api
from cdk_nag import NagPack

from wardlink_infra.nag import (
    Acknowledgement,
    Finding,
    acknowledgements,
    attach_nag_packs,
    unacknowledged_findings,
)
from wardlink_infra.settings import WardlinkSettings
from wardlink_infra.stack import WardlinkStack

CLOUD_DIR = Path(__file__).resolve().parents[1]
CDK_JSON = CLOUD_DIR / "cdk.json"

# Context the code relies on regardless of how the app is started.
REQUIRED_CONTEXT: dict[str, Any] = {
    # Access-log delivery by bucket policy (ACLs are disabled on every bucket).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    # We gate on findings ourselves (errors *and* warnings) after synthesis, with
    # a readable report, instead of CDK's exception on errors only.
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}


@dataclass
class SynthesizedApp:
    """The app, its stack, the synthesized assembly and what cdk-nag found."""

    app: cdk.App
    stack: WardlinkStack
    packs: tuple[NagPack, ...]
    assembly: cx_api.CloudAssembly
    findings: list[Finding] = field(default_factory=list)

    @property
    def template(self) -> dict[str, Any]:
        artifact = self.assembly.get_stack_artifact(self.stack.artifact_id)
        template: dict[str, Any] = artifact.template
        return template

    @property
    def acknowledgements(self) -> list[Acknowledgement]:
        return acknowledgements(self.app)


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of cdk.json (the CLI passes it; a bare ``python app.py``
    does not, so we read it ourselves to synthesize the same thing either way)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise ValueError(f"{path}: 'context' must be an object")
    return context


def build_app(*, context: dict[str, Any] | None = None, outdir: str | None = None,
              read_cdk_json: bool = True) -> SynthesizedApp:
    """Construct, synthesize and nag-check the app.

    ``context`` overrides cdk.json; when the CDK CLI runs the app, its context
    (including ``-c`` values) arrives through the environment and wins over both;
    :data:`REQUIRED_CONTEXT` wins over everything.
    """
    merged: dict[str, Any] = cdk_json_context() if read_cdk_json else {}
    merged.update(context or {})
    # App precedence: ``context`` < CLI context (environment) < ``post_cli_context``.
    app = cdk.App(context=merged, post_cli_context=REQUIRED_CONTEXT, outdir=outdir)
    settings = WardlinkSettings.from_context(app.node)
    stack = WardlinkStack(app, f"Wardlink-{settings.stage}", settings=settings)
    packs = attach_nag_packs(app)
    assembly = app.synth()
    return SynthesizedApp(
        app=app,
        stack=stack,
        packs=packs,
        assembly=assembly,
        findings=unacknowledged_findings(app, packs),
    )
