"""``python app.py`` synthesizes offline: no AWS credentials, no network, exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLOUD_DIR = Path(__file__).resolve().parents[2] / "cloud"


def test_app_py_synthesizes_without_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        CDK_OUTDIR=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=CLOUD_DIR, env=env, capture_output=True,
        text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "0 unacknowledged cdk-nag findings" in done.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stack = manifest["artifacts"]["Wardlink-dev"]
    assert stack["environment"] == "aws://unknown-account/eu-central-1"
