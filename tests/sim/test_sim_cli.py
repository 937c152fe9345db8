"""``wardlink sim`` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from wardlink.cli.main import main
from wardlink.cli.sim import default_pty_link


def test_sim_runs_prints_where_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "nonin"
    code = main(["sim", "nonin-2", "--pty-link", str(link), "--rate", "20", "--duration", "0.3"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("nonin-2: pty /dev/")
    assert str(link) in out
    assert not link.exists()  # the link is removed on exit


def test_sim_tcp_listener_reports_its_port(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "hl7-mllp", "--port", "0", "--duration", "0.2"])
    assert code == 0
    assert "MLLP server listening on 127.0.0.1:" in capsys.readouterr().out


def test_sim_list_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--list"]) == 0
    out = capsys.readouterr().out
    assert "nonin-2" in out and "astm-e1381" in out and "hl7-mllp" in out
    assert main(["sim", "no-such-sim", "--duration", "0.1"]) == 2
    assert "unknown simulator" in capsys.readouterr().err


def test_default_pty_links_match_the_builtin_profiles() -> None:
    from wardlink.profiles import builtin_profiles

    profiles = builtin_profiles()
    for name, sim in (
        ("sim-nonin-oem3", "nonin-2"),
        ("sim-astm-glucose", "astm-e1381"),
        ("sim-hl7-monitor-serial", "hl7-mllp"),
    ):
        transport = profiles[name].transport
        assert transport.kind == "serial" and transport.path is not None
        profile_path, default = Path(transport.path), default_pty_link(sim)
        assert (profile_path.parent.name, profile_path.name) == (default.parent.name, default.name)
