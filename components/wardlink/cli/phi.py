"""``wardlink phi``: redact documents, score the redactor, manage its data and keys.

* ``wardlink phi redact --format json|hl7|text [--policy FILE] [--jsonl]`` - stdin to
  stdout. With ``--jsonl`` every input line is ``{"id": ..., "input": ...}`` and every
  output line ``{"id": ..., "output": ...}`` or ``{"id": ..., "error": "..."}``; a bad
  line costs that line only.
* ``wardlink phi eval [--seed N] [--size N] [--corpus FILE]`` - recall and utility on
  a labelled corpus (generated with faker, or read from a JSONL file).
* ``wardlink phi keygen SECRET_ID --dir DIR`` - a random key file for local HMAC or
  vault keys (on a gateway they come from Greengrass secret manager).
* ``wardlink phi lexicon`` - regenerate the committed name lexicon from faker.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO

EXIT_OK = 0
EXIT_REDACTION_FAILED = 1
EXIT_USAGE = 2
_FLUSH_EVERY = 512


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("phi", help="PHI redaction: redact, evaluate, keys")
    commands = parser.add_subparsers(dest="phi_command", metavar="PHI_COMMAND")
    parser.set_defaults(func=lambda args: _help(parser))

    redact = commands.add_parser("redact", help="redact stdin to stdout")
    redact.add_argument("--format", required=True, choices=("json", "hl7", "text"))
    redact.add_argument("--policy", help="policy YAML file (merged over the defaults)")
    redact.add_argument("--jsonl", action="store_true", help='one {"id","input"} per line')
    redact.set_defaults(func=_redact)

    evaluate = commands.add_parser("eval", help="score recall and utility on a labelled corpus")
    evaluate.add_argument("--seed", type=int, default=None, help="corpus seed (default: random)")
    evaluate.add_argument("--size", type=int, default=2000, help="items to generate")
    evaluate.add_argument("--corpus", help="read a JSONL corpus instead of generating one")
    evaluate.add_argument("--write-corpus", help="also write the generated corpus here")
    evaluate.add_argument("--policy", help="policy YAML file (merged over the defaults)")
    evaluate.add_argument("--json", action="store_true", help="print only the JSON summary")
    evaluate.add_argument("--misses", type=int, default=0, help="print up to N misses")
    evaluate.set_defaults(func=_eval)

    keygen = commands.add_parser("keygen", help="create a random key file for local runs")
    keygen.add_argument("secret_id", help="e.g. wardlink/phi/hmac/patient_id")
    keygen.add_argument("--dir", required=True, help="secrets directory (hmac.secrets_dir)")
    keygen.set_defaults(func=_keygen)

    lexicon = commands.add_parser("lexicon", help="regenerate phi/data/names.json (needs faker)")
    lexicon.set_defaults(func=_lexicon)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def _load_policy(path: str | None) -> Any:
    from wardlink.phi.config import PolicyError
    from wardlink.phi.policy import RedactionPolicy

    try:
        return RedactionPolicy.from_file(path) if path else RedactionPolicy.default()
    except (PolicyError, OSError) as exc:
        sys.stderr.write(f"wardlink phi: invalid policy: {exc}\n")
        return None
    except Exception as exc:  # a vault/key problem at start-up is also a policy problem
        sys.stderr.write(f"wardlink phi: cannot build the policy: {exc}\n")
        return None


def _redact(args: argparse.Namespace) -> int:
    policy = _load_policy(args.policy)
    if policy is None:
        return EXIT_USAGE
    if args.jsonl:
        return _redact_lines(policy, args.format, sys.stdin, sys.stdout)
    data = sys.stdin.buffer.read()
    payload: Any = data if args.format == "hl7" else data.decode("utf-8", errors="replace")
    result = policy.redact(args.format, payload)
    if not result.ok:
        sys.stderr.write(f"wardlink phi: {result.error}\n")
        return EXIT_REDACTION_FAILED
    output = result.output
    if args.format == "json":
        sys.stdout.write(json.dumps(output, ensure_ascii=False) + "\n")
    else:
        text = str(output)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _redact_lines(policy: Any, fmt: str, stdin: TextIO, stdout: TextIO) -> int:
    """The batch path: one JSON object per line in, one per line out, same order."""
    pending: list[str] = []
    loads, dumps = json.loads, json.dumps
    redact = policy.redact
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        item_id: Any = None
        try:
            record = loads(line)
            if not isinstance(record, dict) or "input" not in record:
                raise ValueError("expected an object with an 'input' field")
            item_id = record.get("id")
            result = redact(fmt, record["input"])
            # built by hand: one dumps per value is measurably cheaper than per object
            key, value = ("output", result.output) if result.ok else ("error", result.error)
            out = f'{{"id": {dumps(item_id)}, "{key}": {dumps(value, ensure_ascii=False)}}}'
        except ValueError as exc:
            reason = "malformed JSON line" if isinstance(exc, json.JSONDecodeError) else str(exc)
            out = dumps({"id": item_id, "error": f"line {number}: {reason}"})
        pending.append(out)
        if len(pending) >= _FLUSH_EVERY:
            stdout.write("\n".join(pending) + "\n")
            pending.clear()
    if pending:
        stdout.write("\n".join(pending) + "\n")
    stdout.flush()
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    from wardlink.phi.corpus import generate, read_jsonl, write_jsonl
    from wardlink.phi.scoring import evaluate

    policy = _load_policy(args.policy)
    if policy is None:
        return EXIT_USAGE
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


def _keygen(args: argparse.Namespace) -> int:
    from wardlink.phi.keys import FileSecretSource, SecretError

    try:
        path = FileSecretSource(args.dir).create(args.secret_id)
    except (SecretError, OSError) as exc:
        sys.stderr.write(f"wardlink phi keygen: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(f"{path}\n")
    return EXIT_OK


def _lexicon(args: argparse.Namespace) -> int:
    from wardlink.phi.lexicon import DATA_FILE, write_lexicon

    try:
        counts = write_lexicon()
    except RuntimeError as exc:
        sys.stderr.write(f"wardlink phi lexicon: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(f"wrote {DATA_FILE}: {counts}\n")
    return EXIT_OK
