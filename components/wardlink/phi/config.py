"""The policy file: its schema, its defaults and how a site file is merged over them.

The defaults live in ``default_policy.yaml`` next to this module, so the document
an auditor reads is the one the code loads. A site file is deep-merged over it
(mappings key by key, anything else replaced) and validated strictly: an unknown
key or an unknown field rule is an error at start-up, not a silent pass.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from wardlink.phi.generalize import DateMode, TimestampMode
from wardlink.phi.pseudonym import IDENTIFIER_KINDS, PseudonymMode
from wardlink.phi.scrubber import TextDateMode

DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.yaml")

RuleKind = Literal[
    "keep", "drop", "number", "code", "text", "date", "birth_date", "timestamp", "age",
    "zip", "address", "obx_value", "coded", "match", "pseudonym",
]  # fmt: skip
_SIMPLE_RULES = frozenset(
    {"keep", "drop", "number", "code", "text", "date", "birth_date", "timestamp", "age",
     "zip", "address", "obx_value", "coded"}
)  # fmt: skip


class PolicyError(ValueError):
    """The policy file is invalid."""


@dataclass(frozen=True)
class FieldRule:
    """One parsed field rule: its kind and, for match/pseudonym, its argument."""

    kind: RuleKind
    argument: str = ""
    pattern: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> FieldRule:
        if not isinstance(text, str):
            raise PolicyError(f"field rule must be a string, not {type(text).__name__}")
        if text in _SIMPLE_RULES:
            return cls(kind=text)  # type: ignore[arg-type]
        if text.startswith("match:"):
            try:
                return cls(kind="match", argument=text[6:], pattern=re.compile(text[6:]))
            except re.error as exc:
                raise PolicyError(f"bad regex in {text!r}: {exc}") from exc
        if text.startswith("pseudonym:"):
            kind = text[10:]
            if kind not in IDENTIFIER_KINDS:
                raise PolicyError(
                    f"unknown identifier kind in {text!r}; known: {sorted(IDENTIFIER_KINDS)}"
                )
            return cls(kind="pseudonym", argument=kind)
        raise PolicyError(f"unknown field rule {text!r}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatesConfig(_Strict):
    fields: DateMode = "year"
    timestamps: TimestampMode = "keep"


class IdentifiersConfig(_Strict):
    patient_id: PseudonymMode = "drop"
    visit_id: PseudonymMode = "drop"
    account_number: PseudonymMode = "drop"
    device_serial: PseudonymMode = "drop"
    device_id: PseudonymMode = "keep"
    facility: PseudonymMode = "drop"

    def modes(self) -> dict[str, PseudonymMode]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class VaultConfig(_Strict):
    path: Path | None = None
    key_file: Path | None = None
    key_secret_id: str | None = None


class HmacConfig(_Strict):
    secrets_dir: Path | None = None
    key_ids: dict[str, str] = Field(default_factory=dict)


class TextConfig(_Strict):
    dates: TextDateMode = "year"
    keep_terms: tuple[str, ...] = ()


class JsonConfig(_Strict):
    fields: dict[str, str] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _rules_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for path, rule in value.items():
            FieldRule.parse(rule)
            if not re.fullmatch(r"[A-Za-z0-9_$@*-]+(\[\])?(\.[A-Za-z0-9_$@*-]+(\[\])?)*", path):
                raise PolicyError(f"bad JSON field path {path!r}")
        return value


class Hl7Config(_Strict):
    segments: dict[str, dict[int, str]] = Field(default_factory=dict)

    @field_validator("segments")
    @classmethod
    def _rules_parse(cls, value: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
        for segment, fields in value.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9]{2}", segment):
                raise PolicyError(f"bad HL7 segment id {segment!r}")
            for number, rule in fields.items():
                if number < 1:
                    raise PolicyError(f"{segment}-{number}: field numbers start at 1")
                FieldRule.parse(rule)
        return value


LocationPart = Literal["unit", "room", "bed"]


class LocationConfig(_Strict):
    """Which parts of a device's site-assigned location leave with its telemetry.

    A technician assigns unit, room and bed on the gateway (a site-local overlay).
    A bed next to a timestamp points at a patient, so by default only the care
    unit leaves; ``send: []`` keeps the whole location on site.
    """

    send: tuple[LocationPart, ...] = ("unit",)


class PolicyConfig(_Strict):
    """The whole policy, validated."""

    version: Literal[1] = 1
    dates: DatesConfig = DatesConfig()
    identifiers: IdentifiersConfig = IdentifiersConfig()
    zip: Literal["three_digit", "drop"] = "three_digit"
    vault: VaultConfig = VaultConfig()
    hmac: HmacConfig = HmacConfig()
    text: TextConfig = TextConfig()
    json_: JsonConfig = Field(default=JsonConfig(), alias="json")
    hl7: Hl7Config = Hl7Config()
    location: LocationConfig = LocationConfig()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("identifiers")
    @classmethod
    def _keep_only_things(cls, value: IdentifiersConfig) -> IdentifiersConfig:
        for kind, mode in value.modes().items():
            if mode == "keep" and not IDENTIFIER_KINDS[kind]:
                raise PolicyError(f"identifiers.{kind}: a person's identifier cannot be 'keep'")
        return value


@lru_cache(maxsize=1)
def _default_document() -> dict[str, Any]:
    loaded = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):  # pragma: no cover - packaging error
        raise PolicyError(f"{DEFAULT_POLICY_FILE} is not a mapping")
    return loaded


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(
    override: Mapping[str, Any] | None = None, *, source: str | None = None, tree: Any = None
) -> PolicyConfig:
    """Defaults merged with ``override``, validated. Raises PolicyError.

    A schema error names each key (and, from a file, ``source`` and the line in the
    file's YAML ``tree``) with its reason, never the value given.
    """
    from pydantic import ValidationError

    if override is not None and not isinstance(override, Mapping):
        raise PolicyError("a policy must be a mapping")
    document = deep_merge(_default_document(), override or {})
    try:
        return PolicyConfig.model_validate(document)
    except PolicyError:
        raise
    except ValidationError as exc:
        raise PolicyError(_describe(exc, source, tree)) from None
    except ValueError as exc:
        raise PolicyError(str(exc)) from exc


def _describe(error: Any, source: str | None, tree: Any) -> str:
    from wardlink.runtime.yaml_lines import line_of

    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(part) for part in loc) or "(policy)"
        context = dict(item.get("ctx") or {})
        reason = str(context["error"]) if "error" in context else item["msg"]
        if item["type"] == "extra_forbidden":
            reason = "unknown key"
        where = f"{source}:{line_of(tree, loc)}: " if source and tree is not None else ""
        lines.append(f"{where}{key}: {reason}")
    return "\n".join(lines)


def load_config_file(path: str | Path) -> PolicyConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
        tree = yaml.compose(text)
        loaded = yaml.safe_load(text)
    except OSError as exc:
        raise PolicyError(f"policy file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, Mapping):
        raise PolicyError(f"policy file {path} must hold a mapping")
    return load_config(loaded, source=str(path), tree=tree)
