"""``wardlink phi``: redact documents and manage pseudonym keys on the gateway.

* ``wardlink phi redact --format json|hl7|text [--policy FILE] [--jsonl] [--explain]`` -
  stdin to stdout. With ``--jsonl`` every input line is ``{"id": ..., "input": ...}`` and
  every output line ``{"id": ..., "output": ...}`` or ``{"id": ..., "error": "..."}``; a
  bad line costs that line only. ``--explain`` (text) lists on stderr the name rule that
  decided each word.
* ``wardlink phi keygen SECRET_ID --dir DIR`` - a random key file for local HMAC or
  vault keys (on a gateway they come from Greengrass secret manager).

The development kit adds ``eval`` and ``lexicon`` (``wardlink.cli.phi_eval``), which
need its labelled corpus and faker; a gateway install has neither.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

EXIT_OK = 0
EXIT_REDACTION_FAILED = 1
EXIT_USAGE = 2
_FLUSH_EVERY = 512


def register(subparsers: Any) -> Any:
    parser = subparsers.add_parser("phi", help="PHI redaction: redact, keys")
    commands = parser.add_subparsers(dest="phi_command", metavar="PHI_COMMAND")
    parser.set_defaults(func=lambda args: _help(parser))

    redact = commands.add_parser("redact", help="redact stdin to stdout")
    redact.add_argument("--format", required=True, choices=("json", "hl7", "text"))
    redact.add_argument("--policy", help="policy YAML file (merged over the defaults)")
    redact.add_argument("--jsonl", action="store_true", help='one {"id","input"} per line')
    redact.add_argument(
        "--explain",
        action="store_true",
        help="text only: on stderr, each word the name rules decided and the deciding rule"
        " (prints input words: for development on your own data)",
    )
    redact.set_defaults(func=_redact)

    keygen = commands.add_parser("keygen", help="create a random key file for local runs")
    keygen.add_argument("secret_id", help="e.g. wardlink/phi/hmac/patient_id")
    keygen.add_argument("--dir", required=True, help="secrets directory (hmac.secrets_dir)")
    keygen.set_defaults(func=_keygen)
    return commands


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def load_policy(path: str | None) -> Any:
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
    policy = load_policy(args.policy)
    if policy is None:
        return EXIT_USAGE
    if args.jsonl:
        return _redact_lines(policy, args.format, sys.stdin, sys.stdout)
    data = sys.stdin.buffer.read()
    payload: Any = data if args.format == "hl7" else data.decode("utf-8", errors="replace")
    if getattr(args, "explain", False):
        _explain(policy, args.format, payload)
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


def _explain(policy: Any, fmt: str, text: str) -> None:
    """Why each word was taken for a name or kept: ``word<TAB>name|kept<TAB>rule``."""
    explain = getattr(policy.scrubber, "explain", None)
    if fmt != "text" or explain is None:
        sys.stderr.write("wardlink phi: --explain needs --format text and the text scrubber\n")
        return
    for word, is_name, rule in explain(text):
        sys.stderr.write(f"{word}\t{'name' if is_name else 'kept'}\t{rule}\n")


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


def _keygen(args: argparse.Namespace) -> int:
    from wardlink.phi.keys import FileSecretSource, SecretError

    try:
        path = FileSecretSource(args.dir).create(args.secret_id)
    except (SecretError, OSError) as exc:
        sys.stderr.write(f"wardlink phi keygen: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(f"{path}\n")
    return EXIT_OK
