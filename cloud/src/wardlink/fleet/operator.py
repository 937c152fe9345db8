"""The operator's AWS identity for the fleet commands, from an env file or the usual chain.

Fleet registration writes the Devices table and the IoT registry directly, which only
an operator may do: the gateway role has neither permission, and ``wardlink cloud
credentials --gateway`` credentials are refused by the local cloud's IoT endpoint.
The env file is the one ``wardlink cloud local --env-file F`` writes (or one an
operator keeps for a real account): credentials, region, table names and, locally,
per-service endpoints (``AWS_ENDPOINT_URL_DYNAMODB`` and friends).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENDPOINT_VARIABLES = {
    "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB",
    "s3": "AWS_ENDPOINT_URL_S3",
    "iot": "AWS_ENDPOINT_URL_IOT",
}


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` prefixes and comments tolerated)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class OperatorSession:
    """A boto3 session as the operator, plus the settings the env file names."""

    session: Any
    env: Mapping[str, str]

    @classmethod
    def from_env(cls, env_file: Path | None) -> OperatorSession:
        import boto3

        if env_file is None:
            env: dict[str, str] = dict(os.environ)
            return cls(boto3.session.Session(region_name=env.get("AWS_REGION")), env)
        env = read_env_file(env_file)
        try:
            session = boto3.session.Session(
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
                region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            )
        except KeyError as exc:
            raise ValueError(f"{env_file} names no {exc.args[0]}") from exc
        return cls(session, env)

    def client(self, service: str) -> Any:
        from botocore.config import Config

        endpoint = self.env.get(ENDPOINT_VARIABLES.get(service, ""), "") or None
        config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
        return self.session.client(service, endpoint_url=endpoint, config=config)

    def setting(self, name: str, override: str | None = None) -> str:
        value = override or self.env.get(name)
        if not value:
            raise ValueError(f"{name} is not set (pass it in the env file or as an option)")
        return value
