"""The UI's certificate is made or read in a child, so the UI process never loads cryptography."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from wardlink.ui.tls import VALIDITY_DAYS, certificate_in_child


def test_made_once_in_a_child_then_reused(tmp_path: Path) -> None:
    first, not_after = certificate_in_child(tmp_path, "gw-1")
    assert first.cert_file.is_file() and (first.key_file.stat().st_mode & 0o077) == 0
    left = not_after - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=VALIDITY_DAYS - 1) < left <= dt.timedelta(days=VALIDITY_DAYS)
    pem = first.cert_file.read_bytes()
    again, same = certificate_in_child(tmp_path, "gw-1")
    assert again == first and same == not_after and first.cert_file.read_bytes() == pem


def test_a_half_supplied_pair_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="go together"):
        certificate_in_child(tmp_path, "gw-1", cert_file=tmp_path / "site.pem")


def test_the_ui_component_does_not_import_cryptography() -> None:
    probe = (
        "import sys, wardlink.ui.component\n"
        "print(any(m.startswith('cryptography') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
