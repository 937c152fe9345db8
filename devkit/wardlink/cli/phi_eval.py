"""``wardlink phi eval`` and ``wardlink phi lexicon``: the development kit's half of ``phi``.

* ``wardlink phi eval [--seed N] [--size N] [--corpus FILE]`` - recall and utility on
  a labelled corpus (generated with faker, or read from a JSONL file).
* ``wardlink phi eval --frozen [--misses N]`` - recall per PHI span and keep per format
  on the frozen held-out set (``wardlink.phieval.heldout``: names and sentences the
  redactor was never tuned on), reported apart from the development corpus; exits
  non-zero below recall 0.995 or keep 0.95 in any format.
* ``wardlink phi lexicon`` - regenerate the committed name lexicon from faker
  (``wardlink.phieval.lexicon_build``; the edge only reads the file).

They live apart from ``wardlink.cli.phi`` because the corpus, the scorer and faker
are development tools: a gateway installs the redactor, never its evaluation. The
sub-commands join ``wardlink phi`` through the ``wardlink.subcommands`` entry point
``phi.eval``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from wardlink.cli.phi import EXIT_OK, EXIT_REDACTION_FAILED, EXIT_USAGE, load_policy
from wardlink.phi.result import Format, RedactionResult


def register(commands: Any) -> None:
    evaluate = commands.add_parser("eval", help="score recall and utility on a labelled corpus")
    evaluate.add_argument("--seed", type=int, default=None, help="corpus seed (default: random)")
    evaluate.add_argument("--size", type=int, default=2000, help="items to generate")
    evaluate.add_argument("--corpus", help="read a JSONL corpus instead of generating one")
    evaluate.add_argument("--write-corpus", help="also write the generated corpus here")
    evaluate.add_argument("--policy", help="policy YAML file (merged over the defaults)")
    evaluate.add_argument("--json", action="store_true", help="print only the JSON summary")
    evaluate.add_argument("--misses", type=int, default=0, help="print up to N misses")
    evaluate.add_argument(
        "--frozen",
        action="store_true",
        help="score the frozen held-out set instead of the development corpus",
    )
    evaluate.set_defaults(func=_eval)

    lexicon = commands.add_parser("lexicon", help="regenerate phi/data/names.json (needs faker)")
    lexicon.set_defaults(func=_lexicon)


def _eval(args: argparse.Namespace) -> int:
    from wardlink.phieval.corpus import generate, read_jsonl, write_jsonl
    from wardlink.phieval.scoring import evaluate

    policy = load_policy(args.policy)
    if policy is None:
        return EXIT_USAGE
    if args.frozen:
        return _eval_frozen(args, policy.redact)
    if args.corpus:
        items = read_jsonl(args.corpus)
        seed: int | None = None
    else:
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
        try:
            items = generate(seed, args.size)
        except RuntimeError as exc:
            sys.stderr.write(f"wardlink phi eval: {exc}\n")
            return EXIT_USAGE
        if args.write_corpus:
            write_jsonl(items, args.write_corpus)
    result = evaluate(items, policy.redact)
    summary = {"seed": seed, "corpus": args.corpus, **result.summary()}
    if not args.json:
        sys.stdout.write(result.table() + "\n\n")
        for miss in result.misses[: args.misses]:
            sys.stdout.write(f"{miss.kind}: {miss.item_id} {miss.format}/{miss.source}/"
                             f"{miss.category} {miss.value!r}\n")  # fmt: skip
    sys.stdout.write(json.dumps(summary, indent=None if args.json else 2) + "\n")
    return EXIT_OK if result.passed() else EXIT_REDACTION_FAILED


def _eval_frozen(args: argparse.Namespace, redact: Callable[[Format, Any], RedactionResult]) -> int:
    from wardlink.phieval import heldout
    from wardlink.phieval.scoring import HELDOUT_KEEP_TARGET, HELDOUT_RECALL_TARGET, evaluate

    if args.corpus or args.seed is not None or args.write_corpus:
        sys.stderr.write(
            "wardlink phi eval: --frozen takes no --corpus, --seed or --write-corpus\n"
        )
        return EXIT_USAGE
    try:
        sets = heldout.load()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"wardlink phi eval: cannot read the frozen set: {exc}\n")
        return EXIT_USAGE
    items = [item for fmt in ("text", "json", "hl7") for item in sets[fmt]]
    result = evaluate(items, redact)
    summary = {
        "set": "frozen held-out (wardlink.phieval.heldout)",
        "items": {fmt: len(batch) for fmt, batch in sets.items()},
        "errors": result.errors,
        "by_format": result.heldout_verdict(),
        "recall_by_category": result.summary()["recall_by_category"],
        "keep_by_category": result.summary()["utility_by_category"],
        "targets": {"recall": HELDOUT_RECALL_TARGET, "keep": HELDOUT_KEEP_TARGET},
        "passed": result.passed_heldout(),
    }
    if not args.json:
        sys.stdout.write("frozen held-out set (not the development corpus)\n\n")
        sys.stdout.write(result.heldout_table() + "\n\n")
        for miss in result.misses[: args.misses]:
            sys.stdout.write(f"{miss.kind}: {miss.item_id} {miss.format}/{miss.source}/"
                             f"{miss.category} {miss.value!r}\n")  # fmt: skip
    sys.stdout.write(json.dumps(summary, indent=None if args.json else 2) + "\n")
    return EXIT_OK if result.passed_heldout() else EXIT_REDACTION_FAILED


def _lexicon(args: argparse.Namespace) -> int:
    from wardlink.phi.lexicon import DATA_FILE
    from wardlink.phieval.lexicon_build import write_lexicon

    try:
        counts = write_lexicon()
    except RuntimeError as exc:
        sys.stderr.write(f"wardlink phi lexicon: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(f"wrote {DATA_FILE}: {counts}\n")
    return EXIT_OK
