"""Local secrets for GetSecretValue, standing in for aws.greengrass.SecretManager.

The file is JSON. The full form lists secret versions::

    {"secrets": [
      {"arn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:wardlink/phi/hmac/pid-AbCdEf",
       "name": "wardlink/phi/hmac/patient_id",
       "secretString": "...",            # or "secretBinary": "<base64>"
       "versionId": "v2",                # optional
       "versionStages": ["AWSCURRENT"]}  # optional, default AWSCURRENT
    ]}

The short form maps an ARN to a string: ``{"arn:...:secret:x-AbCdEf": "value"}``.
Authorization is always decided on the ARN, whether the component asked by
name or by ARN, as the secret manager component does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wardlink.nucleus.errors import InvalidArgumentsError, ResourceNotFoundError

CURRENT = "AWSCURRENT"
_ARN_NAME_RE = re.compile(
    r"^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(?P<name>.+?)(?:-[A-Za-z0-9]{6})?$"
)


class SecretFileError(ValueError):
    """A secrets file that cannot be loaded."""


@dataclass(frozen=True)
class SecretVersion:
    arn: str
    name: str
    version_id: str
    stages: tuple[str, ...]
    secret_string: str | None = None
    secret_binary: bytes | None = None


def _name_from_arn(arn: str) -> str:
    match = _ARN_NAME_RE.match(arn)
    return match.group("name") if match else arn


class SecretStore:
    """Secret versions by ARN, with name lookup."""

    def __init__(self, versions: list[SecretVersion]) -> None:
        self._versions = versions
        self._arn_by_name: dict[str, str] = {}
        for version in versions:
            self._arn_by_name.setdefault(version.name, version.arn)

    @classmethod
    def empty(cls) -> SecretStore:
        return cls([])

    @classmethod
    def load(cls, path: Path) -> SecretStore:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretFileError(f"cannot read secrets file {path}: {exc}") from exc
        if not isinstance(document, dict):
            raise SecretFileError(f"{path} must hold a JSON object")
        entries: list[Any]
        if "secrets" in document:
            entries = document["secrets"]
            if not isinstance(entries, list):
                raise SecretFileError(f"{path}: 'secrets' must be a list")
        else:
            entries = [{"arn": arn, "secretString": value} for arn, value in document.items()]
        versions = [cls._parse(path, index, entry) for index, entry in enumerate(entries)]
        return cls(versions)

    @staticmethod
    def _parse(path: Path, index: int, entry: Any) -> SecretVersion:
        where = f"{path}: secret #{index}"
        if not isinstance(entry, dict):
            raise SecretFileError(f"{where} must be an object")
        arn = entry.get("arn")
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise SecretFileError(f"{where} needs an 'arn'")
        string, binary = entry.get("secretString"), entry.get("secretBinary")
        if (string is None) == (binary is None):
            raise SecretFileError(f"{where} needs exactly one of secretString and secretBinary")
        if string is not None and not isinstance(string, str):
            raise SecretFileError(f"{where}: secretString must be a string")
        decoded: bytes | None = None
        if binary is not None:
            try:
                decoded = base64.b64decode(str(binary), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise SecretFileError(f"{where}: secretBinary must be base64") from exc
        stages = entry.get("versionStages", [CURRENT])
        if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
            raise SecretFileError(f"{where}: versionStages must be a list of strings")
        return SecretVersion(
            arn=arn,
            name=str(entry.get("name") or _name_from_arn(arn)),
            version_id=str(entry.get("versionId") or f"local-{index}"),
            stages=tuple(stages),
            secret_string=string,
            secret_binary=decoded,
        )

    def arn_for(self, secret_id: str) -> str:
        """The ARN a request refers to (the id itself if it is unknown)."""
        if secret_id.startswith("arn:"):
            return secret_id
        return self._arn_by_name.get(secret_id, secret_id)

    def get(
        self, secret_id: str, version_id: str | None = None, version_stage: str | None = None
    ) -> SecretVersion:
        if not secret_id:
            raise InvalidArgumentsError("secretId is required")
        if version_id and version_stage:
            raise InvalidArgumentsError("give versionId or versionStage, not both")
        arn = self.arn_for(secret_id)
        candidates = [v for v in self._versions if v.arn == arn]
        if not candidates:
            raise ResourceNotFoundError(
                f"secret {secret_id} is not in the local secret store",
                resource_type="Secret",
                resource_name=secret_id,
            )
        if version_id:
            chosen = [v for v in candidates if v.version_id == version_id]
        else:
            stage = version_stage or CURRENT
            chosen = [v for v in candidates if stage in v.stages]
        if not chosen:
            raise ResourceNotFoundError(
                f"secret {secret_id} has no version {version_id or version_stage or CURRENT}",
                resource_type="Secret",
                resource_name=secret_id,
            )
        return chosen[-1]
