"""A fake of the few InfluxDB 2.x HTTP endpoints Wardlink calls, on a loopback port.

Debian's InfluxDB is 1.x: it has no organizations, buckets, DBRP mappings or
tokens, so the set-up custom resource, the token rotation, token checks on
``/write`` and the 2.x delete API are tested against this instead. It keeps
state the way 2.x documents it (an admin session cookie from ``/api/v2/signin``;
tokens that carry read/write permissions on one bucket; ``/write`` finds the
bucket through the DBRP mapping of ``db``) and records what it was asked.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeState:
    username: str
    password: str
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dbrps: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    written: list[tuple[str, str]] = field(default_factory=list)  # (bucket id, line)
    deletes: list[dict[str, Any]] = field(default_factory=list)
    cfn_responses: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def new_id(self) -> str:
        return secrets.token_hex(8)

    def token_may(self, token: str | None, action: str, bucket_id: str) -> bool:
        for auth in self.authorizations.values():
            if auth["token"] == token and auth["status"] == "active":
                return any(
                    p["action"] == action and p["resource"].get("id") == bucket_id
                    for p in auth["permissions"]
                )
        return False


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[len("Token "):] if auth.startswith("Token ") else None

    def _admin(self) -> bool:
        cookie = self.headers.get("Cookie", "").split("=", 1)
        return len(cookie) == 2 and cookie[1] in self.server.state.sessions

    def _route(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        body = self._body()
        with self.server.lock:
            state.calls.append((method, path))
            if path.startswith("/cfn/"):
                state.cfn_responses.append(json.loads(body))
                return self._reply(200)
            if (method, path) == ("POST", "/api/v2/signin"):
                expected = base64.b64encode(f"{state.username}:{state.password}".encode())
                if self.headers.get("Authorization", "") != f"Basic {expected.decode()}":
                    return self._reply(401, {"code": "unauthorized"})
                session = secrets.token_hex(16)
                state.sessions.add(session)
                cookie = f"influxdb-oss-session={session}; Path=/api/"
                return self._reply(204, headers={"Set-Cookie": cookie})
            if path == "/write" and method == "POST":
                return self._write(query, body)
            if path == "/api/v2/delete" and method == "POST":
                return self._delete(query, body)
            if path.startswith("/api/v2/buckets/") and method == "GET" and not self._admin():
                bucket_id = path.rsplit("/", 1)[1]
                if state.token_may(self._token(), "read", bucket_id):
                    return self._reply(200, state.buckets[bucket_id])
                return self._reply(401, {"code": "unauthorized"})
            if not self._admin():
                return self._reply(401, {"code": "unauthorized"})
            return self._admin_api(method, path, query, json.loads(body) if body else {})

    def _admin_api(self, method: str, path: str, query: dict[str, str], doc: Any) -> None:
        state = self.server.state
        if path == "/api/v2/orgs":
            if method == "GET":
                orgs = [o for o in state.orgs.values() if o["name"] == query.get("org")]
                return self._reply(200 if orgs else 404, {"orgs": orgs})
            org = {"id": state.new_id(), "name": doc["name"]}
            state.orgs[org["id"]] = org
            return self._reply(201, org)
        if path == "/api/v2/buckets":
            if method == "GET":
                found = [b for b in state.buckets.values()
                         if b["orgID"] == query.get("orgID") and b["name"] == query.get("name")]
                return self._reply(200, {"buckets": found})
            bucket = {"id": state.new_id(), "orgID": doc["orgID"], "name": doc["name"],
                      "retentionRules": doc["retentionRules"]}
            state.buckets[bucket["id"]] = bucket
            return self._reply(201, bucket)
        if path.startswith("/api/v2/buckets/") and method == "PATCH":
            bucket = state.buckets[path.rsplit("/", 1)[1]]
            bucket.update(doc)
            return self._reply(200, bucket)
        if path == "/api/v2/dbrps":
            if method == "GET":
                found = [d for d in state.dbrps.values() if d["orgID"] == query.get("orgID")
                         and d["bucketID"] == query.get("bucketID")]
                return self._reply(200, {"content": found})
            mapping = {"id": state.new_id(), **doc}
            state.dbrps[mapping["id"]] = mapping
            return self._reply(201, mapping)
        if path == "/api/v2/authorizations" and method == "POST":
            auth = {"id": state.new_id(), "token": secrets.token_urlsafe(24), "status": "active",
                    "orgID": doc["orgID"], "description": doc.get("description", ""),
                    "permissions": doc["permissions"]}
            state.authorizations[auth["id"]] = auth
            return self._reply(201, auth)
        if path.startswith("/api/v2/authorizations/"):
            auth_id = path.rsplit("/", 1)[1]
            if auth_id not in state.authorizations:
                return self._reply(404, {"code": "not found"})
            if method == "DELETE":
                del state.authorizations[auth_id]
                return self._reply(204)
            return self._reply(200, state.authorizations[auth_id])
        return self._reply(404, {"code": "not found", "message": path})

    def _write(self, query: dict[str, str], body: bytes) -> None:
        state = self.server.state
        mapping = next((d for d in state.dbrps.values() if d["database"] == query.get("db")), None)
        if mapping is None:
            return self._reply(404, {"error": f"database not found: {query.get('db')}"})
        if not state.token_may(self._token(), "write", mapping["bucketID"]):
            return self._reply(401, {"code": "unauthorized"})
        state.written.extend((mapping["bucketID"], line) for line in body.decode().splitlines())
        return self._reply(204)

    def _delete(self, query: dict[str, str], body: bytes) -> None:
        state = self.server.state
        bucket = next((b for b in state.buckets.values() if b["name"] == query.get("bucket")), None)
        if bucket is None:
            return self._reply(404, {"code": "not found"})
        if not state.token_may(self._token(), "write", bucket["id"]):
            return self._reply(401, {"code": "unauthorized"})
        state.deletes.append({"org": query.get("org"), "bucket": query.get("bucket"),
                              **json.loads(body)})
        return self._reply(204)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PUT(self) -> None:
        self._route("PUT")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.lock = threading.Lock()


class FakeInfluxDB2:
    """``with FakeInfluxDB2("admin", "pw") as fake:`` - ``fake.url``, ``fake.state``."""

    def __init__(self, username: str, password: str) -> None:
        self.state = FakeState(username, password)
        self._server = _Server(self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeInfluxDB2:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
