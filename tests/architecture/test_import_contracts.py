"""The import contracts cover every module of every part, pass on the tree, and bite.

The four distributions share the PEP 420 namespace ``wardlink`` (``wardlink.cli``
included), so a part is a source root, not a module prefix, and the import-linter
contracts in the root pyproject.toml have to list each part's top-level modules. A
list kept by hand goes stale: a new package added to components/ and forgotten in
the contracts would be free to import the dev kit. So this test derives the parts
from the directory layout and requires the contracts to name exactly those modules,
runs ``lint-imports`` on the real tree as CI does, and proves on a throw-away copy of
the tree that a forbidden import breaks the contract that forbids it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "wardlink"
INFRA_PACKAGE = "wardlink_infra"


@dataclass(frozen=True)
class Part:
    """One part of the house: where its code lives and which parts it may import."""

    name: str
    root: Path  # the source root, relative to the repository
    package: str  # the top-level package it contributes to
    may_import: frozenset[str] | None  # None: may import everything (no contract)


PARTS: tuple[Part, ...] = (
    Part("core", Path("core"), NAMESPACE, frozenset()),
    Part("edge", Path("components"), NAMESPACE, frozenset({"core"})),
    Part("cloud", Path("cloud/src"), NAMESPACE, frozenset({"core"})),
    Part("cloud-infra", Path("cloud"), INFRA_PACKAGE, frozenset({"core", "cloud"})),
    Part("devkit", Path("devkit"), NAMESPACE, None),
)
CHECKED_PARTS = tuple(part for part in PARTS if part.may_import is not None)

#: For each checked part: a module to drop into its copy and the forbidden import it makes.
PROBES: dict[str, tuple[str, str]] = {
    "core": ("model/_contract_probe.py", "import wardlink.phi.policy\n"),
    # A lazy import, the way the CLI imports: it counts as much as a top-level one.
    "edge": (
        "gateway/_contract_probe.py",
        "def probe() -> object:\n    from wardlink.sim import registry\n\n    return registry\n",
    ),
    "cloud": ("detectors/_contract_probe.py", "from wardlink.codecs import registry\n"),
    "cloud-infra": ("_contract_probe.py", "import wardlink.localcloud\n"),
}


def _has_python(path: Path) -> bool:
    return path.suffix == ".py" if path.is_file() else any(path.rglob("*.py"))


def _children(directory: Path) -> list[Path]:
    return sorted(
        child
        for child in directory.iterdir()
        if child.stem.isidentifier() and child.name != "__pycache__" and _has_python(child)
    )


@cache
def top_level_modules(part: Part) -> frozenset[str]:
    """The part's top-level modules, read from its directory (``wardlink.cli.*`` one by one)."""
    package_dir = REPO / part.root / part.package
    if part.package != NAMESPACE:
        return frozenset({part.package})
    modules: set[str] = set()
    for child in _children(package_dir):
        if child.name == "cli" and child.is_dir():
            modules.update(f"{NAMESPACE}.cli.{grandchild.stem}" for grandchild in _children(child))
        else:
            modules.add(f"{NAMESPACE}.{child.stem}")
    return frozenset(modules)


@cache
def importlinter_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    return dict(config["tool"]["importlinter"])


def contracts_by_id() -> dict[str, dict[str, Any]]:
    return {str(contract["id"]): contract for contract in importlinter_config()["contracts"]}


def contract_name(part: Part) -> str:
    return str(contracts_by_id()[part.name]["name"])


def forbidden_for(part: Part) -> frozenset[str]:
    assert part.may_import is not None
    allowed = part.may_import | {part.name}
    return frozenset().union(
        *(top_level_modules(other) for other in PARTS if other.name not in allowed)
    )


def _lint_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # rich wraps at 80 columns when it is not writing to a terminal.
    env.update(COLUMNS="200", NO_COLOR="1", **extra)
    return env


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


# --- (a) the contracts name every module of every part, in its own part -----------------

_PORTIONS = """\
import importlib.util, json
spec = importlib.util.find_spec("wardlink")
print(json.dumps(list(spec.submodule_search_locations or [])))
"""


def test_every_source_root_is_a_portion_of_the_wardlink_namespace() -> None:
    """grimp scans what importlib finds: the four source roots, nothing stale beside them.

    Asked in a fresh interpreter set up as for ``lint-imports``, so that what other tests
    do to this process's sys.path cannot change the answer.
    """
    for part in PARTS:
        for init in ("__init__.py", "cli/__init__.py"):
            stray = REPO / part.root / NAMESPACE / init
            assert not stray.exists(), f"{stray} turns the PEP 420 namespace into one portion"
    result = subprocess.run(
        [sys.executable, "-c", _PORTIONS],
        cwd=REPO,
        env=_lint_env(PYTHONPATH=str(REPO / "cloud")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, _output(result)
    found = {Path(location).resolve() for location in json.loads(result.stdout)}
    expected = {
        (REPO / part.root / NAMESPACE).resolve() for part in PARTS if part.package == NAMESPACE
    }
    assert found == expected, "the `wardlink` lint-imports sees is not the editable source tree"


def test_no_module_belongs_to_two_parts() -> None:
    seen: dict[str, str] = {}
    for part in PARTS:
        for module in top_level_modules(part):
            assert module not in seen, f"{module} is in both {seen[module]} and {part.name}"
            seen[module] = part.name


def test_the_contracts_are_the_rules() -> None:
    config = importlinter_config()
    assert sorted(config["root_packages"]) == sorted({NAMESPACE, INFRA_PACKAGE})
    assert set(contracts_by_id()) == {part.name for part in CHECKED_PARTS}
    for contract in contracts_by_id().values():
        # Indirect imports count and every listed module is a whole package.
        assert contract["type"] == "forbidden", contract["id"]
        assert not contract.get("allow_indirect_imports", False), contract["id"]
        assert contract.get("as_packages", True), contract["id"]
        assert not contract.get("ignore_imports"), contract["id"]


@pytest.mark.parametrize("part", CHECKED_PARTS, ids=lambda part: part.name)
def test_contract_lists_exactly_the_parts_modules(part: Part) -> None:
    contract = contracts_by_id()[part.name]
    for key, expected in (
        ("source_modules", top_level_modules(part)),
        ("forbidden_modules", forbidden_for(part)),
    ):
        listed: list[str] = list(contract[key])
        assert len(listed) == len(set(listed)), f"{part.name}.{key} names a module twice"
        missing = sorted(expected - set(listed))
        stray = sorted(set(listed) - expected)
        assert not missing and not stray, (
            f"[tool.importlinter] contract {part.name!r} {key}: "
            f"add {missing} (found in the directories), remove {stray} (not there)"
        )


# --- (b) the real tree keeps them --------------------------------------------------------


def test_lint_imports_passes_on_the_tree() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), "import-linter is missing: it is in wardlink-devkit[test]"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=REPO,
        env=_lint_env(PYTHONPATH=str(REPO / "cloud")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, _output(result)
    assert f"Contracts: {len(CHECKED_PARTS)} kept, 0 broken." in result.stdout, _output(result)


# --- (c) and they bite -------------------------------------------------------------------

#: Runs lint-imports on the copy only: the editable installs put the real source roots on
#: sys.path, and a namespace package would gather its portions from both trees.
_DRIVER = """\
import os, sys
real = {os.path.realpath(p) for p in os.environ["REAL_ROOTS"].split(os.pathsep)}
sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") not in real]
sys.path[:0] = os.environ["COPY_ROOTS"].split(os.pathsep)
from importlinter.cli import lint_imports_command
sys.argv = ["lint-imports", "--no-cache", "--no-logo"]
lint_imports_command()
"""


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python files of every part and the root pyproject.toml, nothing else."""
    copy = tmp_path_factory.mktemp("tree")
    shutil.copy2(REPO / "pyproject.toml", copy / "pyproject.toml")
    for part in PARTS:
        shutil.copytree(
            REPO / part.root / part.package,
            copy / part.root / part.package,
            ignore=lambda directory, names: [
                name
                for name in names
                if name == "__pycache__"
                or not (name.endswith(".py") or (Path(directory) / name).is_dir())
            ],
        )
    return copy


def lint_copy(copy: Path) -> subprocess.CompletedProcess[str]:
    roots = sorted({part.root for part in PARTS})
    return subprocess.run(
        [sys.executable, "-c", _DRIVER],
        cwd=copy,
        env=_lint_env(
            REAL_ROOTS=os.pathsep.join(str(REPO / root) for root in roots),
            COPY_ROOTS=os.pathsep.join(str(copy / root) for root in roots),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_copy_keeps_the_contracts(tree_copy: Path) -> None:
    """The baseline: whatever breaks a contract below is the probe, not the copying."""
    result = lint_copy(tree_copy)
    assert result.returncode == 0, _output(result)
    assert f"Contracts: {len(CHECKED_PARTS)} kept, 0 broken." in result.stdout, _output(result)


@pytest.mark.parametrize("part", CHECKED_PARTS, ids=lambda part: part.name)
def test_a_forbidden_import_breaks_its_contract(tree_copy: Path, part: Part) -> None:
    relative, source = PROBES[part.name]
    probe = tree_copy / part.root / part.package / relative
    probe.write_text(f'"""A forbidden import, planted by {__name__}."""\n\n{source}', "utf-8")
    try:
        result = lint_copy(tree_copy)
    finally:
        probe.unlink()
    output = _output(result)
    assert result.returncode == 1, output
    assert f"{contract_name(part)} BROKEN" in result.stdout, output
    assert "Contracts: " in result.stdout and " 1 broken." in result.stdout, output
    probe_module = ".".join((part.package, *Path(relative).with_suffix("").parts))
    assert probe_module in result.stdout, output
