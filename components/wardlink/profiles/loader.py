"""Loading device profiles from YAML, with errors a device engineer can act on.

``load_profile(path)`` reads one file; ``builtin_profiles()`` the profiles shipped
with the installed distributions (real devices from the edge, simulators from the
dev kit); ``find_profile`` accepts either a built-in name or a path. Every failure
is a ``ProfileError`` whose message names the file and, for schema errors, each
offending field and its line::

    sim-nonin.yaml:9: transport.baudrate: Input should be greater than 0
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from wardlink.cli.entry_points import entry_points
from wardlink.model import WardlinkError
from wardlink.profiles.schema import DeviceProfile

BUILTIN_PACKAGE = "wardlink.profiles.builtin"


class ProfileError(WardlinkError):
    """A profile file is missing, is not YAML, or does not match the schema."""


def _format_validation(source: str, error: ValidationError, text: str = "") -> str:
    from wardlink.runtime.yaml_lines import line_of

    try:
        tree = yaml.compose(text) if text else None
    except yaml.YAMLError:
        tree = None
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(profile)"
        todo = " (still TODO: fill in the scaffold)" if item.get("input") == "TODO" else ""
        where = f"{source}:{line_of(tree, tuple(item['loc']))}" if tree is not None else source
        lines.append(f"{where}: {location}: {item['msg']}{todo}")
    return "\n".join(lines)


def parse_profile(text: str, source: str = "<profile>") -> DeviceProfile:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        raise ProfileError(f"{source}: not valid YAML{at}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{source}: a profile must be a YAML mapping")
    try:
        return DeviceProfile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(_format_validation(source, exc, text)) from None


def load_profile(path: str | Path) -> DeviceProfile:
    """Read and validate one profile file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{file}: no such profile file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{file}: cannot read: {exc}") from None
    return parse_profile(text, file.name)


def load_profiles(directory: str | Path) -> dict[str, DeviceProfile]:
    """Every ``*.yaml`` profile in a directory, by profile name (names must be unique)."""
    found: dict[str, DeviceProfile] = {}
    for file in sorted(Path(directory).glob("*.yaml")):
        profile = load_profile(file)
        if profile.name in found:
            raise ProfileError(f"{file.name}: profile name {profile.name!r} is used twice")
        found[profile.name] = profile
    return found


PROFILES_GROUP = "wardlink.profiles"


def _profile_packages() -> list[str]:
    """The packages whose ``*.yaml`` files are built-in profiles.

    Real device profiles ship with the edge (``wardlink.profiles.builtin``); other
    installed distributions add theirs through the ``wardlink.profiles`` entry point
    group (the dev kit's simulator profiles), so a gateway lists only real devices.
    """
    packages = [BUILTIN_PACKAGE]
    for entry in sorted(entry_points(group=PROFILES_GROUP), key=lambda e: e.name):
        if entry.value not in packages:
            packages.append(entry.value)
    return packages


@cache
def _builtin() -> dict[str, DeviceProfile]:
    found: dict[str, DeviceProfile] = {}
    for package in _profile_packages():
        for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                profile = parse_profile(entry.read_text(encoding="utf-8"), entry.name)
                if profile.name in found:
                    raise ProfileError(f"{entry.name}: profile name {profile.name!r} is used twice")
                found[profile.name] = profile
    return found


def builtin_profiles() -> dict[str, DeviceProfile]:
    """The profiles shipped with Wardlink, by name."""
    return dict(_builtin())


def find_profile(name_or_path: str) -> DeviceProfile:
    """A built-in profile by name, or a profile file by path."""
    builtin = _builtin()
    if name_or_path in builtin:
        return builtin[name_or_path]
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return load_profile(name_or_path)
    known = ", ".join(sorted(builtin))
    raise ProfileError(f"unknown profile {name_or_path!r}; built-in: {known}")
