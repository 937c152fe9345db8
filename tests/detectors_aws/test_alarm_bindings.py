"""The alarm bindings must match the shipped models: states, recovery events, runbooks."""

from __future__ import annotations

import json
from typing import Any

from tests.detectors_aws.conftest import CATALOG_DIR
from wardlink.detectors.aws.alarm_bindings import CATALOG_BINDINGS, AlarmCatalog


def _models() -> dict[str, dict[str, Any]]:
    requests = [json.loads(p.read_text()) for p in CATALOG_DIR.glob("*.json")]
    return {r["detectorModelName"]: r for r in requests}


def _events(request: dict[str, Any]) -> dict[str, str]:
    """Event name -> the texts of its SNS actions (joined)."""
    out: dict[str, str] = {}
    for state in request["detectorModelDefinition"]["states"]:
        for phase in ("onEnter", "onInput", "onExit"):
            lifecycle = state.get(phase) or {}
            for group in ("events", "transitionEvents"):
                for event in lifecycle.get(group, []):
                    texts = [
                        a["sns"]["payload"]["contentExpression"]
                        for a in event.get("actions", [])
                        if "sns" in a
                    ]
                    out[event["eventName"]] = out.get(event["eventName"], "") + " ".join(texts)
    return out


def test_every_binding_names_real_states_events_and_runbooks() -> None:
    models = _models()
    for binding in CATALOG_BINDINGS:
        request = models[binding.model]
        states = {s["stateName"] for s in request["detectorModelDefinition"]["states"]}
        assert set(binding.levels) <= states, binding
        events = _events(request)
        for recovery in binding.recoveries:
            assert events.get(recovery), (binding.alarm, recovery)
        runbook = f"/runbooks/{binding.runbook}'"
        assert any(runbook in text for text in events.values()), binding.runbook


def test_every_model_has_alarms_and_ids_match_the_api_pattern() -> None:
    import re

    catalog = AlarmCatalog()
    api_pattern = re.compile(r"[A-Za-z0-9_-]{1,128}#[A-Za-z0-9_-]{1,128}#[A-Za-z0-9:._/-]{1,256}")
    for name in _models():
        bindings = catalog.for_model(name)
        assert bindings, f"{name} raises no alarm"
        for binding in bindings:
            assert api_pattern.fullmatch(binding.alarm_id("wardlink-dev-gateway/nonin-2"))
    assert catalog.is_recovery("wardlink-device-offline", "backOnlineStatus")
    assert not catalog.is_recovery("wardlink-device-offline", "alertOffline")
