"""cdk-nag: the real app has no unacknowledged finding, and the gate really gates."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from wardlink_infra import nag
from wardlink_infra.application import SynthesizedApp

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "cloud.md"


def _load_app_module() -> ModuleType:
    """cloud/app.py by path (``app`` is too common a name to import by)."""
    spec = importlib.util.spec_from_file_location("wardlink_cloud_app", ROOT / "cloud" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app_module = _load_app_module()


def test_the_app_has_zero_unacknowledged_findings(synthesized: SynthesizedApp) -> None:
    rendered = "\n".join(f.render() for f in synthesized.findings)
    assert synthesized.findings == [], rendered


def test_both_packs_are_attached(synthesized: SynthesizedApp) -> None:
    assert {p.name for p in synthesized.packs} == {"AwsSolutions", "HIPAA.Security"}


def test_every_acknowledgement_states_a_specific_reason(synthesized: SynthesizedApp) -> None:
    acknowledgements = synthesized.acknowledgements
    assert acknowledgements, "expected the documented acknowledgements to be present"
    for ack in acknowledgements:
        assert len(ack.reason) >= nag.MIN_REASON_LENGTH, ack
        assert re.match(r"^(AwsSolutions|HIPAA\.Security)-[A-Za-z0-9]+(\[.+\])?$", ack.rule_id), ack


def test_every_acknowledged_rule_is_documented(synthesized: SynthesizedApp) -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = sorted(
        {a.rule_id.split("[", 1)[0] for a in synthesized.acknowledgements} - set(
            re.findall(r"(?:AwsSolutions|HIPAA\.Security)-[A-Za-z0-9]+", text)
        )
    )
    assert missing == [], f"docs/cloud.md does not explain {missing}"


def test_a_short_reason_is_refused() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    with pytest.raises(nag.AcknowledgementError):
        nag.acknowledge(stack, "AwsSolutions-SQS3", "not needed")


def test_findings_of_any_severity_are_reported() -> None:
    """An unencrypted, non-TLS queue gives errors; the gate must see them, and must
    stop seeing exactly the one that gets acknowledged."""
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    queue = sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    packs = nag.attach_nag_packs(app)
    before = {f.rule_id for f in nag.unacknowledged_findings(app, packs)}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= before
    nag.acknowledge(queue, "AwsSolutions-SQS3", "probe queue for the gate test, never deployed")
    after = {f.rule_id for f in nag.unacknowledged_findings(app, packs)}
    assert after == before - {"AwsSolutions-SQS3"}


def test_app_exits_non_zero_when_a_finding_remains(
    synthesized: SynthesizedApp, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = nag.Finding("AwsSolutions", "AwsSolutions-SQS4", "error", "no TLS", ("X/Y",))
    failing = SynthesizedApp(
        app=synthesized.app, stack=synthesized.stack, packs=synthesized.packs,
        assembly=synthesized.assembly, findings=[fake],
    )
    monkeypatch.setattr(app_module, "build_app", lambda **_: failing)
    assert app_module.main() == 1
    assert "AwsSolutions-SQS4" in capsys.readouterr().err


def test_app_exits_zero_when_clean(
    synthesized: SynthesizedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "build_app", lambda **_: synthesized)
    assert app_module.main() == 0


def test_nag_spells_resolved_arns_like_cdk_nag() -> None:
    joined = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::",
                                {"Fn::GetAtt": ["Bucket1", "Arn"]}, "/x/*"]]}
    assert nag.flatten_reference(joined) == "arn:<AWS::Partition>:s3:::<Bucket1.Arn>/x/*"
    assert nag.flatten_reference("${iot:ClientId}") == "<iot:ClientId>"
