"""``wardlink COMMAND`` loads only COMMAND: a gateway component keeps no other command resident.

The components run as ``wardlink run proxy|uplink`` for as long as the gateway is up,
so whatever the CLI imported to describe commands the component never uses (the codec
registry and pydantic model behind ``wardlink devices``, the dev kit's simulators) is
memory paid for nothing (benchmarks/bench_component_memory.py). Each check runs the
command in a fresh interpreter and reads ``sys.modules`` afterwards; the names of the
other commands' modules come from the installed entry points, so a new command is
covered without touching this test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

from wardlink.cli.main import COMMANDS_GROUP, SUBCOMMANDS_GROUP

PROBE = """
import json, sys
from wardlink.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run_cli(*args: str) -> tuple[int, str, list[str]]:
    """Exit code, output before the probe's line, and ``sys.modules`` of ``wardlink ARGS``."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    *output, last = result.stdout.splitlines()
    probe = json.loads(last)
    return int(probe["code"] or 0), "\n".join(output) + result.stderr, probe["modules"]


def modules_of_other_commands(command: str) -> set[str]:
    """The modules behind every installed command and extension that is not ``command``'s."""
    modules = {e.module for e in entry_points(group=COMMANDS_GROUP) if e.name != command}
    modules |= {
        e.module
        for e in entry_points(group=SUBCOMMANDS_GROUP)
        if e.name.split(".", 1)[0] != command
    }
    own = {e.module for e in entry_points(group=COMMANDS_GROUP) if e.name == command}
    return modules - own


def test_run_help_imports_no_other_command() -> None:
    code, output, modules = run_cli("run", "--help")
    assert code == 0
    assert "proxy" in output and "uplink" in output
    assert "wardlink.cli.run" in modules
    others = modules_of_other_commands("run")
    assert others, "no other command installed: the check would prove nothing"
    assert sorted(others & set(modules)) == []


def test_an_extension_joins_its_parent_command() -> None:
    """``wardlink phi --help`` still offers what other distributions add to ``phi``."""
    extensions = [e for e in entry_points(group=SUBCOMMANDS_GROUP) if e.name.startswith("phi.")]
    code, _, modules = run_cli("phi", "--help")
    assert code == 0
    assert {e.module for e in extensions} <= set(modules)
    assert "wardlink.cli.run" not in modules


def test_help_and_unknown_commands_still_list_every_command() -> None:
    names = {e.name for e in entry_points(group=COMMANDS_GROUP)}
    code, output, _ = run_cli("--help")
    assert code == 0
    assert all(name in output for name in names)
    code, output, _ = run_cli("no-such-command")
    assert code == 2
    assert "invalid choice" in output
    assert all(name in output for name in names)
