"""``wardlink fleet gateways``: provision, revoke and rotate gateways in the IoT registry.

    wardlink fleet gateways register [--env-file F] GATEWAYS.jsonl [--out DIR]
    wardlink fleet gateways revoke   [--env-file F] THING_NAME
    wardlink fleet gateways rotate   [--env-file F] THING_NAME --csr FILE --certificate-out FILE
    wardlink fleet gateways retire-certificate [--env-file F] THING_NAME CERTIFICATE_ID
    wardlink fleet gateways expiring [--env-file F] --within DAYS [THING_NAME ...]

``register`` reads one gateway a line (``thing_name``, ``site_id``, and ``csr`` as PEM
or ``csr_file`` relative to the file), builds the bulk registration spec and template,
uploads the spec to ``$FLEET_BUCKET``, runs one ``StartThingRegistrationTask`` (with
``$FLEET_REGISTRATION_ROLE_ARN``; the policy is ``$GATEWAY_IOT_POLICY``) and polls it.
Into ``--out`` (default ``GATEWAYS.jsonl.provisioned/``) it writes ``results.jsonl``,
``certificates/<thing>.pem`` (to deliver to each gateway), ``errors.jsonl`` and
``retry.jsonl`` (the input lines that failed or were invalid, as they were).

``rotate`` issues a certificate from the gateway's new CSR and attaches it beside the
current one, so the gateway stays connected; once it uses the new certificate,
``retire-certificate`` deactivates the old one (never the last active one).
``expiring`` lists, soonest first, the gateways whose active certificates all end
within DAYS (each certificate's notAfter): the ones to rotate. ``revoke`` deactivates
every certificate and quarantines the thing: it gets no more API credentials.
Exit status: 0 done, 1 some gateways failed or refused, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    gateways = commands.add_parser("gateways", help="provision, revoke and rotate gateways")
    verbs = gateways.add_subparsers(dest="gateways_command", metavar="ACTION")

    reg = verbs.add_parser(
        "register", parents=[common], help="provision gateways from their CSRs (bulk task)"
    )
    reg.add_argument("gateways", type=Path, metavar="GATEWAYS.jsonl")
    reg.add_argument("--out", type=Path, metavar="DIR")
    reg.add_argument("--bucket", help="S3 bucket for the spec (default $FLEET_BUCKET)")
    reg.add_argument("--role-arn", help="registration role (default $FLEET_REGISTRATION_ROLE_ARN)")
    reg.add_argument("--policy", help="IoT policy (default $GATEWAY_IOT_POLICY)")
    reg.add_argument("--poll", type=float, default=1.0, help="seconds between polls (default 1)")
    reg.set_defaults(func=_register)

    revoke = verbs.add_parser(
        "revoke", parents=[common], help="deactivate a lost gateway's certificates, quarantine it"
    )
    revoke.add_argument("thing_name", metavar="THING_NAME")
    revoke.set_defaults(func=_revoke)

    rotate = verbs.add_parser(
        "rotate", parents=[common], help="new certificate from the gateway's CSR, beside the old"
    )
    rotate.add_argument("thing_name", metavar="THING_NAME")
    rotate.add_argument("--csr", type=Path, required=True, metavar="FILE")
    rotate.add_argument("--certificate-out", type=Path, required=True, metavar="FILE")
    rotate.add_argument("--policy", help="IoT policy (default: the current certificate's)")
    rotate.set_defaults(func=_rotate)

    retire = verbs.add_parser(
        "retire-certificate", parents=[common], help="deactivate an old certificate after rotation"
    )
    retire.add_argument("thing_name", metavar="THING_NAME")
    retire.add_argument("certificate_id", metavar="CERTIFICATE_ID")
    retire.set_defaults(func=_retire)

    soon = verbs.add_parser(
        "expiring", parents=[common], help="gateways whose certificates expire within DAYS"
    )
    soon.add_argument("--within", type=float, required=True, metavar="DAYS")
    soon.add_argument("thing_names", nargs="*", metavar="THING_NAME",
                      help="only these gateways (default: every WardlinkGateway thing)")
    soon.set_defaults(func=_expiring)

    def usage(args: argparse.Namespace) -> int:
        gateways.print_help()
        return 2

    gateways.set_defaults(func=usage)


def _operator(args: argparse.Namespace) -> Any:
    from wardlink.fleet.operator import OperatorSession

    return OperatorSession.from_env(args.env_file)


def _register(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from wardlink.cli.fleet import progress_bar
    from wardlink.fleet.gateways import FleetError, Provisioner, read_gateways

    try:
        operator = _operator(args)
        bucket = operator.setting("FLEET_BUCKET", args.bucket)
        role_arn = operator.setting("FLEET_REGISTRATION_ROLE_ARN", args.role_arn)
        policy = operator.setting("GATEWAY_IOT_POLICY", args.policy)
        rows = read_gateways(args.gateways)
    except (OSError, ValueError) as exc:
        print(f"wardlink fleet gateways register: {exc}", file=sys.stderr)
        return 2
    valid = [r for r in rows if r.request is not None]
    requests = [r.request for r in valid if r.request is not None]
    provisioner = Provisioner(
        operator.client("iot"), operator.client("s3"), bucket=bucket, role_arn=role_arn,
        policy=policy,
    )  # fmt: skip
    try:
        with progress_bar("provisioning", len(requests)) as advance:
            report = provisioner.provision(requests, on_progress=advance, poll_s=args.poll)
    except (FleetError, ClientError, BotoCoreError) as exc:
        print(f"wardlink fleet gateways register: {exc}", file=sys.stderr)
        return 1

    out = args.out or args.gateways.with_name(args.gateways.name + ".provisioned")
    (out / "certificates").mkdir(parents=True, exist_ok=True)
    results, errors, retry = [], [], []
    for offset, row in enumerate(valid):
        assert row.request is not None
        if offset in report.results:
            response = report.results[offset]  # see wardlink.fleet.gateways.result_response
            arns = response["resourceArns"]
            pem = response["certificatePem"]
            if pem:
                (out / "certificates" / f"{row.request.thing_name}.pem").write_text(pem)
            results.append({"line": row.line, "thing_name": row.request.thing_name, **arns})
        else:
            message = report.errors.get(offset, f"not processed (task {report.status})")
            errors.append(
                {"line": row.line, "thing_name": row.request.thing_name, "error": message}
            )
            retry.append(row)
    for row in rows:
        if row.request is None:
            errors.append({"line": row.line, "thing_name": None, "error": row.error})
            retry.append(row)
    errors.sort(key=lambda e: int(str(e["line"])))
    retry.sort(key=lambda r: r.line)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    (out / "errors.jsonl").write_text("".join(json.dumps(e) + "\n" for e in errors))
    retry_file = out / "retry.jsonl"
    if retry:
        retry_file.write_text("".join(r.raw + "\n" for r in retry))
    else:
        retry_file.unlink(missing_ok=True)
    print(
        f"task {report.task_id} {report.status}: {len(results)} provisioned, "
        f"{len(errors)} failed or invalid; reports in {out}"
    )
    if retry:
        print(f"retry file: {retry_file} ({len(retry)} gateways)")
    return 1 if retry else 0


def _revoke(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from wardlink.fleet.gateways import QUARANTINE_GROUP, FleetError, revoke

    try:
        certificates = revoke(_operator(args).client("iot"), args.thing_name)
    except (FleetError, ClientError, BotoCoreError, OSError, ValueError) as exc:
        print(f"wardlink fleet gateways revoke: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.thing_name}: {len(certificates)} certificate(s) INACTIVE "
        f"({', '.join(certificates) or 'none'}), moved to thing group {QUARANTINE_GROUP}"
    )
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from wardlink.fleet.gateways import FleetError, rotate

    try:
        rotation = rotate(
            _operator(args).client("iot"), args.thing_name, args.csr.read_text(), args.policy
        )
    except (FleetError, ClientError, BotoCoreError, OSError, ValueError) as exc:
        print(f"wardlink fleet gateways rotate: {exc}", file=sys.stderr)
        return 1
    args.certificate_out.write_text(rotation.certificate_pem)
    print(f"{args.thing_name}: new certificate {rotation.certificate_id} ACTIVE and attached")
    print(f"certificate: {args.certificate_out} (install it on the gateway)")
    for old in rotation.previous:
        print(f"then: wardlink fleet gateways retire-certificate {args.thing_name} {old}")
    return 0


def _retire(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from wardlink.fleet.gateways import FleetError, retire_certificate

    try:
        retire_certificate(_operator(args).client("iot"), args.thing_name, args.certificate_id)
    except (FleetError, ClientError, BotoCoreError, OSError, ValueError) as exc:
        print(f"wardlink fleet gateways retire-certificate: {exc}", file=sys.stderr)
        return 1
    print(f"{args.thing_name}: certificate {args.certificate_id} INACTIVE and detached")
    return 0


def _expiring(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from botocore.exceptions import BotoCoreError, ClientError

    from wardlink.fleet.gateways import FleetError, expiring

    if args.within < 0:
        print("wardlink fleet gateways expiring: --within must be >= 0", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    try:
        found = expiring(_operator(args).client("iot"), args.within, now=now,
                         names=args.thing_names)
    except (FleetError, ClientError, BotoCoreError, OSError, ValueError) as exc:
        print(f"wardlink fleet gateways expiring: {exc}", file=sys.stderr)
        return 1
    for gateway in found:
        print(
            f"{gateway.thing_name}\t{gateway.certificate_id}\t"
            f"{gateway.not_after.isoformat()}\t{gateway.days_left(now):.1f} days"
        )
    print(f"{len(found)} gateway(s) expire within {args.within:g} days", file=sys.stderr)
    return 0
