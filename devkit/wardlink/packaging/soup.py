"""The SOUP list and the SBOM of what a gateway component ships.

IEC 62304 asks a medical-device manufacturer to name every item of software of
unknown provenance (SOUP) - for Wardlink, every third-party Python distribution a
gateway installs - with its title, manufacturer and unique designator (8.1.2) and
to say why it is used (5.3.3); regulators also ask for a machine-readable SBOM.
Both are only worth having if they describe exactly what ships, so the component
build generates them from the same inputs the gateway installs from:

* the hash-pinned lock (``components/requirements.lock``), filtered by its PEP 508
  markers for the gateway's platforms (:class:`Target`), so that bleak's macOS and
  Windows backends never appear on a Linux gateway's list;
* the wheels the build ships (a wheelhouse): each file's SHA-256, checked against
  the lock's pins, and the supplier and licence read from its ``METADATA``. With
  no wheelhouse (a developer's preview) the installed distributions' metadata and
  the lock's hashes stand in.

What only a person can say - why Wardlink uses an item and where it runs - is the
reviewed data file ``soup-purposes.yaml`` beside this module. A pinned
distribution without a purpose is an error that names every such item
(:class:`MissingPurposeError`), so a new dependency cannot ship unexplained.

Only ``packaging`` and PyYAML are needed to build the list; cyclonedx-python-lib is
imported by :func:`write_cyclonedx` alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import yaml
from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.markers import InvalidMarker, Marker
from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

__all__ = [
    "GATEWAY_TARGETS",
    "PARTS",
    "PURPOSES_FILE",
    "UNKNOWN",
    "LockError",
    "MissingPurposeError",
    "Pin",
    "SoupError",
    "SoupItem",
    "Target",
    "applicable_pins",
    "check_purposes",
    "read_lock",
    "soup_items",
    "write_cyclonedx",
    "write_soup_markdown",
]

PURPOSES_FILE = Path(__file__).with_name("soup-purposes.yaml")
PARTS = ("edge", "cloud", "dev")
UNKNOWN = "UNKNOWN"
# Our own distributions (wardlink-core, wardlink-edge, ...) are not SOUP.
_OWN_PREFIX = "wardlink-"


class SoupError(Exception):
    """The SOUP list or SBOM cannot be made; the message says why."""


class LockError(SoupError):
    """The lock file is not a list of ``name==version`` pins with SHA-256 hashes."""


class MissingPurposeError(SoupError):
    """Distributions in a lock have no purpose for the part being built."""

    def __init__(self, missing: Sequence[tuple[str, str]], purposes: Path, part: str) -> None:
        self.missing = tuple(name for name, _ in missing)
        lines = "\n".join(f"  - {name}: {why}" for name, why in missing)
        super().__init__(
            f"{len(missing)} third-party distribution(s) have no purpose for '{part}' in "
            f"{purposes}:\n{lines}\n"
            "Add an entry for each (purpose: why Wardlink uses it; runs: where it runs)."
        )


# --- the platform a lock is installed on -------------------------------------------


@dataclass(frozen=True)
class Target:
    """A platform a lock is installed on, as the values PEP 508 markers test.

    ``python_full_version`` is taken as the ``.0`` release of ``python_version``.
    """

    python_version: str
    sys_platform: str = "linux"
    platform_machine: str = "x86_64"
    implementation_name: str = "cpython"

    def environment(self) -> dict[str, str]:
        """Every marker variable, so nothing of the building machine leaks in."""
        implementation = {"cpython": "CPython", "pypy": "PyPy"}.get(
            self.implementation_name, self.implementation_name
        )
        system = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}.get(
            self.sys_platform, self.sys_platform
        )
        return {
            "implementation_name": self.implementation_name,
            "implementation_version": f"{self.python_version}.0",
            "os_name": "nt" if self.sys_platform == "win32" else "posix",
            "platform_machine": self.platform_machine,
            "platform_python_implementation": implementation,
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": f"{self.python_version}.0",
            "python_version": self.python_version,
            "sys_platform": self.sys_platform,
        }

    def __str__(self) -> str:
        return (
            f"{self.implementation_name} {self.python_version} "
            f"{self.sys_platform}/{self.platform_machine}"
        )


# The gateways: Linux with the Python that Greengrass's nucleus host provides.
GATEWAY_TARGETS: tuple[Target, ...] = (Target("3.11"), Target("3.12"))


# --- the lock ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One ``name==version ; marker`` entry of a lock, with its hashes.

    ``required_by`` holds the lock's ``# via`` names: who pulled the pin in.
    """

    name: str
    version: str
    marker: str | None
    hashes: tuple[str, ...]
    required_by: tuple[str, ...] = ()

    def applies_to(self, targets: Iterable[Target]) -> bool:
        """Whether the pin is installed on at least one of ``targets``."""
        if self.marker is None:
            return True
        marker = Marker(self.marker)
        return any(marker.evaluate(t.environment(), "requirement") for t in targets)


_HASH_OPTION = re.compile(r"--hash[=\s]+(?P<algorithm>\w+):(?P<digest>[0-9a-fA-F]+)")
_FORBIDDEN_OPTIONS = ("-e", "--editable", "-r", "--requirement", "-c", "--constraint")


def read_lock(lock: Path) -> list[Pin]:
    """Every pin of a pip-format lock (``uv pip compile --generate-hashes``), in file order."""
    builders: list[tuple[int, str, list[str]]] = []  # (line, requirement, via names)
    in_via = False
    for number, line in _logical_lines(lock.read_text(encoding="utf-8")):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            if not line[0].isspace():  # a top-level comment ends the last pin's notes
                in_via = False
            elif builders:
                body = text.lstrip("#").strip()
                if body == "via":
                    in_via = True
                elif body.startswith("via "):
                    builders[-1][2].append(body[4:].strip())
                    in_via = False
                elif in_via and body and not body.startswith("-"):
                    builders[-1][2].append(body)
            continue
        in_via = False
        if text.startswith("-"):
            option = text.split(maxsplit=1)[0].split("=", 1)[0]
            if option in _FORBIDDEN_OPTIONS:
                raise LockError(f"{lock}:{number}: '{option}' has no place in a hash-pinned lock")
            continue  # index options (--index-url, --find-links) pin nothing
        builders.append((number, text, []))
    return [_pin(lock, number, text, via) for number, text, via in builders]


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with backslash continuations joined, each with its first line's number."""
    parts: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\") and not stripped.lstrip().startswith("#"):
            parts.append(stripped[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _pin(lock: Path, number: int, text: str, via: list[str]) -> Pin:
    where = f"{lock}:{number}"
    hashes: list[str] = []
    for match in _HASH_OPTION.finditer(text):
        if match["algorithm"].lower() == "sha256":
            hashes.append(match["digest"].lower())
    requirement_text = re.split(r"\s+#", _HASH_OPTION.sub("", text), maxsplit=1)[0].strip()
    try:
        requirement = Requirement(requirement_text)
    except InvalidRequirement as exc:
        raise LockError(f"{where}: not a requirement: {exc}") from exc
    specifiers = list(requirement.specifier)
    if (
        requirement.url
        or len(specifiers) != 1
        or specifiers[0].operator != "=="
        or "*" in specifiers[0].version
    ):
        raise LockError(f"{where}: {requirement_text!r} is not pinned to one version with ==")
    if not hashes:
        raise LockError(f"{where}: {requirement.name} has no --hash=sha256:... pin")
    return Pin(
        name=canonicalize_name(requirement.name),
        version=specifiers[0].version,
        marker=str(requirement.marker) if requirement.marker else None,
        hashes=tuple(dict.fromkeys(hashes)),
        required_by=tuple(dict.fromkeys(canonicalize_name(name) for name in via)),
    )


def applicable_pins(lock: Path, targets: Sequence[Target] = GATEWAY_TARGETS) -> list[Pin]:
    """The pins installed on at least one target, one per name and version, by name.

    Our own distributions are left out: they are not SOUP. A universal lock may pin
    one version twice under different markers; those entries are merged.
    """
    merged: dict[tuple[str, Version], Pin] = {}
    for pin in read_lock(lock):
        if pin.name.startswith(_OWN_PREFIX):
            continue
        try:
            if not pin.applies_to(targets):
                continue
            key = (pin.name, Version(pin.version))
        except (InvalidMarker, InvalidVersion) as exc:
            raise LockError(f"{lock}: {pin.name}: {exc}") from exc
        earlier = merged.get(key)
        if earlier is not None:
            pin = Pin(
                name=pin.name,
                version=pin.version,
                marker=None,
                hashes=tuple(dict.fromkeys(earlier.hashes + pin.hashes)),
                required_by=tuple(dict.fromkeys(earlier.required_by + pin.required_by)),
            )
        merged[key] = pin
    return [merged[key] for key in sorted(merged)]


# --- purposes -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Purpose:
    purpose: str
    runs_on: tuple[str, ...]
    licence: str | None
    supplier: str | None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (plain PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        twice = sorted({str(key) for key in keys if keys.count(key) > 1})
        if twice:
            raise yaml.constructor.ConstructorError(
                None, None, f"{', '.join(twice)} given twice", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


def _load_purposes(path: Path) -> dict[str, _Purpose]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise SoupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise SoupError(f"{path}: expected a mapping of distribution name to purpose")
    problems: list[str] = []
    table: dict[str, _Purpose] = {}
    for key, entry in data.items():
        name = str(key)
        if canonicalize_name(name) != name:
            problems.append(f"{name}: write it as {canonicalize_name(name)!r}")
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{name}: expected purpose and runs")
            continue
        unknown = sorted(set(entry) - {"purpose", "runs", "licence", "supplier"})
        purpose = entry.get("purpose")
        runs = entry.get("runs")
        licence = entry.get("licence")
        supplier = entry.get("supplier")
        if unknown:
            problems.append(f"{name}: unknown keys {unknown}")
        if not isinstance(purpose, str) or not purpose.strip() or "\n" in purpose.strip():
            problems.append(f"{name}: purpose must be one non-empty line")
            continue
        if (
            not isinstance(runs, list)
            or not runs
            or not all(isinstance(part, str) and part in PARTS for part in runs)
        ):
            problems.append(f"{name}: runs must be a non-empty list of {list(PARTS)}")
            continue
        if licence is not None:
            spdx = _spdx(licence) if isinstance(licence, str) else None
            if spdx is None:
                problems.append(f"{name}: licence {licence!r} is not an SPDX expression")
                continue
            licence = spdx
        if supplier is not None and (not isinstance(supplier, str) or not supplier.strip()):
            problems.append(f"{name}: supplier must be non-empty text")
            continue
        table[name] = _Purpose(
            purpose.strip(), tuple(runs), licence, supplier.strip() if supplier else None
        )
    if problems:
        raise SoupError(f"{path}:\n" + "\n".join(f"  - {p}" for p in problems))
    return table


def _missing_purposes(
    pins: Iterable[Pin], table: Mapping[str, _Purpose], part: str
) -> list[tuple[str, str]]:
    missing: dict[str, str] = {}
    for pin in pins:
        entry = table.get(pin.name)
        if entry is None:
            missing[pin.name] = "no entry"
        elif part not in entry.runs_on:
            missing[pin.name] = f"runs on {', '.join(entry.runs_on)}, not {part}"
    return sorted(missing.items())


def check_purposes(
    lock: Path,
    purposes: Path = PURPOSES_FILE,
    *,
    part: str = "edge",
    targets: Sequence[Target] = GATEWAY_TARGETS,
) -> None:
    """Raise :class:`MissingPurposeError` naming every pin with no purpose for ``part``."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    missing = _missing_purposes(applicable_pins(lock, targets), _load_purposes(purposes), part)
    if missing:
        raise MissingPurposeError(missing, purposes, part)


# --- the items ----------------------------------------------------------------------


@dataclass(frozen=True)
class SoupItem:
    """One third-party item as the SOUP list and the SBOM name it.

    ``hashes`` are the SHA-256 digests of the wheels shipped when
    ``hashes_from == "wheelhouse"``, or every hash the lock accepts when
    ``hashes_from == "lock"``. ``metadata_from`` says where supplier and licence
    were read.
    """

    name: str
    version: str
    supplier: str
    licence: str
    purpose: str
    runs_on: tuple[str, ...]
    hashes: tuple[str, ...]
    hashes_from: str
    required_by: tuple[str, ...]
    homepage: str | None
    metadata_from: str


def soup_items(
    lock: Path,
    purposes: Path = PURPOSES_FILE,
    *,
    part: str = "edge",
    wheels_dir: Path | None = None,
    targets: Sequence[Target] = GATEWAY_TARGETS,
) -> list[SoupItem]:
    """The SOUP items of ``lock`` for ``part`` on ``targets``, sorted by name.

    With ``wheels_dir``, every applicable pin must have its wheel(s) there, each
    wheel's SHA-256 must be one the lock pins, and no other third-party wheel may
    be there; supplier and licence come from the wheels. Without it they come from
    the installed distribution of the pinned version (``UNKNOWN`` when there is
    none) and the hashes are the lock's.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    pins = applicable_pins(lock, targets)
    table = _load_purposes(purposes)
    missing = _missing_purposes(pins, table, part)
    if missing:
        raise MissingPurposeError(missing, purposes, part)
    shipped = _match_wheelhouse(wheels_dir, pins) if wheels_dir is not None else None
    items: list[SoupItem] = []
    for pin in pins:
        entry = table[pin.name]
        if shipped is not None:
            wheels = shipped[(pin.name, pin.version)]
            raw: RawMetadata | None = _wheel_metadata(wheels[0][0])
            metadata_from = f"METADATA of {wheels[0][0].name}"
            hashes = tuple(digest for _, digest in wheels)
        else:
            raw, metadata_from = _installed_metadata(pin.name, pin.version)
            hashes = pin.hashes
        raw = raw if raw is not None else {}
        items.append(
            SoupItem(
                name=pin.name,
                version=pin.version,
                supplier=entry.supplier or _first(_SUPPLIER_RULES, raw),
                licence=entry.licence or _first(_LICENCE_RULES, raw),
                purpose=entry.purpose,
                runs_on=entry.runs_on,
                hashes=hashes,
                hashes_from="wheelhouse" if shipped is not None else "lock",
                required_by=pin.required_by,
                homepage=_homepage(raw),
                metadata_from=metadata_from + _overridden(entry),
            )
        )
    return items


def _overridden(entry: _Purpose) -> str:
    fields = [
        name for name, value in (("supplier", entry.supplier), ("licence", entry.licence)) if value
    ]
    return f" ({' and '.join(fields)} from soup-purposes.yaml)" if fields else ""


def _match_wheelhouse(
    wheels_dir: Path, pins: Sequence[Pin]
) -> dict[tuple[str, str], list[tuple[Path, str]]]:
    """Each pin's wheels with their SHA-256; every mismatch is a problem, all raised at once."""
    problems: list[str] = []
    found: dict[tuple[str, Version], list[Path]] = {}
    for path in sorted(wheels_dir.glob("*.whl")):
        try:
            name, version, _, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if not name.startswith(_OWN_PREFIX):
            found.setdefault((name, version), []).append(path)
    shipped: dict[tuple[str, str], list[tuple[Path, str]]] = {}
    for pin in pins:
        paths = found.pop((pin.name, Version(pin.version)), [])
        if not paths:
            problems.append(f"{pin.name}=={pin.version}: no wheel in the wheelhouse")
            continue
        wheels = [(path, _sha256(path)) for path in paths]
        for path, digest in wheels:
            if digest not in pin.hashes:
                problems.append(
                    f"{path.name}: sha256 {digest} is not one the lock pins for "
                    f"{pin.name}=={pin.version}"
                )
        shipped[(pin.name, pin.version)] = wheels
    for paths in found.values():
        problems.extend(
            f"{path.name}: in the wheelhouse but not pinned for the gateway" for path in paths
        )
    if problems:
        raise SoupError(
            f"the wheelhouse {wheels_dir} does not match the lock:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return shipped


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _wheel_metadata(wheel: Path) -> RawMetadata:
    with zipfile.ZipFile(wheel) as archive:
        names = [
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if len(names) != 1:
            raise SoupError(f"{wheel.name}: expected one *.dist-info/METADATA, found {names}")
        raw, _ = parse_email(archive.read(names[0]))
    return raw


def _installed_metadata(name: str, version: str) -> tuple[RawMetadata | None, str]:
    """The installed distribution's metadata if it is the pinned version, and what was found."""
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None, "none found (not installed)"
    if Version(distribution.version) != Version(version):
        # Another version's metadata could misstate the item.
        return None, f"none found (installed {distribution.version}, not the pinned {version})"
    text = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO")
    if not text:
        return None, "none found (the installed distribution has no METADATA)"
    return parse_email(text)[0], "installed distribution"


# --- supplier and licence: rules in order, the first that finds a value wins -------

_Rule = tuple[str, Callable[[RawMetadata], str | None]]


def _first(rules: Sequence[_Rule], raw: RawMetadata) -> str:
    for _name, rule in rules:
        value = rule(raw)
        if value:
            return value
    return UNKNOWN


def _plain(value: str | None) -> str | None:
    """A name field that holds names, not an address."""
    value = (value or "").strip()
    if not value or "@" in value or value.upper() in {UNKNOWN, "NONE"}:
        return None
    return value


def _names(value: str | None) -> str | None:
    """The display names of an ``A <a@x>, B <b@y>`` field, at most three."""
    names = [name for name, _ in getaddresses([value or ""]) if name.strip()]
    return _shorten(names)


def _addresses(value: str | None) -> str | None:
    return _shorten([address for _, address in getaddresses([value or ""]) if address])


def _shorten(names: Sequence[str]) -> str | None:
    if not names:
        return None
    if len(names) <= 3:
        return ", ".join(names)
    return f"{', '.join(names[:3])} and {len(names) - 3} others"


_SUPPLIER_RULES: tuple[_Rule, ...] = (
    ("Author", lambda raw: _plain(raw.get("author"))),
    ("Author-email names", lambda raw: _names(raw.get("author_email"))),
    ("Maintainer", lambda raw: _plain(raw.get("maintainer"))),
    ("Maintainer-email names", lambda raw: _names(raw.get("maintainer_email"))),
    ("Author-email address", lambda raw: _addresses(raw.get("author_email"))),
    ("Maintainer-email address", lambda raw: _addresses(raw.get("maintainer_email"))),
)


def _spdx(value: str) -> str | None:
    value = value.strip()
    if not value or "\n" in value:
        return None
    try:
        return str(canonicalize_license_expression(value))
    except InvalidLicenseExpression:
        return None


# Trove classifiers that name exactly one SPDX licence ("BSD License" names none).
_CLASSIFIER_SPDX = {
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
}


def _licence_classifiers(raw: RawMetadata) -> list[str]:
    return [c for c in raw.get("classifiers", []) if c.startswith("License ::")]


def _from_classifier(raw: RawMetadata) -> str | None:
    classifiers = _licence_classifiers(raw)
    return _CLASSIFIER_SPDX.get(classifiers[0]) if len(classifiers) == 1 else None


def _short_text(raw: RawMetadata) -> str | None:
    """A ``License`` field that names a licence rather than holding its text."""
    value = (raw.get("license") or "").strip()
    if not value or "\n" in value or len(value) > 80 or value.upper() == UNKNOWN:
        return None
    return value


_LICENCE_RULES: tuple[_Rule, ...] = (
    ("License-Expression", lambda raw: _spdx(raw.get("license_expression") or "")),
    ("License as SPDX", lambda raw: _spdx(raw.get("license") or "")),
    ("one licence classifier", _from_classifier),
    ("License as a name", _short_text),
    (
        "licence classifiers' names",
        lambda raw: "; ".join(c.rsplit(" :: ", 1)[-1] for c in _licence_classifiers(raw)),
    ),
)

_HOMEPAGE_LABELS = ("homepage", "home", "source", "source code", "repository", "code", "github")


def _homepage(raw: RawMetadata) -> str | None:
    urls: dict[str, str] = {}
    for label, url in raw.get("project_urls", {}).items():
        urls.setdefault(label.strip().lower(), url.strip())
    for label in _HOMEPAGE_LABELS:
        if urls.get(label):
            return urls[label]
    home = (raw.get("home_page") or "").strip()
    return home or None


# --- writers ------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def write_soup_markdown(items: Sequence[SoupItem], path: Path, *, title: str = "SOUP list") -> None:
    """Write the SOUP list as a Markdown table, with the lock's hashes listed below it."""
    lines = [
        f"# {title}",
        "",
        "Software of unknown provenance (IEC 62304 8.1.2): every third-party item this build",
        "ships, with its supplier, version, licence and why Wardlink uses it. Generated by",
        "`wardlink.packaging.soup` from the lock, the shipped wheels and `soup-purposes.yaml`;",
        "change those, not this file.",
        "",
        "| Item | Supplier | Version | Licence | SHA-256 | Purpose | Runs on |",
        "|---|---|---|---|---|---|---|",
    ]
    from_lock: list[SoupItem] = []
    for item in items:
        if item.hashes_from == "wheelhouse":
            digests = "<br>".join(f"`{digest}`" for digest in item.hashes)
        else:
            digests = f"one of {len(item.hashes)} in the lock (below)"
            from_lock.append(item)
        row = (
            item.name,
            item.supplier,
            item.version,
            item.licence,
            digests,
            item.purpose,
            ", ".join(item.runs_on),
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    if from_lock:
        lines += [
            "",
            "## Hashes the lock accepts",
            "",
            "No wheelhouse was given, so these items are identified by every SHA-256 the",
            "lock accepts for them (one per published file).",
        ]
        for item in from_lock:
            lines += ["", f"### {item.name} {item.version}", ""]
            lines += [f"- `sha256:{digest}`" for digest in item.hashes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_cyclonedx(
    items: Sequence[SoupItem],
    path: Path,
    component_name: str,
    version: str,
    *,
    timestamp: datetime | None = None,
) -> None:
    """Write a CycloneDX 1.6 JSON SBOM of ``component_name`` and its SOUP items.

    Each item is a library with its purl (``pkg:pypi/...``), SHA-256 hashes,
    licence, supplier and purpose; the dependency graph follows the lock's
    ``# via`` notes. The document is validated against the CycloneDX schema
    before it is written; a schema error raises :class:`SoupError`.
    """
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import (
        ExternalReference,
        ExternalReferenceType,
        HashAlgorithm,
        HashType,
        Property,
        XsUri,
    )
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from packageurl import PackageURL

    licences = LicenseFactory()
    root = Component(
        type=ComponentType.APPLICATION,
        name=component_name,
        version=version,
        bom_ref=f"{component_name}@{version}",
    )
    tool = Component(
        type=ComponentType.APPLICATION,
        name="wardlink.packaging.soup",
        version=_own_version(),
    )
    components: dict[SoupItem, Component] = {}
    for item in items:
        purl = PackageURL(type="pypi", name=item.name, version=item.version)
        urls = [XsUri(item.homepage)] if item.homepage else []
        properties = [Property(name="wardlink:runs-on", value=part) for part in item.runs_on]
        properties.append(Property(name="wardlink:hashes-from", value=item.hashes_from))
        components[item] = Component(
            type=ComponentType.LIBRARY,
            name=item.name,
            version=item.version,
            bom_ref=purl.to_string(),
            purl=purl,
            supplier=OrganizationalEntity(name=item.supplier, urls=urls)
            if item.supplier != UNKNOWN
            else None,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest) for digest in item.hashes],
            licenses=[licences.make_from_string(item.licence)] if item.licence != UNKNOWN else [],
            description=item.purpose,
            external_references=[
                ExternalReference(type=ExternalReferenceType.WEBSITE, url=url) for url in urls
            ],
            properties=properties,
        )
    bom = Bom(
        components=components.values(),
        metadata=BomMetaData(
            component=root,
            timestamp=timestamp or datetime.now(UTC),
            tools=ToolRepository(components=[tool]),
        ),
    )
    for parent, children in _dependency_graph(items).items():
        bom.register_dependency(
            components[parent] if parent is not None else root,
            [components[child] for child in children],
        )
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise SoupError(f"the SBOM for {component_name} is not valid CycloneDX 1.6: {error}")
    path.write_text(text + "\n", encoding="utf-8")


def _dependency_graph(items: Sequence[SoupItem]) -> dict[SoupItem | None, list[SoupItem]]:
    """Parent -> children from the ``# via`` notes; ``None`` is the component itself.

    An item pulled in by our own distributions, or by nothing on the list, hangs
    off the component, so the graph reaches every item; every item gets an entry.
    """
    by_name: dict[str, list[SoupItem]] = {}
    for item in items:
        by_name.setdefault(item.name, []).append(item)
    graph: dict[SoupItem | None, list[SoupItem]] = {None: []}
    graph.update({item: [] for item in items})
    for item in items:
        parents = [p for name in item.required_by for p in by_name.get(name, [])]
        if not parents or any(name.startswith(_OWN_PREFIX) for name in item.required_by):
            graph[None].append(item)
        for parent in parents:
            graph[parent].append(item)
    return graph


def _own_version() -> str | None:
    try:
        return importlib.metadata.version("wardlink-devkit")
    except importlib.metadata.PackageNotFoundError:
        return None
