"""Local accounts of the gateway UI: unique users, argon2 hashes, roles, lock-out.

There is no default account and no default password: ``wardlink ui users add``
creates each one (45 CFR 164.312(a)(2)(i), unique user identification). Passwords
are hashed with argon2id (argon2-cffi, its recommended parameters). After
``max_failures`` wrong passwords in a row an account is locked for ``lockout_s``
seconds, even for the right password. An account may be marked *break-glass*
(emergency access): it works like an admin, and every use is audited as an alert.

The store is one JSON file, 0600, replaced atomically on every change. argon2 is
loaded at the first sign-in or change, not when the UI starts: a UI nobody has
signed in to since it started does not hold it (nor the dummy hash, whose making
costs a full argon2 round).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 12


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths cost the same."""
    return _hasher().hash("wardlink-no-such-user")


class Role(StrEnum):
    VIEWER = "viewer"
    TECHNICIAN = "technician"
    ADMIN = "admin"

    def may_act(self) -> bool:
        """Whether this role may change anything (commands, diagnostics)."""
        return self is not Role.VIEWER


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why."""


@dataclass
class Account:
    username: str
    role: str
    password_hash: str
    break_glass: bool = False
    failures: int = 0
    locked_until: float = 0.0
    created: float = 0.0


@dataclass(frozen=True)
class SignIn:
    """The outcome of one sign-in attempt."""

    ok: bool
    reason: str  # "ok", "bad-credentials", "locked", "now-locked"
    account: Account | None = None


class AccountStore:
    """The accounts file."""

    def __init__(self, path: Path, max_failures: int = 5, lockout_s: float = 900.0) -> None:
        self.path = path
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Account]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {name: Account(**fields) for name, fields in document.get("users", {}).items()}

    def _save(self, accounts: dict[str, Account]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        document = {"users": {name: asdict(a) for name, a in sorted(accounts.items())}}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".accounts-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(document, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def list(self) -> list[Account]:
        with self._lock:
            return sorted(self._load().values(), key=lambda a: a.username)

    def get(self, username: str) -> Account | None:
        with self._lock:
            return self._load().get(username)

    def add(self, username: str, password: str, role: Role, break_glass: bool = False) -> Account:
        if not USERNAME_PATTERN.match(username):
            raise AccountError(
                "user names are 2-32 characters: lower-case letters, digits, '.', '_', '-'"
            )
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"passwords are at least {MIN_PASSWORD} characters")
        if password.lower() in (username.lower(), "password", "wardlink"):
            raise AccountError("choose a password that is not the user name or a default")
        with self._lock:
            accounts = self._load()
            if username in accounts:
                raise AccountError(f"user {username!r} exists; remove it first")
            account = Account(
                username=username,
                role=Role(role).value,
                password_hash=_hasher().hash(password),
                break_glass=break_glass,
                created=time.time(),
            )
            accounts[username] = account
            self._save(accounts)
            return account

    def remove(self, username: str) -> None:
        with self._lock:
            accounts = self._load()
            if accounts.pop(username, None) is None:
                raise AccountError(f"no user {username!r}")
            self._save(accounts)

    def unlock(self, username: str) -> None:
        with self._lock:
            accounts = self._load()
            account = accounts.get(username)
            if account is None:
                raise AccountError(f"no user {username!r}")
            account.failures, account.locked_until = 0, 0.0
            self._save(accounts)

    def authenticate(self, username: str, password: str, now: float | None = None) -> SignIn:
        """Check a password; counts failures and locks the account after too many."""
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        current = time.time() if now is None else now
        hasher = _hasher()
        with self._lock:
            accounts = self._load()
            account = accounts.get(username)
            if account is None:
                try:
                    hasher.verify(_dummy_hash(), password)
                except VerificationError:
                    pass
                return SignIn(False, "bad-credentials")
            if account.locked_until > current:
                return SignIn(False, "locked", account)
            try:
                hasher.verify(account.password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                account.failures += 1
                reason = "bad-credentials"
                if account.failures >= self.max_failures:
                    account.locked_until = current + self.lockout_s
                    account.failures = 0
                    reason = "now-locked"
                self._save(accounts)
                return SignIn(False, reason, account)
            if account.failures or account.locked_until:
                account.failures, account.locked_until = 0, 0.0
            if hasher.check_needs_rehash(account.password_hash):
                account.password_hash = hasher.hash(password)
            self._save(accounts)
            return SignIn(True, "ok", account)
