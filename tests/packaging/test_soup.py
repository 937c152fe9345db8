"""The SOUP list and SBOM: purposes for every shipped item, and real documents from the lock."""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packaging.licenses import canonicalize_license_expression
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.packaging.support import GATEWAY_LOCK, REPO, Entry, make_wheel, sha256, write_lock
from wardlink.packaging.soup import (
    GATEWAY_TARGETS,
    PURPOSES_FILE,
    UNKNOWN,
    LockError,
    MissingPurposeError,
    SoupError,
    Target,
    applicable_pins,
    check_purposes,
    read_lock,
    soup_items,
    write_cyclonedx,
    write_soup_markdown,
)

FAKE = "ab" * 32  # a syntactically valid sha256 for locks whose files are never read


def _purposes(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _purpose_table() -> dict[str, list[str]]:
    import yaml

    data = yaml.safe_load(PURPOSES_FILE.read_text(encoding="utf-8"))
    return {name: entry["runs"] for name, entry in data.items()}


# --- every dependency has a purpose ------------------------------------------------------


def test_every_gateway_dependency_has_a_purpose() -> None:
    # The test that fails when someone adds a gateway dependency without saying why.
    check_purposes(GATEWAY_LOCK, part="edge")


def _runtime_closure(distribution: str, environment: dict[str, str]) -> set[str]:
    """Third-party distributions ``distribution`` needs at run time, from installed metadata."""
    found: set[str] = set()
    todo = [distribution]
    while todo:
        requires = importlib.metadata.requires(todo.pop()) or []
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker or Marker("python_version >= '0'")
            if not marker.evaluate({**environment, "extra": ""}):
                continue  # an extra, or another platform
            name = canonicalize_name(requirement.name)
            if name not in found:
                found.add(name)
                todo.append(name)
    return {name for name in found if not name.startswith("wardlink-")}


def test_the_cloud_runtime_dependencies_have_cloud_purposes() -> None:
    closure = _runtime_closure("wardlink-cloud", GATEWAY_TARGETS[0].environment())
    assert {"boto3", "aws-lambda-powertools", "pydantic"} <= closure
    table = _purpose_table()
    missing = sorted(name for name in closure if "cloud" not in table.get(name, []))
    assert not missing, f"add a cloud purpose to {PURPOSES_FILE.name} for {missing}"


def test_the_dev_kit_and_cdk_dependencies_have_purposes() -> None:
    devkit = tomllib.loads((REPO / "devkit" / "pyproject.toml").read_text(encoding="utf-8"))
    cloud = tomllib.loads((REPO / "cloud" / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [
        *devkit["project"]["dependencies"],
        *devkit["project"]["optional-dependencies"]["test"],
        *cloud["project"]["optional-dependencies"]["cdk"],
    ]
    names = {canonicalize_name(Requirement(line).name) for line in declared}
    table = _purpose_table()
    missing = sorted(
        name
        for name in names
        if not name.startswith("wardlink-") and "dev" not in table.get(name, [])
    )
    assert not missing, f"add a dev purpose to {PURPOSES_FILE.name} for {missing}"


def test_a_dependency_without_a_purpose_is_named_with_every_other(tmp_path: Path) -> None:
    lock = write_lock(
        tmp_path / "requirements.lock",
        [
            Entry("zeta-lib", "1.0", [FAKE]),
            Entry("six", "1.17.0", [FAKE]),
            Entry("boto3", "1.0", [FAKE]),
            Entry("alpha-lib", "2.0", [FAKE]),
        ],
    )
    purposes = _purposes(
        tmp_path / "purposes.yaml",
        "six: {purpose: Compatibility shim., runs: [edge]}\n"
        "boto3: {purpose: AWS SDK in the cloud., runs: [cloud]}\n",
    )
    with pytest.raises(MissingPurposeError) as raised:
        check_purposes(lock, purposes, part="edge")
    assert raised.value.missing == ("alpha-lib", "boto3", "zeta-lib")
    message = str(raised.value)
    assert "alpha-lib: no entry" in message
    assert "boto3: runs on cloud, not edge" in message
    with pytest.raises(MissingPurposeError):
        soup_items(lock, purposes, part="edge")


def test_a_malformed_purposes_file_is_rejected_with_every_problem(tmp_path: Path) -> None:
    lock = write_lock(tmp_path / "requirements.lock", [Entry("six", "1.17.0", [FAKE])])
    purposes = _purposes(
        tmp_path / "purposes.yaml",
        "Six: {purpose: Shim., runs: [edge]}\n"
        "a: {purpose: '', runs: [edge]}\n"
        "b: {purpose: B., runs: [gateway]}\n"
        "c: {purpose: C., runs: [edge], licence: BSD}\n"
        "d: {purpose: D., runs: [edge], why: because}\n",
    )
    with pytest.raises(SoupError) as raised:
        check_purposes(lock, purposes)
    message = str(raised.value)
    for expected in (
        "write it as 'six'",
        "a: purpose",
        "b: runs",
        "'BSD' is not an SPDX",
        "d: unknown keys",
    ):
        assert expected in message


def test_a_distribution_given_twice_in_the_purposes_file_is_refused(tmp_path: Path) -> None:
    lock = write_lock(tmp_path / "requirements.lock", [Entry("six", "1.17.0", [FAKE])])
    purposes = _purposes(
        tmp_path / "purposes.yaml",
        "six: {purpose: One reason., runs: [edge]}\nsix: {purpose: Another., runs: [edge]}\n",
    )
    with pytest.raises(SoupError, match="six given twice"):
        check_purposes(lock, purposes)


# --- the lock and its markers ----------------------------------------------------------


def test_the_gateway_lock_parses_with_hashes_markers_and_provenance() -> None:
    pins = {pin.name: pin for pin in read_lock(GATEWAY_LOCK)}
    assert pins["dbus-fast"].marker == 'sys_platform == "linux"'
    assert pins["winrt-runtime"].marker == 'sys_platform == "win32"'
    assert pins["winrt-windows-foundation"].version == "4!10.0.28000.2705"
    assert pins["awscrt"].required_by == ("awsiotsdk", "wardlink-edge")
    assert pins["annotated-types"].required_by == ("pydantic",)
    assert all(pin.hashes and all(len(h) == 64 for h in pin.hashes) for pin in pins.values())


def test_only_the_linux_pins_apply_to_a_gateway() -> None:
    linux = {pin.name for pin in applicable_pins(GATEWAY_LOCK)}
    assert "dbus-fast" in linux
    assert not any(name.startswith(("pyobjc", "winrt")) for name in linux)
    mac = {pin.name for pin in applicable_pins(GATEWAY_LOCK, [Target("3.12", "darwin", "arm64")])}
    assert "pyobjc-core" in mac
    assert "dbus-fast" not in mac


def test_a_lock_pinned_per_python_version_gives_the_targets_versions(tmp_path: Path) -> None:
    lock = write_lock(
        tmp_path / "requirements.lock",
        [
            Entry("numpy", "1.26.4", ["11" * 32], "python_full_version < '3.12'"),
            Entry("numpy", "2.1.0", ["22" * 32], "python_full_version >= '3.12'"),
            Entry("six", "1.17.0", ["33" * 32], "python_version < '3.11'"),
        ],
    )
    assert [(p.name, p.version) for p in applicable_pins(lock, [Target("3.11")])] == [
        ("numpy", "1.26.4")
    ]
    both = applicable_pins(lock, GATEWAY_TARGETS)
    assert [(p.name, p.version) for p in both] == [("numpy", "1.26.4"), ("numpy", "2.1.0")]


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("six>=1.16 \\\n    --hash=sha256:" + FAKE, "not pinned"),
        ("six==1.17.0", "no --hash=sha256"),
        ("-e ./core", "'-e' has no place"),
    ],
    ids=["range", "no-hash", "editable"],
)
def test_a_lock_that_does_not_pin_by_hash_is_refused(
    tmp_path: Path, line: str, complaint: str
) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(LockError, match=complaint):
        read_lock(lock)


# --- real documents from the real lock ---------------------------------------------------


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_soup_list_and_sbom_for_the_gateway_lock(tmp_path: Path) -> None:
    # No wheelhouse: supplier and licence from the installed distributions.
    items = soup_items(GATEWAY_LOCK, part="edge")
    names = [item.name for item in items]
    assert names == sorted(names)
    assert {pin.name for pin in applicable_pins(GATEWAY_LOCK)} == set(names)
    for item in items:
        assert item.hashes_from == "lock"
        assert "edge" in item.runs_on
        if _installed_version(item.name) == item.version:
            assert item.metadata_from.startswith("installed distribution"), item
            assert item.supplier != UNKNOWN, item
            assert canonicalize_license_expression(item.licence) == item.licence, item
        else:  # the dev environment drifted from the lock: say so, never guess
            assert item.metadata_from.startswith("none found"), item
            assert item.supplier == UNKNOWN
    dbus = next(item for item in items if item.name == "dbus-fast")
    assert dbus.purpose.startswith("D-Bus client bleak uses to talk to BlueZ")

    table = tmp_path / "soup.md"
    write_soup_markdown(items, table, title="SOUP list: com.wardlink.Gateway 1.0.0")
    text = table.read_text(encoding="utf-8")
    assert "| Item | Supplier | Version | Licence | SHA-256 | Purpose | Runs on |" in text
    for item in items:
        assert f"| {item.name} | " in text
        assert f"### {item.name} {item.version}" in text
    assert "pyobjc" not in text and "winrt" not in text

    sbom = tmp_path / "sbom.cdx.json"
    write_cyclonedx(items, sbom, "com.wardlink.Gateway", "1.0.0")
    raw = sbom.read_text(encoding="utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw) is None
    document = json.loads(raw)
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.6"
    assert document["metadata"]["component"]["name"] == "com.wardlink.Gateway"
    components = {c["name"]: c for c in document["components"]}
    assert set(components) == set(names)
    cryptography = components["cryptography"]
    assert cryptography["purl"] == f"pkg:pypi/cryptography@{cryptography['version']}"
    assert {h["alg"] for h in cryptography["hashes"]} == {"SHA-256"}
    if _installed_version("cryptography") == cryptography["version"]:
        assert cryptography["licenses"] == [{"expression": "Apache-2.0 OR BSD-3-Clause"}]
        assert cryptography["supplier"]["name"].startswith("The Python Cryptographic Authority")
    assert components["hl7"]["licenses"] == [{"license": {"id": "BSD-3-Clause"}}]  # reviewed
    # Every component is in the dependency graph, reachable from the gateway component.
    graph = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert set(graph) == {c["bom-ref"] for c in document["components"]} | {
        "com.wardlink.Gateway@1.0.0"
    }
    reached: set[str] = set()
    todo = ["com.wardlink.Gateway@1.0.0"]
    while todo:
        for child in graph[todo.pop()]:
            if child not in reached:
                reached.add(child)
                todo.append(child)
    assert reached == {c["bom-ref"] for c in document["components"]}
    assert "pkg:pypi/dbus-fast@5.2.0" in graph["pkg:pypi/bleak@3.1.0"]


# --- from a wheelhouse ---------------------------------------------------------------------


_PURPOSES = (
    "alpha-lib: {purpose: Parses alpha frames., runs: [edge]}\n"
    "beta-lib: {purpose: Beta helper alpha-lib needs., runs: [edge, cloud]}\n"
)


def _wheelhouse(tmp_path: Path) -> tuple[Path, Path, Path]:
    wheels = tmp_path / "wheelhouse"
    wheels.mkdir()
    alpha = make_wheel(
        wheels,
        "alpha-lib",
        "1.2.0",
        [
            ("Author-email", "Ada Lovelace <ada@example.org>, Bo Chen <bo@example.org>"),
            ("License-Expression", "MIT OR Apache-2.0"),
            ("Project-URL", "Source, https://example.org/alpha"),
        ],
    )
    beta = make_wheel(
        wheels,
        "beta-lib",
        "0.9",
        [
            ("Maintainer", "Beta Team"),
            ("License", "BSD"),
            ("Classifier", "License :: OSI Approved :: BSD License"),
        ],
    )
    make_wheel(wheels, "wardlink-edge", "0.1.0")  # ours: not SOUP
    lock = write_lock(
        tmp_path / "requirements.lock",
        [
            Entry("alpha-lib", "1.2.0", [FAKE, sha256(alpha)]),
            Entry("beta-lib", "0.9", [sha256(beta)], via=["alpha-lib"]),
            Entry("gamma-lib", "3.0", [FAKE], "sys_platform == 'win32'"),
        ],
    )
    return lock, wheels, _purposes(tmp_path / "purposes.yaml", _PURPOSES)


def test_items_from_a_wheelhouse_carry_the_shipped_wheels_hashes_and_metadata(
    tmp_path: Path,
) -> None:
    lock, wheels, purposes = _wheelhouse(tmp_path)
    alpha, beta = soup_items(lock, purposes, part="edge", wheels_dir=wheels)

    assert alpha.hashes == (sha256(wheels / "alpha_lib-1.2.0-py3-none-any.whl"),)
    assert alpha.hashes_from == "wheelhouse"
    assert alpha.supplier == "Ada Lovelace, Bo Chen"
    assert alpha.licence == "MIT OR Apache-2.0"
    assert alpha.homepage == "https://example.org/alpha"
    assert alpha.metadata_from == "METADATA of alpha_lib-1.2.0-py3-none-any.whl"
    assert beta.supplier == "Beta Team"
    assert beta.licence == "BSD"  # vague metadata stays visible rather than guessed
    assert beta.required_by == ("alpha-lib",)

    table = tmp_path / "soup.md"
    write_soup_markdown([alpha, beta], table)
    assert f"`{alpha.hashes[0]}`" in table.read_text(encoding="utf-8")
    sbom = tmp_path / "sbom.json"
    write_cyclonedx([alpha, beta], sbom, "com.example.Component", "2.0.0")
    document = json.loads(sbom.read_text(encoding="utf-8"))
    by_name = {c["name"]: c for c in document["components"]}
    assert by_name["alpha-lib"]["hashes"] == [{"alg": "SHA-256", "content": alpha.hashes[0]}]
    assert by_name["beta-lib"]["licenses"] == [{"license": {"name": "BSD"}}]
    graph = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert graph["pkg:pypi/alpha-lib@1.2.0"] == ["pkg:pypi/beta-lib@0.9"]
    assert graph["com.example.Component@2.0.0"] == ["pkg:pypi/alpha-lib@1.2.0"]


def test_a_wheelhouse_that_does_not_match_the_lock_is_refused(tmp_path: Path) -> None:
    lock, wheels, purposes = _wheelhouse(tmp_path)
    (wheels / "beta_lib-0.9-py3-none-any.whl").unlink()
    make_wheel(wheels, "beta-lib", "0.9", [("Maintainer", "Someone Else")], tag="py2.py3-none-any")
    (wheels / "alpha_lib-1.2.0-py3-none-any.whl").unlink()
    make_wheel(wheels, "delta-lib", "1.0")
    with pytest.raises(SoupError) as raised:
        soup_items(lock, purposes, part="edge", wheels_dir=wheels)
    message = str(raised.value)
    assert "alpha-lib==1.2.0: no wheel in the wheelhouse" in message
    assert "beta_lib-0.9-py2.py3-none-any.whl: sha256" in message
    assert "delta_lib-1.0-py3-none-any.whl: in the wheelhouse but not pinned" in message


def test_a_wheel_naming_no_author_takes_the_reviewed_supplier(tmp_path: Path) -> None:
    wheels = tmp_path / "wheelhouse"
    wheels.mkdir()
    anonymous = make_wheel(wheels, "anon-lib", "1.0", [("License-Expression", "MIT")])
    lock = write_lock(
        tmp_path / "requirements.lock", [Entry("anon-lib", "1.0", [sha256(anonymous)])]
    )
    bare = _purposes(tmp_path / "bare.yaml", "anon-lib: {purpose: Parses anon., runs: [edge]}\n")
    (item,) = soup_items(lock, bare, wheels_dir=wheels)
    assert item.supplier == UNKNOWN
    reviewed = _purposes(
        tmp_path / "reviewed.yaml",
        "anon-lib: {purpose: Parses anon., runs: [edge], supplier: Anon Project}\n",
    )
    (item,) = soup_items(lock, reviewed, wheels_dir=wheels)
    assert item.supplier == "Anon Project"
    assert item.licence == "MIT"
    assert item.metadata_from.endswith("(supplier from soup-purposes.yaml)")
