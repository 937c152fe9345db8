#!/usr/bin/env python3
"""Entry point of the Wardlink CDK app: ``cd cloud && ../.venv/bin/python app.py``.

Synthesizes offline (no credentials, no lookups, no Docker) with cdk-nag's HIPAA
Security and AWS Solutions packs attached, and exits non-zero if any finding, of
any severity, is not acknowledged with a reason. ``cdk synth`` / ``cdk deploy``
run this same file (see cdk.json), so a finding blocks a deployment too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wardlink_infra import build_app

HERE = Path(__file__).resolve().parent


def main() -> int:
    # The CDK CLI chooses the output directory (CDK_OUTDIR); run bare, use cdk.out.
    outdir = None if os.environ.get("CDK_OUTDIR") else str(HERE / "cdk.out")
    result = build_app(outdir=outdir)
    if result.findings:
        print(f"cdk-nag: {len(result.findings)} unacknowledged finding(s):", file=sys.stderr)
        for finding in result.findings:
            print(finding.render(), file=sys.stderr)
        return 1
    print(
        f"synthesized {result.stack.stack_name} to {result.assembly.directory}: "
        f"0 unacknowledged cdk-nag findings "
        f"({len(result.acknowledgements)} acknowledged with reasons)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
