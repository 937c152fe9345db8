"""The installed distributions' entry points of one group, without ``importlib.metadata``.

Wardlink's parts find each other through entry points: the ``wardlink`` command's
sub-commands (``wardlink.cli.main``) and the profile packages of the dev kit
(``wardlink.profiles.loader``). A gateway component starts as ``wardlink run
proxy|uplink`` and then runs for weeks, so everything it imports while starting stays
resident. ``importlib.metadata`` brings ``email``, ``zipfile``, ``csv`` and their
dependencies with it: about 6.8 MB of resident memory in a bare interpreter, for a
lookup that reads one small ini file per distribution (the gateway's per-component
budget is 45 MB). pydantic loads it too, for its plugins; ``wardlink.runtime.lean``
keeps that out of the components.

So this module reads the same files the same way, for the one case we need: the
``entry_points.txt`` of each ``*.dist-info`` (or ``*.egg-info``) directory on
``sys.path``, the first distribution of a name winning as in ``importlib.metadata``.
Zipped distributions (eggs, zipapps) are not searched; Wardlink never installs as one.
``tests/core/test_entry_points.py`` checks that it finds what ``importlib.metadata``
finds in the development environment.
"""

from __future__ import annotations

import configparser
import importlib
import os
import re
import sys
from dataclasses import dataclass

_METADATA_SUFFIXES = (".dist-info", ".egg-info")


@dataclass(frozen=True)
class EntryPoint:
    """One ``name = module:attribute`` line of a group."""

    name: str
    value: str
    group: str

    def load(self) -> object:
        """Import the module and return the attribute (or the module, without one)."""
        module_name, _, attribute = self.value.partition(":")
        attribute = attribute.split("[", 1)[0].strip()  # "module:attr [extra]"
        loaded: object = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.split(".")):
            loaded = getattr(loaded, part)
        return loaded


def _normalized(directory_name: str) -> str:
    """The distribution name of ``name-version.dist-info``, normalized (PEP 503)."""
    stem = directory_name.rsplit(".", 1)[0]
    name = stem.split("-", 1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _metadata_directories() -> list[str]:
    """Each distribution's metadata directory, in ``sys.path`` order, first name wins."""
    seen: set[str] = set()
    found: list[str] = []
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                names = sorted(
                    item.name for item in listing if item.name.endswith(_METADATA_SUFFIXES)
                )
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for name in names:
            distribution = _normalized(name)
            if distribution not in seen:
                seen.add(distribution)
                found.append(os.path.join(entry or ".", name))
    return found


def entry_points(group: str) -> list[EntryPoint]:
    """Every installed entry point of ``group``, as ``importlib.metadata`` would list them."""
    found: list[EntryPoint] = []
    for directory in _metadata_directories():
        path = os.path.join(directory, "entry_points.txt")
        if not os.path.isfile(path):
            continue
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue  # a broken distribution must not take the command down
        if parser.has_section(group):
            found.extend(
                EntryPoint(name=name, value=value, group=group)
                for name, value in parser.items(group)
            )
    return found
