"""``wardlink.cli.entry_points`` finds what ``importlib.metadata`` finds, without loading it.

The ``wardlink`` command and the profile loader use it so that a gateway component
does not keep ``importlib.metadata`` (and ``email``, ``zipfile``, ``csv``) resident.
These tests hold it to the standard library's answers in this environment, where
all four distributions are installed (editable), and to the file format's corners.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from wardlink.cli.entry_points import EntryPoint, entry_points

GROUPS = ("wardlink.commands", "wardlink.subcommands", "wardlink.profiles", "console_scripts")


@pytest.mark.parametrize("group", GROUPS)
def test_the_same_entry_points_as_importlib_metadata(group: str) -> None:
    ours = sorted((e.name, e.value) for e in entry_points(group))
    theirs = sorted({(e.name, e.value) for e in importlib.metadata.entry_points(group=group)})
    assert ours == theirs
    assert ours, f"nothing installed in {group}?"


def test_every_wardlink_command_loads() -> None:
    for entry in entry_points("wardlink.commands"):
        assert callable(entry.load()), entry


def test_first_distribution_on_the_path_wins_and_files_are_read_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for where, value in ((first, "json:dumps"), (second, "json:loads")):
        info = where / "Example_Dist-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "entry_points.txt").write_text(
            f"[example.group]\nCamelName = {value}\nwith-extra = json:JSONDecoder.decode [fast]\n",
            encoding="utf-8",
        )
    broken = first / "broken-2.0.dist-info"
    broken.mkdir()
    (broken / "entry_points.txt").write_bytes(b"[example.group\n\xff")
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), str(second)])
    found = entry_points("example.group")
    assert found == [
        EntryPoint("CamelName", "json:dumps", "example.group"),
        EntryPoint("with-extra", "json:JSONDecoder.decode [fast]", "example.group"),
    ]
    assert found[0].load() is json.dumps
    assert found[1].load() is json.JSONDecoder.decode


def test_the_command_starts_a_component_without_importlib_metadata() -> None:
    script = (
        "import sys\n"
        "from wardlink.cli.main import build_parser\n"
        "build_parser('run')\n"
        "print('importlib.metadata' in sys.modules, 'email' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "False"]
