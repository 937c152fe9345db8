"""Setting up a Timestream for InfluxDB (2.x) instance for the writer: the 2.x HTTP API.

CloudFormation creates the instance with admin credentials only. The writer needs
more, and this module makes it, idempotently (a re-run finds what exists):

* the organization and the bucket, with the telemetry retention;
* the DBRP mapping (database = bucket name, retention policy ``autogen``) through
  which 2.x serves the v1-compatible ``/write`` and ``/query`` the writer uses;
* a token scoped to reading and writing that one bucket (never the admin's).

The admin signs in with a password (``/api/v2/signin``, a session cookie). Only
the endpoints named here are called; Debian's 1.x server has none of them, so the
tests run this against a fake of these 2.x endpoints (docs/cloud.md says so).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import urllib3

from wardlink.cloudapi.telemetry.influxdb import InfluxDBError

RETENTION_POLICY = "autogen"


@dataclass(frozen=True)
class BucketAccess:
    """What the writer's secret holds: where to write and the scoped token."""

    url: str
    org: str
    org_id: str
    bucket: str
    bucket_id: str
    token: str
    authorization_id: str

    @property
    def database(self) -> str:
        """The v1 database name the DBRP mapping gives the bucket."""
        return self.bucket

    def to_secret(self) -> str:
        return json.dumps({**self.__dict__, "database": self.database}, sort_keys=True)

    @classmethod
    def from_secret(cls, text: str) -> BucketAccess:
        data = json.loads(text)
        fields = {name: str(data[name]) for name in cls.__dataclass_fields__}
        return cls(**fields)


class InfluxAdmin:
    """An admin session on one 2.x server."""

    def __init__(self, url: str, pool: urllib3.PoolManager | None = None) -> None:
        self.url = url.rstrip("/")
        self._pool = pool or urllib3.PoolManager(
            retries=urllib3.Retry(total=4, backoff_factor=0.5, status_forcelist=(502, 503, 504)),
            timeout=urllib3.Timeout(connect=5.0, read=20.0),
        )
        self._headers: dict[str, str] = {}

    def sign_in(self, username: str, password: str) -> InfluxAdmin:
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        response = self._pool.request(
            "POST", f"{self.url}/api/v2/signin", headers={"Authorization": f"Basic {basic}"}
        )
        if response.status != 204:
            raise InfluxDBError(f"admin sign-in refused: {response.status}")
        cookie = response.headers.get("Set-Cookie", "").split(";", 1)[0]
        if not cookie:
            raise InfluxDBError("admin sign-in gave no session cookie")
        self._headers = {"Cookie": cookie}
        return self

    def use_token(self, token: str) -> InfluxAdmin:
        self._headers = {"Authorization": f"Token {token}"}
        return self

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        url = f"{self.url}{path}" + (f"?{urlencode(params)}" if params else "")
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        response = self._pool.request(method, url, body=data, headers=headers)
        if response.status not in ok:
            text = response.data.decode(errors="replace")[:500]
            raise InfluxDBError(f"{method} {path}: {response.status} {text}")
        return response.json() if response.data else None

    # -- the set-up ---------------------------------------------------------------------

    def ensure_org(self, name: str) -> str:
        found = self.call("GET", "/api/v2/orgs", params={"org": name}, ok=(200, 404))
        for org in (found or {}).get("orgs", []):
            if org["name"] == name:
                return str(org["id"])
        return str(self.call("POST", "/api/v2/orgs", body={"name": name})["id"])

    def ensure_bucket(self, org_id: str, name: str, retention_days: int) -> str:
        rules = [{"type": "expire", "everySeconds": retention_days * 86400}]
        found = self.call(
            "GET", "/api/v2/buckets", params={"orgID": org_id, "name": name}, ok=(200, 404)
        )
        for bucket in (found or {}).get("buckets", []):
            if bucket["name"] == name:
                self.call("PATCH", f"/api/v2/buckets/{bucket['id']}",
                          body={"retentionRules": rules})
                return str(bucket["id"])
        created = self.call(
            "POST", "/api/v2/buckets",
            body={"orgID": org_id, "name": name, "retentionRules": rules},
        )  # fmt: skip
        return str(created["id"])

    def ensure_dbrp(self, org_id: str, bucket_id: str, database: str) -> str:
        found = self.call("GET", "/api/v2/dbrps", params={"orgID": org_id, "bucketID": bucket_id})
        for mapping in (found or {}).get("content", []):
            if mapping["database"] == database and mapping["retention_policy"] == RETENTION_POLICY:
                return str(mapping["id"])
        created = self.call(
            "POST", "/api/v2/dbrps",
            body={"orgID": org_id, "bucketID": bucket_id, "database": database,
                  "retention_policy": RETENTION_POLICY, "default": True},
        )  # fmt: skip
        return str(created["id"])

    def create_bucket_token(self, org_id: str, bucket_id: str, description: str) -> tuple[str, str]:
        """A new token that may read and write one bucket only: ``(token, authorization id)``."""
        resource = {"type": "buckets", "id": bucket_id, "orgID": org_id}
        created = self.call(
            "POST", "/api/v2/authorizations",
            body={"orgID": org_id, "description": description,
                  "permissions": [{"action": "read", "resource": resource},
                                  {"action": "write", "resource": resource}]},
        )  # fmt: skip
        return str(created["token"]), str(created["id"])

    def authorization_exists(self, authorization_id: str) -> bool:
        found = self.call("GET", f"/api/v2/authorizations/{authorization_id}", ok=(200, 404))
        return bool(found) and found.get("status", "active") == "active"

    def delete_authorization(self, authorization_id: str) -> None:
        self.call("DELETE", f"/api/v2/authorizations/{authorization_id}", ok=(204, 404))

    def provision(
        self, org: str, bucket: str, retention_days: int, existing: BucketAccess | None
    ) -> BucketAccess:
        """Org, bucket, DBRP and a bucket token; an existing live token is kept."""
        org_id = self.ensure_org(org)
        bucket_id = self.ensure_bucket(org_id, bucket, retention_days)
        self.ensure_dbrp(org_id, bucket_id, bucket)
        if (
            existing is not None
            and (existing.org_id, existing.bucket_id) == (org_id, bucket_id)
            and self.authorization_exists(existing.authorization_id)
        ):
            return existing
        token, authorization_id = self.create_bucket_token(
            org_id, bucket_id, f"wardlink telemetry writer: read/write {bucket}"
        )
        return BucketAccess(self.url, org, org_id, bucket, bucket_id, token, authorization_id)


def token_works(access: BucketAccess, pool: urllib3.PoolManager | None = None) -> bool:
    """Whether ``access.token`` may read its bucket (the rotation's test step)."""
    admin = InfluxAdmin(access.url, pool).use_token(access.token)
    try:
        admin.call("GET", f"/api/v2/buckets/{access.bucket_id}")
    except InfluxDBError:
        return False
    return True
