"""PHI redaction throughput: free-text messages per second on one core, and the CLI batch.

Measured in one run, each against a baseline from the same run:

* ``scrubber`` - ``Scrubber.scrub`` over ~200-character device/clinical messages
  (synthetic, from the evaluation corpus), single thread. Baseline: one trivial
  compiled regex pass (``re.sub(r"\\d{7,}", ...)``) over the same messages - the
  floor of what any regex-based redactor costs in CPython.
* ``cli_jsonl`` - ``wardlink phi redact --format text --jsonl`` as a subprocess on a
  batch (default 50,000 lines), wall time including start-up. Baseline: the same
  JSONL round trip (parse, dump) in a subprocess without redaction.
* optional ``presidio`` - Microsoft Presidio's analyzer+anonymizer on a sample, if
  ``presidio_analyzer`` is importable (it is not a dependency; nothing is installed).

Target (issue 4): >= 5,000 messages/s for both the scrubber and the CLI batch.
Prints a JSON summary; exit code 0 when both targets are met.

    .venv/bin/python benchmarks/bench_phi.py [--messages 20000] [--batch 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wardlink.phi.scrubber import Scrubber
from wardlink.phieval.corpus import generate

TARGET_PER_S = 5000.0


def _messages(count: int, seed: int) -> list[str]:
    """~200-character free-text messages built from corpus text items."""
    texts = [item.input for item in generate(seed, count * 2) if item.format == "text"]
    out: list[str] = []
    for text in texts:
        message = text.replace("\n", " ")
        while len(message) < 170 and texts:
            message += " " + texts[len(out) % len(texts)][:60]
        out.append(message[:230])
        if len(out) == count:
            break
    return out


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_scrubber(messages: list[str], rounds: int = 3) -> dict[str, Any]:
    scrubber = Scrubber()
    scrubber.scrub(messages[0])  # warm the caches (lexicon, per-shape regexes)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for message in messages:
            scrubber.scrub(message)
        best = min(best, time.perf_counter() - start)
    trivial = re.compile(r"\d{7,}")
    baseline = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for message in messages:
            trivial.sub("[ID]", message)
        baseline = min(baseline, time.perf_counter() - start)
    rate = _rate(len(messages), best)
    return {
        "messages": len(messages),
        "mean_chars": round(sum(map(len, messages)) / len(messages), 1),
        "per_s": round(rate),
        "us_per_message": round(best / len(messages) * 1e6, 1),
        "baseline_trivial_regex_per_s": round(_rate(len(messages), baseline)),
        "slowdown_vs_baseline": round(best / baseline, 1),
        "target_per_s": TARGET_PER_S,
        "meets_target": rate >= TARGET_PER_S,
    }


_ROUND_TRIP = (
    "import json, sys\n"
    "out = sys.stdout\n"
    "for line in sys.stdin:\n"
    "    r = json.loads(line)\n"
    "    out.write(json.dumps({'id': r['id'], 'output': r['input']}) + '\\n')\n"
)


def bench_cli(messages: list[str], batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir) / "batch.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for number in range(batch):
                handle.write(json.dumps({"id": number, "input": messages[number % len(messages)]}))
                handle.write("\n")
        command = [sys.executable, "-m", "wardlink.cli.main", "phi", "redact", "--format",
                   "text", "--jsonl"]  # fmt: skip
        timings: dict[str, float] = {}
        lines: dict[str, int] = {}
        for name, argv in (("cli", command), ("baseline", [sys.executable, "-c", _ROUND_TRIP])):
            with source.open("rb") as stdin:
                start = time.perf_counter()
                done = subprocess.run(
                    argv, stdin=stdin, capture_output=True, check=True, timeout=600
                )
                timings[name] = time.perf_counter() - start
            lines[name] = done.stdout.count(b"\n")
    rate = _rate(batch, timings["cli"])
    return {
        "lines": batch,
        "lines_out": lines["cli"],
        "seconds": round(timings["cli"], 2),
        "per_s": round(rate),
        "baseline_jsonl_round_trip_per_s": round(_rate(batch, timings["baseline"])),
        "target_per_s": TARGET_PER_S,
        "meets_target": rate >= TARGET_PER_S and lines["cli"] == batch,
    }


def bench_presidio(messages: list[str]) -> dict[str, Any] | None:
    try:
        from presidio_analyzer import AnalyzerEngine  # type: ignore[import-not-found]
        from presidio_anonymizer import AnonymizerEngine  # type: ignore[import-not-found]
    except ImportError:
        return None
    analyzer, anonymizer = AnalyzerEngine(), AnonymizerEngine()
    sample = messages[:500]
    start = time.perf_counter()
    for message in sample:
        anonymizer.anonymize(
            text=message, analyzer_results=analyzer.analyze(message, language="en")
        )
    return {
        "messages": len(sample),
        "per_s": round(_rate(len(sample), time.perf_counter() - start)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args()
    _pin_to_one_core()
    messages = _messages(args.messages, args.seed)
    summary: dict[str, Any] = {
        "benchmark": "phi",
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "scrubber": bench_scrubber(messages),
        "cli_jsonl": bench_cli(messages, args.batch),
    }
    presidio = bench_presidio(messages)
    summary["presidio"] = presidio if presidio is not None else "not installed (optional)"
    print(json.dumps(summary, indent=2))
    ok = summary["scrubber"]["meets_target"] and summary["cli_jsonl"]["meets_target"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
