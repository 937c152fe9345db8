"""``wardlink ui users add|remove|list|unlock``: the gateway UI's local accounts.

There is no default account: a technician or admin creates each one on the
gateway (as the component's user, or root). The password is asked twice on the
terminal, or read from standard input with ``--password-stdin``; it is never an
argument (arguments show in ``ps``). Every change is written to the UI's audit
log with the operating-system user who made it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_STATE_DIR = Path("var/ui")


def _stores(args: argparse.Namespace) -> tuple[Any, Any]:
    from wardlink.ui.accounts import AccountStore
    from wardlink.ui.audit import AuditLog

    state: Path = args.state_dir
    return AccountStore(state / "accounts.json"), AuditLog(state / "audit.jsonl")


def _operator() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the passwords differ; nothing changed")
    return first


def _add(args: argparse.Namespace) -> int:
    from wardlink.ui.accounts import AccountError, Role

    accounts, audit = _stores(args)
    try:
        accounts.add(args.username, _password(args), Role(args.role), break_glass=args.break_glass)
    except AccountError as exc:
        print(f"not added: {exc}", file=sys.stderr)
        return 2
    audit.record(
        "user-added",
        args.username,
        alert=args.break_glass,
        role=args.role,
        break_glass=args.break_glass,
        by=f"os:{_operator()}",
    )
    print(f"added {args.username} ({args.role}{', break-glass' if args.break_glass else ''})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from wardlink.ui.accounts import AccountError

    accounts, audit = _stores(args)
    try:
        accounts.remove(args.username)
    except AccountError as exc:
        print(f"not removed: {exc}", file=sys.stderr)
        return 2
    audit.record("user-removed", args.username, by=f"os:{_operator()}")
    print(f"removed {args.username}")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    from wardlink.ui.accounts import AccountError

    accounts, audit = _stores(args)
    try:
        accounts.unlock(args.username)
    except AccountError as exc:
        print(f"not unlocked: {exc}", file=sys.stderr)
        return 2
    audit.record("user-unlocked", args.username, by=f"os:{_operator()}")
    print(f"unlocked {args.username}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import time

    accounts, _ = _stores(args)
    for account in accounts.list():
        flags = []
        if account.break_glass:
            flags.append("break-glass")
        if account.locked_until > time.time():
            flags.append("locked")
        print(f"{account.username}\t{account.role}\t{','.join(flags)}")
    return 0


def register(subparsers: Any) -> Any:
    parser = subparsers.add_parser("ui", help="the gateway UI's local accounts")
    groups = parser.add_subparsers(dest="ui_command", required=True)
    users = groups.add_parser("users", help="add, remove, list or unlock accounts")
    commands = users.add_subparsers(dest="users_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="the UI's ui.stateDir"
        )

    add = commands.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", choices=["viewer", "technician", "admin"], required=True)
    add.add_argument(
        "--break-glass", action="store_true", help="emergency account; every use is an audit alert"
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    common(add)
    add.set_defaults(func=_add)
    remove = commands.add_parser("remove", help="delete an account")
    remove.add_argument("username")
    common(remove)
    remove.set_defaults(func=_remove)
    unlock = commands.add_parser("unlock", help="lift a lock-out")
    unlock.add_argument("username")
    common(unlock)
    unlock.set_defaults(func=_unlock)
    listing = commands.add_parser("list", help="list accounts")
    common(listing)
    listing.set_defaults(func=_list)
    return groups
