"""One synthesis of the real app per test session, shared by every template test.

Synthesis runs node through jsii and takes seconds, so it happens once; tests read
the resulting CloudFormation template (a plain dict) and, where the CDK assertion
helpers are clearer, an ``aws_cdk.assertions.Template`` over the same dict.
Nothing here talks to AWS: synthesis is offline and creates no resources.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

CLOUD_DIR = Path(__file__).resolve().parents[2] / "cloud"
if str(CLOUD_DIR) not in sys.path:
    sys.path.append(str(CLOUD_DIR))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template  # noqa: E402
from wardlink_infra.application import SynthesizedApp, build_app  # noqa: E402


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    outdir = tmp_path_factory.mktemp("cdk.out")
    return build_app(outdir=str(outdir))


@pytest.fixture(scope="session")
def synthesized_liveanalytics(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """The app with ``wardlink:telemetryStore=liveanalytics`` (the non-default store)."""
    outdir = tmp_path_factory.mktemp("cdk.out.liveanalytics")
    return build_app(outdir=str(outdir), context={"wardlink:telemetryStore": "liveanalytics"})


@pytest.fixture(scope="session")
def liveanalytics_resources(
    synthesized_liveanalytics: SynthesizedApp,
) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = synthesized_liveanalytics.template["Resources"]
    return resources


@pytest.fixture(scope="session")
def template_json(synthesized: SynthesizedApp) -> dict[str, Any]:
    return synthesized.template


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Template:
    return Template.from_json(template_json)


@pytest.fixture(scope="session")
def resources(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = template_json["Resources"]
    return resources

