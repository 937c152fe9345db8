"""PHI redaction throughput: free-text messages per second on one core, and the CLI batch.

Measured in one run, each against a baseline from the same run:

* ``scrubber`` - ``Scrubber.scrub`` over ~200-character device/clinical messages
  (synthetic, from the development corpus), single thread, CPU time. Baselines over
  the same messages: one trivial compiled regex pass (``re.sub(r"\\d{7,}", ...)``),
  ``str.split`` and a regex tokenization pass (``WORD_RE.findall``) - the floor of
  what any word-by-word redactor costs in CPython.
* ``keep`` - on the development corpus's free text: the share of clinical values
  (numbers, units, MDC codes, models, error codes) kept, and the share of the other
  words (not PHI, not clinical values) that the name rules leave alone - what failing
  closed on unknown words costs.
* ``vocabulary_memory`` - RSS growth of a fresh interpreter when it loads the safe
  vocabulary (``wardlink.phi.safewords``), and the same for the name lexicon.
* ``cli_jsonl`` - ``wardlink phi redact --format text --jsonl`` as a subprocess on a
  batch (default 50,000 lines), wall time including start-up. Baseline: the same
  JSONL round trip (parse, dump) in a subprocess without redaction.
* optional ``presidio`` - Microsoft Presidio's analyzer+anonymizer on a sample, if
  ``presidio_analyzer`` is importable (it is not a dependency; nothing is installed).

Targets: >= 10,000 messages/s for the scrubber (issue 15), >= 5,000 lines/s for the
CLI batch (issue 4), keep >= 0.95, vocabulary < 1.5 MB. Prints a JSON summary; exit
code 0 when the targets are met.

    .venv/bin/python benchmarks/bench_phi.py [--messages 20000] [--batch 50000 | 0]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wardlink.phi.patterns import WORD_RE
from wardlink.phi.safewords import load_safe_words
from wardlink.phi.scrubber import Scrubber
from wardlink.phieval.corpus import generate

TARGET_PER_S = 10000.0
CLI_TARGET_PER_S = 5000.0
KEEP_TARGET = 0.95
VOCABULARY_TARGET_BYTES = 1.5 * 1024 * 1024


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


def _best_cpu_seconds(work: Callable[[str], object], messages: list[str], rounds: int) -> float:
    """The fastest of ``rounds`` passes, in CPU seconds (other processes on a shared
    machine slow the wall clock, not this process's CPU time)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for message in messages:
            work(message)
        best = min(best, time.process_time() - start)
    return best


def bench_scrubber(messages: list[str], rounds: int = 5) -> dict[str, Any]:
    scrubber = Scrubber()
    scrubber.scrub(messages[0])  # warm the caches (lexicon, vocabulary, per-shape regexes)
    trivial = re.compile(r"\d{7,}")
    # interleaved, so that a slow spell of the machine hits the baselines as well
    seconds = {"scrubber": float("inf"), "trivial_regex": float("inf"),
               "str_split": float("inf"), "regex_tokenize": float("inf")}  # fmt: skip
    for _ in range(rounds):
        for name, work in (
            ("scrubber", scrubber.scrub),
            ("trivial_regex", lambda m: trivial.sub("[ID]", m)),
            ("str_split", str.split),
            ("regex_tokenize", WORD_RE.findall),
        ):
            seconds[name] = min(seconds[name], _best_cpu_seconds(work, messages, 1))
    best = seconds["scrubber"]
    rate = _rate(len(messages), best)
    return {
        "messages": len(messages),
        "mean_chars": round(sum(map(len, messages)) / len(messages), 1),
        "per_s": round(rate),
        "us_per_message": round(best / len(messages) * 1e6, 1),
        "baseline_trivial_regex_per_s": round(_rate(len(messages), seconds["trivial_regex"])),
        "baseline_str_split_per_s": round(_rate(len(messages), seconds["str_split"])),
        "baseline_regex_tokenize_per_s": round(_rate(len(messages), seconds["regex_tokenize"])),
        "slowdown_vs_regex_tokenize": round(best / seconds["regex_tokenize"], 1),
        "target_per_s": TARGET_PER_S,
        "meets_target": rate >= TARGET_PER_S,
    }


#: Our own development sentences with no PHI in them - device notes, logistics, tickets,
#: log lines, nursing notes - written for this benchmark, not taken from any evaluation
#: set. What the fail-closed name rules take from them is the keep cost outside the
#: generated corpus (brand and product names the vocabulary does not know).
DEV_CLEAN_SENTENCES: tuple[str, ...] = (
    "Battery replaced on the Masimo Rad-97, SpO2 probe reseated, alarm cleared at shift change.",
    "Ticket WL-2291: gateway gw-14 lost Wi-Fi after the firmware push; rolled back to 3.2.7.",
    "Courier picked up 3 return boxes from Loading Dock B; FedEx tracking to follow.",
    "ERROR wardlink.transports.ble: GATT notify failed on characteristic 0x2A35, retrying in 5 s",
    "INFO wardlink.uplink: MQTT reconnect to AWS IoT Core succeeded after 12 s (QoS 1)",
    "Biomed swapped the Alaris 8015 PC unit; channel B occlusion alarm no longer reproducible.",
    "Home kit shipped via UPS Ground with a Bluetooth cuff, a scale and the Android tablet.",
    "Pt ambulating with walker, denies chest pain, tolerating PO intake. Plan: continue telemetry.",
    "NIBP cycling every 15 min per protocol; MAP goal above 65 mmHg, titrate norepinephrine.",
    "Sensor adhesive failing overnight; switched to Tegaderm overlay, rechecked perfusion index.",
    "Upload of export_vitals_2026Q1.csv to the S3 bucket completed, 4,312 rows, checksum OK.",
    "Vendor call with Philips support: IntelliVue MX800 reboot loop traced to a corrupt SD card.",
    "Network team moved the VLAN for the telemetry receivers; DHCP leases renewed at 02:00.",
    "Glucometer QC failed low control; lot 22B recalibrated and QC repeated within range.",
    "WARN wardlink.spool: backlog at 85% of quota, oldest record 40 min, uplink degraded.",
    "Replaced the ECG trunk cable, leads V1-V6 reading clean, artifact resolved.",
    "Dexcom Clarity sync stalled on the iPhone; reinstalled the app and re-paired the transmitter.",
    "Greengrass deployment to the ICU gateways finished; DeviceProxy restarted without errors.",
    "Kubernetes job failed on the staging cluster; Grafana dashboard shows CPU throttling.",
    "Ordered two spare Nellcor adult sensors and a DS-100A through Medline; ETA Thursday.",
    "Infusion rate changed from 125 mL/h to 80 mL/h per pharmacy, heparin drip protocol.",
    "Monitor at bed 7 shows intermittent asystole alarm, likely lead off; replaced electrodes.",
    "Escalated to Tier 2: Zebra printer in the med room prints blank wristband labels.",
    "The Medtronic Capnostream EtCO2 line kinked; replaced filter line, waveform restored.",
    "Backup generator test Tuesday 06:00; all bedside monitors will run on battery for 10 min.",
    "Pharmacy verified the vancomycin trough; next dose held pending the renal panel.",
    "Daily checklist: crash cart sealed, defibrillator self-test passed, suction working.",
    "INFO wardlink.phi.vault: rotated HMAC key, 0 tokens re-issued, next rotation in 90 days",
    "Linux kernel update on the edge box requires a reboot; scheduled for the maintenance window.",
    "PagerDuty alert acknowledged; Prometheus exporter on gw-03 was down after an OOM kill.",
    "Replaced the thermometer probe cover dispenser on the Welch Allyn SureTemp Plus 690.",
    "Telemetry pack 14 battery door broken; taped and tagged for Biomed, spare issued.",
    "Awaiting Zoll R Series pads from Central Supply; current pads expire next month.",
    "Respiratory therapist adjusted FiO2 to 40% and PEEP to 8 on the Hamilton C6.",
    "The Stryker bed exit alarm keeps firing; sensitivity set to zone 2 per fall protocol.",
    "OR 4 anesthesia machine Draeger Perseus A500 passed leak test; vaporizer refilled.",
    "Sepsis bundle started: lactate drawn, cultures sent, broad-spectrum antibiotics hung.",
    "Shipping label printed for the defective Omron cuff; RMA number pending from the vendor.",
    "Postgres migration on the cloud API finished in 42 s; no locks held longer than 200 ms.",
    "Family meeting scheduled with social work and palliative care for Friday afternoon.",
)


def bench_keep(seed: int, size: int = 1500) -> dict[str, Any]:
    """What failing closed costs on the development corpus's free text."""
    scrubber = Scrubber()
    clinical_total = clinical_kept = words_total = words_kept = 0
    for item in generate(seed, size):
        if item.format != "text":
            continue
        output = scrubber.scrub(item.input)
        for label in item.clinical:
            clinical_total += 1
            clinical_kept += int(label.value in output)
        # the other words: outside every labelled value; lost = inside a [NAME] finding
        labelled = [
            (at, at + len(label.value))
            for label in (*item.phi, *item.clinical)
            for at in _occurrences(item.input, label.value)
        ]
        names = [(f.start, f.end) for f in scrubber.find(item.input) if f.category == "NAME"]
        for word in WORD_RE.finditer(item.input):
            a, b = word.span()
            if b - a < 3 or any(x < b and a < y for x, y in labelled):
                continue
            words_total += 1
            words_kept += int(not any(x < b and a < y for x, y in names))
    keep = clinical_kept / clinical_total if clinical_total else 1.0
    changed = [(text, scrubber.scrub(text)) for text in DEV_CLEAN_SENTENCES]
    changed = [(text, out) for text, out in changed if out != text]
    dev_words = sum(len(WORD_RE.findall(text)) for text in DEV_CLEAN_SENTENCES)
    dev_lost = sum(
        len(WORD_RE.findall(text)) - len(WORD_RE.findall(out.replace("[NAME]", "")))
        for text, out in changed
    )
    return {
        "dev_sentences": len(DEV_CLEAN_SENTENCES),
        "dev_sentences_unchanged": len(DEV_CLEAN_SENTENCES) - len(changed),
        "dev_words": dev_words,
        "dev_words_taken_for_names": dev_lost,
        "dev_changed": [out for _, out in changed],
        "clinical_values": clinical_total,
        "keep_clinical": round(keep, 5),
        "other_words": words_total,
        "other_words_not_taken_for_names": round(
            words_kept / words_total if words_total else 1.0, 5
        ),
        "target_keep": KEEP_TARGET,
        "meets_target": keep >= KEEP_TARGET,
    }


def _occurrences(text: str, value: str) -> list[int]:
    found, at = [], text.find(value)
    while at >= 0 and value:
        found.append(at)
        at = text.find(value, at + 1)
    return found


_RSS_PROBE = (
    "import importlib, sys\n"
    "def rss():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmRSS:'):\n"
    "            return int(line.split()[1]) * 1024\n"
    "    return 0\n"
    "module = importlib.import_module(sys.argv[1])\n"
    "before = rss()\n"
    "getattr(module, sys.argv[2])()\n"
    "print(rss() - before)\n"
)


def bench_vocabulary_memory() -> dict[str, Any] | str:
    """RSS growth of loading the safe vocabulary (and, beside it, the name lexicon)."""
    if not Path("/proc/self/status").exists():
        return "no /proc here: not measured"
    grown: dict[str, int] = {}
    for name, module, loader in (
        ("safe_vocabulary", "wardlink.phi.safewords", "load_safe_words"),
        ("name_lexicon", "wardlink.phi.lexicon", "load_lexicon"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", _RSS_PROBE, module, loader],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        grown[name] = int(done.stdout.strip())
    return {
        "safe_vocabulary_words": len(load_safe_words()),
        "safe_vocabulary_rss_bytes": grown["safe_vocabulary"],
        "name_lexicon_rss_bytes": grown["name_lexicon"],
        "target_bytes": int(VOCABULARY_TARGET_BYTES),
        "meets_target": grown["safe_vocabulary"] < VOCABULARY_TARGET_BYTES,
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
        "target_per_s": CLI_TARGET_PER_S,
        "meets_target": rate >= CLI_TARGET_PER_S and lines["cli"] == batch,
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
        "keep": bench_keep(args.seed),
        "vocabulary_memory": bench_vocabulary_memory(),
        "cli_jsonl": bench_cli(messages, args.batch) if args.batch else "skipped (--batch 0)",
    }
    presidio = bench_presidio(messages)
    summary["presidio"] = presidio if presidio is not None else "not installed (optional)"
    print(json.dumps(summary, indent=2))
    ok = all(
        part["meets_target"]
        for part in (summary[k] for k in ("scrubber", "keep", "vocabulary_memory", "cli_jsonl"))
        if isinstance(part, dict)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
