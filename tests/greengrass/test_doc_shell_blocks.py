"""The shell blocks of README.md and the device-engineer guide run as written.

Every fenced ``sh``/``bash`` block of the covered files either runs here or is
marked just above with ``<!-- not-tested: REASON -->``: the README's two set-up
commands (the test suite would run itself; the demo and bootstrap have their own
tests) and the guide's blocks that need GitHub, an AWS account, a core device, new
system users, or minutes of building. The runnable blocks of one file run in order,
in one ``bash -euo pipefail``, at the root of a copy of the repository (its
``.venv`` linked in, ``wardlink`` on PATH), with background jobs stopped at the end.

For the guide's walkthrough (model -> profile -> publish -> deploy), ``~/.venvs/gdk``
is the real GDK CLI (the shared 1.6.2 wheel, as ``test_real_gdk`` installs it) and
each component project holds the session's build (``gateway_build``), which is what
``gdk component publish`` would otherwise build first. Its ``aws`` commands use the
AWS CLI of the machine.

Covered: README.md and docs/device-engineer-guide.md. Other guides change under other
hands and are not covered yet.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.greengrass.local_cloud import gdk_project

REPO = Path(__file__).resolve().parents[2]
COVERED = ("README.md", "docs/device-engineer-guide.md")
SHELLS = {"sh", "bash", "shell"}
_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)
_MARK = re.compile(r"^<!--\s*not-tested:(?P<reason>.*?)-->\s*$")
SITE_SCHEMA_HEADER = "# yaml-language-server: $schema=schemas/site-config.schema.json"


@dataclass(frozen=True)
class Block:
    file: str
    line: int
    info: str
    body: str
    not_tested: str | None  # the reason, when marked


def blocks(relative: str) -> list[Block]:
    text = (REPO / relative).read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.match(before.strip())
        found.append(
            Block(
                file=relative,
                line=text.count("\n", 0, match.start()) + 1,
                info=match["info"].strip(),
                body=match["body"],
                not_tested=mark["reason"].strip() if mark else None,
            )
        )
    return found


def shell_blocks(relative: str) -> list[Block]:
    return [b for b in blocks(relative) if b.info in SHELLS]


@pytest.mark.parametrize("relative", COVERED)
def test_every_shell_block_runs_or_says_why_not(relative: str) -> None:
    found = shell_blocks(relative)
    assert found
    for block in found:
        assert block.not_tested is None or len(block.not_tested) > 10, (
            f"{relative}:{block.line}: a not-tested block needs its reason"
        )
    skipped = [b for b in found if b.not_tested is not None]
    if relative == "README.md":
        assert [b.body.split()[:2] for b in skipped] == [
            ["bash", ".ci/bootstrap"],
            ["bash", ".ci/test"],
        ]
    assert len(skipped) < len(found)


def test_the_guide_site_configuration_is_valid(tmp_path: Path) -> None:
    from wardlink.runtime.config import load_config_file

    examples = [
        b for b in blocks("docs/device-engineer-guide.md") if b.body.startswith(SITE_SCHEMA_HEADER)
    ]
    assert examples
    for block in examples:
        site = tmp_path / "site.yaml"
        site.write_text(block.body)
        config = load_config_file(site)
        assert config.broker is not None and config.devices


def _repo_copy(into: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name, follow_symlinks=False)
    (into / ".venv").symlink_to(REPO / ".venv")
    return into


def _script(relative: str) -> str:
    lines = [
        "set -euo pipefail",
        "stop_jobs() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }",
        "trap stop_jobs EXIT",
    ]
    for block in shell_blocks(relative):
        if block.not_tested is None:
            lines.append(f'echo "### {block.file}:{block.line}" >&2')
            lines.append(block.body)
    return "\n".join(lines) + "\n"


def _environment(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "WARDLINK_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    pyenv = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    if Path(pyenv).is_dir():
        env["PYENV_ROOT"] = pyenv  # the machine's shims (aws) keep working with another HOME
    env["HOME"] = str(home)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"
    return env


def _run(relative: str, workdir: Path, env: dict[str, str], timeout: float) -> None:
    script = workdir / f"{Path(relative).stem}.sh"
    script.write_text(_script(relative))
    process = subprocess.Popen(
        ["bash", str(script)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"{relative} did not finish in {timeout:g} s:\n{output[-4000:]}")
    if process.returncode != 0:
        logs = "".join(
            f"\n--- {log.name}:\n{log.read_text(errors='replace')[-2000:]}"
            for log in (workdir / "cloud.log", workdir / "gg.log")
            if log.is_file()
        )
        pytest.fail(f"{relative} failed ({process.returncode}):\n{output[-4000:]}{logs}")


@pytest.mark.integration
def test_readme_shell_blocks_run(tmp_path: Path) -> None:
    workdir = _repo_copy(tmp_path / "repo")
    (tmp_path / "home").mkdir()
    _run("README.md", workdir, _environment(tmp_path / "home"), timeout=300)
    assert (workdir / "s.json").is_file()


@pytest.mark.integration
def test_device_engineer_guide_runs_as_written(gateway_build: Path, tmp_path: Path) -> None:
    from tests.greengrass.test_real_gdk import _gdk

    if shutil.which("aws") is None:
        pytest.fail("the guide's deployment uses the AWS CLI: install it (apt install awscli)")
    gdk = _gdk()
    home = tmp_path / "home"
    (home / ".venvs").mkdir(parents=True)
    (home / ".venvs" / "gdk").symlink_to(gdk.parent.parent)
    workdir = _repo_copy(tmp_path / "repo")
    for project in sorted((REPO / "recipes").iterdir()):
        gdk_project(gateway_build, project, workdir / "recipes")
    _run("docs/device-engineer-guide.md", workdir, _environment(home), timeout=900)
    installed = (workdir / "gg" / "work").iterdir()
    assert {p.name for p in installed} >= {"com.wardlink.Uplink", "com.wardlink.DeviceProxy"}
