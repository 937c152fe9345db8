"""Structured JSON: rebuild a document from the fields the policy declares, nothing else.

The policy's ``json.fields`` are dotted paths (``readings.heartRate``), with ``*`` for
any key at one level and ``[]`` for the items of an array (``alarms[]``,
``contacts[].relation``). The output is *constructed* from those paths; every other
key is dropped, however deeply nested.

Before the free-text fields are scrubbed, the string values of every field that is
*not* passed verbatim are collected as known values (the patient's name in
``patient.name`` is then also removed from ``note``).

A FHIR resource (an object with ``resourceType``, alone, in a top-level array, or a
Bundle) says what each of its elements is, so it is redacted by that structure
instead (``wardlink.phi.fhir``); resource types FHIR-aware redaction has no table for
come back here, to the allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from wardlink.model.errors import RedactionError
from wardlink.phi.config import FieldRule
from wardlink.phi.fhir import FhirRedactor, is_fhir
from wardlink.phi.fields import DROP, FieldActions

_VERBATIM = frozenset({"keep", "number", "code", "match"})
_PERSON_KEY_HINTS = (
    "name", "first", "last", "given", "family", "surname", "middle", "maiden",
    "contact", "kin", "relative", "spouse", "guardian", "employer", "mother", "father",
    "emergency", "physician", "doctor", "nurse", "attending", "provider", "caregiver",
    "city", "street", "address", "town", "county",
)  # fmt: skip
MAX_DEPTH = 32


@dataclass
class _Node:
    rule: FieldRule | None = None
    children: dict[str, _Node] = field(default_factory=dict)
    wildcard: _Node | None = None
    items: _Node | None = None

    def child(self, key: str) -> _Node | None:
        return self.children.get(key) or self.wildcard


def compile_paths(fields: Mapping[str, str]) -> _Node:
    """Turn ``{"a.b[]": "code"}`` into a tree the redactor can walk."""
    root = _Node()
    for path, rule_text in fields.items():
        rule = FieldRule.parse(rule_text)
        node = root
        for part in path.split("."):
            array = part.endswith("[]")
            key = part[:-2] if array else part
            if key == "*":
                node.wildcard = node.wildcard or _Node()
                node = node.wildcard
            else:
                node = node.children.setdefault(key, _Node())
            if array:
                node.items = node.items or _Node()
                node = node.items
        if rule.kind == "drop":
            node.rule = None
            continue
        node.rule = rule
    return root


class JsonRedactor:
    """Applies the policy's JSON field paths to one document."""

    def __init__(self, fields: Mapping[str, str], actions: FieldActions) -> None:
        self._root = compile_paths(fields)
        self._actions = actions
        self._fhir = FhirRedactor(actions, self._allow_list)

    def redact(self, document: object, known: list[str] | None = None) -> object:
        """The redacted document. Raises RedactionError if it is not an object or array."""
        if not isinstance(document, (dict, list)):
            raise RedactionError("a JSON observation must be an object or an array of objects")
        if is_fhir(document):
            assert isinstance(document, dict)
            return self._fhir.redact(document, known or ())
        if isinstance(document, list) and any(is_fhir(item) for item in document):
            return [self.redact(item, known) for item in document if isinstance(item, (dict, list))]
        return self._allow_list(document, known or ())

    def _allow_list(self, document: object, known: Sequence[str]) -> object:
        collected = list(known)
        _collect_known(self._root, document, collected, 0, person=False)
        result = self._walk(self._root, document, collected, 0)
        if result is DROP:
            return {} if isinstance(document, dict) else []
        return result

    def _walk(self, node: _Node, value: object, known: list[str], depth: int) -> object:
        if depth > MAX_DEPTH:
            return DROP
        if isinstance(value, list):
            if node.items is not None:
                items = [self._walk(node.items, item, known, depth + 1) for item in value]
                return [item for item in items if item is not DROP]
            if node is self._root:
                items = [self._walk(node, item, known, depth + 1) for item in value]
                return [item for item in items if item is not DROP]
            return DROP
        if isinstance(value, dict):
            if not node.children and node.wildcard is None:
                return DROP  # a rule on an object: objects never pass whole
            out: dict[str, object] = {}
            for key, item in value.items():
                child = node.child(str(key))
                if child is None:
                    continue
                redacted = self._walk(child, item, known, depth + 1)
                if redacted is not DROP:
                    out[str(key)] = redacted
            return out if out else DROP
        if node.rule is None:
            return DROP
        return self._actions.apply(node.rule, value, known)


def _collect_known(
    node: _Node | None, value: object, known: list[str], depth: int, *, person: bool
) -> None:
    """Strings of every field not passed verbatim, to scrub them out of free text."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            child = node.child(str(key)) if node is not None else None
            hinted = person or any(h in str(key).lower() for h in _PERSON_KEY_HINTS)
            _collect_known(child, item, known, depth + 1, person=hinted)
        return
    if isinstance(value, list):
        child = node.items if node is not None else None
        if child is None and depth == 0:
            child = node  # a top-level array of documents: each item is a document
        for item in value:
            _collect_known(child, item, known, depth + 1, person=person)
        return
    if node is not None and node.rule is not None and node.rule.kind in _VERBATIM | {"text"}:
        return
    if isinstance(value, str) and len(value.strip()) >= 2:
        if person or not (value.islower() or (value.isalpha() and len(value) <= 3)):
            known.append(value)  # but not enum-like words such as "active" or "ok"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1000:
        known.append(str(value))
