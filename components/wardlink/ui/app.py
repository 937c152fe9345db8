"""The gateway UI's web application (Starlette, Jinja2 templates, htmx, server-sent events).

Security is in the request path, not in the pages (45 CFR 164.312):

* sessions are server-side; the browser holds a random token in a ``__Host-``
  cookie that is Secure, HttpOnly and SameSite=Strict. A session idle for longer
  than ``idle_timeout_s`` is gone (its live stream ends too); the event stream
  does not count as activity;
* every state-changing request (all POSTs, sign-in included) must carry the
  session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``);
* roles: a viewer sees, a technician and an admin also act; actions (assign,
  reconnect, sync stored records, add, remove, scan for BLE devices) are
  commands signed for the user, verified and answered by the DeviceProxy;
* every sign-in, sign-out, refusal and change is in the audit log; break-glass
  use is an alert each time;
* every response carries the security headers (CSP without inline script or
  style, HSTS, frame denial, no caching, no referrer).

Pages are rendered from ``SiteView`` (sealed data) only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wardlink.ui.accounts import AccountStore, Role
from wardlink.ui.audit import AuditLog
from wardlink.ui.audit_copies import AuditCopies
from wardlink.ui.diagnostics import BundleRefused, LogRing, build_bundle, log_tail
from wardlink.ui.heap import release_free_heap
from wardlink.ui.signing import RESULTS_TOPIC, sign_command
from wardlink.ui.site_view import SiteView, age_text, iso_age
from wardlink.ui.support_requests import SupportRequests

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "__Host-wardlink-session"
LOGIN_COOKIE = "__Host-wardlink-login"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "strict-transport-security": "max-age=31536000",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), usb=(), bluetooth=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
LOCATION_FIELDS = ("unit", "room", "bed")
DEVICE_ACTIONS = ("assign", "reconnect", "sync", "remove")
ADD_FIELDS = ("device_id", "profile", "port", "address")
SLOW_ACTIONS = {"scan": 15.0, "sync": 65.0, "add": 10.0, "remove": 10.0}  # answer timeouts


# -- sessions -------------------------------------------------------------------------


@dataclass
class Session:
    token: str
    username: str
    role: Role
    break_glass: bool
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = field(default_factory=time.monotonic)


class Sessions:
    def __init__(self, idle_timeout_s: float) -> None:
        self.idle_timeout_s = idle_timeout_s
        self._by_token: dict[str, Session] = {}

    def create(self, username: str, role: Role, break_glass: bool) -> Session:
        session = Session(secrets.token_urlsafe(32), username, role, break_glass)
        self._by_token[session.token] = session
        return session

    def get(self, token: str | None, touch: bool = True) -> Session | None:
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self.idle_timeout_s:
            del self._by_token[token]
            return None
        if touch:
            session.last_seen = now
        return session

    def expired(self, token: str) -> bool:
        return self.get(token, touch=False) is None

    def drop(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)

    def drop_user(self, username: str) -> None:
        for token, session in list(self._by_token.items()):
            if session.username == username:
                del self._by_token[token]


# -- commands to the DeviceProxy ----------------------------------------------------------

Publish = Callable[[str, bytes], Awaitable[None]]


class CommandClient:
    """Signs a command for the signed-in user, publishes it and waits for the answer."""

    def __init__(self, key: bytes, publish: Publish, topic: str, timeout_s: float = 5.0) -> None:
        self._key = key
        self._publish = publish
        self._topic = topic
        self._timeout_s = timeout_s
        self._waiting: dict[str, asyncio.Future[tuple[bool, str, Any]]] = {}

    async def send(
        self, user: str, action: str, device_id: str, args: dict[str, Any]
    ) -> tuple[bool, str]:
        ok, detail, _ = await self.ask(user, action, device_id, args)
        return ok, detail

    async def ask(
        self,
        user: str,
        action: str,
        device_id: str,
        args: dict[str, Any],
        timeout_s: float | None = None,
    ) -> tuple[bool, str, Any]:
        """Like ``send``, with the answer's data (a scan's findings) and its own timeout."""
        payload = sign_command(self._key, user, action, device_id, args)
        command_id = str(json.loads(payload)["id"])
        future: asyncio.Future[tuple[bool, str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        try:
            await self._publish(self._topic, payload)
            return await asyncio.wait_for(future, timeout_s or self._timeout_s)
        except TimeoutError:
            return False, "no answer from the DeviceProxy", None
        finally:
            self._waiting.pop(command_id, None)

    def on_result(self, payload: bytes) -> None:
        try:
            document = json.loads(payload)
            future = self._waiting.get(str(document["id"]))
            if future is not None and not future.done():
                future.set_result(
                    (bool(document["ok"]), str(document["detail"]), document.get("data"))
                )
        except (ValueError, KeyError, TypeError):
            log.warning("ignored malformed command result", extra={"topic": RESULTS_TOPIC})


# -- the application ------------------------------------------------------------------------


@dataclass
class UiContext:
    """Everything the pages need; built by the component (or the demo)."""

    view: SiteView
    accounts: AccountStore
    audit: AuditLog
    sessions: Sessions
    gateway_id: str
    commands: CommandClient | None = None
    config: dict[str, Any] = field(default_factory=dict)
    log_ring: LogRing | None = None
    log_files: tuple[Path, ...] = ()
    forbidden: tuple[bytes, ...] = ()
    cert_not_after: datetime | None = None
    disk_path: Path = Path(".")
    assignments: dict[str, dict[str, str]] = field(default_factory=dict)
    audit_copies: AuditCopies | None = None
    support: SupportRequests | None = None


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(ctx: UiContext) -> ASGIApp:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["age_text"] = age_text
    templates.env.auto_reload = False  # shipped in the wheel: no stat() of the file per page

    def page(
        request: Request, name: str, session: Session | None, status: int = 200, **extra: Any
    ) -> Response:
        context = {
            "session": session,
            "gateway_id": ctx.gateway_id,
            "nav": request.url.path,
            **extra,
        }
        return templates.TemplateResponse(request, name, context, status_code=status)

    def current(request: Request, touch: bool = True) -> Session | None:
        return ctx.sessions.get(request.cookies.get(SESSION_COOKIE), touch=touch)

    def to_login(request: Request, expired: bool = False) -> Response:
        target = "/login?expired=1" if expired else "/login"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    async def form(request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > 16_384:
            return {}
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def csrf_ok(request: Request, session: Session, fields: dict[str, str]) -> bool:
        sent = request.headers.get("x-csrf-token") or fields.get("csrf", "")
        return bool(sent) and hmac.compare_digest(sent, session.csrf)

    def refused(session: Session | None, request: Request, reason: str, status: int) -> Response:
        ctx.audit.record(
            "request-refused",
            session.username if session else None,
            alert=bool(session and session.break_glass),
            path=request.url.path,
            reason=reason,
        )
        return HTMLResponse(f"<p role='alert'>Refused: {reason}.</p>", status_code=status)

    # -- sign-in --------------------------------------------------------------------------

    async def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = page(
            request,
            "login.html",
            None,
            login_csrf=token,
            expired=request.query_params.get("expired") == "1",
            message=None,
        )
        response.set_cookie(
            LOGIN_COOKIE, token, secure=True, httponly=True, samesite="strict", path="/"
        )
        return response

    async def login(request: Request) -> Response:
        fields = await form(request)
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie, fields.get("csrf", "")):
            ctx.audit.record("sign-in-refused", None, reason="missing or wrong CSRF token")
            return HTMLResponse("<p role='alert'>Refused: CSRF token missing or wrong.</p>", 403)
        username = fields.get("username", "").strip().lower()[:64]
        result = await asyncio.to_thread(
            ctx.accounts.authenticate, username, fields.get("password", "")
        )
        if not result.ok or result.account is None:
            ctx.audit.record(
                "sign-in-failed",
                username or None,
                reason=result.reason,
                known=result.account is not None,
            )
            if result.reason == "now-locked":
                ctx.audit.record("account-locked", username, alert=True)
            message = (
                "This account is locked after too many failed sign-ins."
                " Try again later or ask an admin."
                if result.reason in ("locked", "now-locked")
                else "Wrong user name or password."
            )
            token = secrets.token_urlsafe(32)
            response = page(
                request,
                "login.html",
                None,
                status=401,
                login_csrf=token,
                expired=False,
                message=message,
            )
            response.set_cookie(
                LOGIN_COOKIE, token, secure=True, httponly=True, samesite="strict", path="/"
            )
            return response
        account = result.account
        release_free_heap()  # argon2's working memory and the sign-in's garbage
        session = ctx.sessions.create(account.username, Role(account.role), account.break_glass)
        if account.break_glass:
            ctx.audit.record("break-glass-sign-in", account.username, alert=True)
        else:
            ctx.audit.record("sign-in", account.username, role=account.role)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, session.token, secure=True, httponly=True, samesite="strict", path="/"
        )
        response.delete_cookie(
            LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
        )
        return response

    async def logout(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        fields = await form(request)
        if not csrf_ok(request, session, fields):
            return refused(session, request, "CSRF token missing or wrong", 403)
        ctx.sessions.drop(session.token)
        ctx.audit.record("sign-out", session.username, alert=session.break_glass)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
        )
        return response

    # -- pages ----------------------------------------------------------------------------

    def site_facts() -> dict[str, Any]:
        site = dict(ctx.view.site)
        disk = shutil.disk_usage(ctx.disk_path)
        facts: dict[str, Any] = {
            "uplink": site.get("uplink_connected"),
            "last_publish": site.get("last_publish_at"),
            "last_publish_age": iso_age(str(site["last_publish_at"]))
            if site.get("last_publish_at")
            else None,
            "spool_depth": site.get("spool_depth"),
            "spool_oldest_age": site.get("spool_oldest_age_s"),
            "clock_offset": site.get("clock_offset_s"),
            "disk_free_pct": round(100 * disk.free / disk.total, 1) if disk.total else None,
            "disk_free_gb": round(disk.free / 1e9, 1),
            "published_age": (time.time() - ctx.view.site_received)
            if ctx.view.site_received
            else None,
            "cert_days": (
                (ctx.cert_not_after - datetime.now(UTC)).days if ctx.cert_not_after else None
            ),
            # audit copies that could not leave: this UI's queues, and the Uplink's relay
            "audit_dropped": {
                **(ctx.audit_copies.dropped() if ctx.audit_copies else {}),
                "uplink relay": site.get("audit_dropped"),
            },
            # the gateway's clock as the page is made; app.js compares it with the browser's
            "rendered_ms": int(time.time() * 1000),
        }
        return facts

    async def site_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        return page(request, "site.html", session, facts=site_facts(), by_state=ctx.view.by_state())

    def device_rows(only: str | None = None) -> list[dict[str, Any]]:
        """Rows of the devices page; of one device (``only``) with its recent values."""
        now = time.time()
        rows = []
        for device_id, device in sorted(ctx.view.devices.items()):
            if only is not None and device_id != only:
                continue
            rows.append(
                {
                    "id": device_id,
                    "model": device.info.get("model", ""),
                    "state": device.state,
                    "why": device.why(now),
                    "metrics": [
                        {
                            "name": m.name,
                            "value": "—" if m.value is None else f"{m.value:g}",
                            "unit": m.unit,
                            "age": now - m.received,
                            "received": m.received,
                            "history": " ".join(f"{v:g}" for v in m.history.values())
                            if only is not None
                            else "",
                        }
                        for m in device.metrics.values()
                    ],
                    "assignment": ctx.assignments.get(device_id, {}),
                }
            )
        return rows

    async def devices_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        return page(
            request,
            "devices.html",
            session,
            rows=device_rows(),
            may_act=session.role.may_act(),
            changes=ctx.view.site_devices,
            profiles=ctx.view.site_devices.get("profiles", []),
        )

    async def device_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        device_id = request.path_params["device_id"]
        device = ctx.view.devices.get(device_id)
        if device is None:
            return page(request, "missing.html", session, status=404, device_id=device_id)
        row = device_rows(only=device_id)[0]
        info = {
            k: v
            for k, v in device.info.items()
            if k
            in ("model", "manufacturer", "firmware_version", "profile", "connectivity", "transport")
        }
        return page(
            request,
            "device.html",
            session,
            row=row,
            info=info,
            counters=device.info.get("counters") or {},
            fault=device.info.get("fault"),
            may_act=session.role.may_act(),
            fields=LOCATION_FIELDS,
            result=None,
            records=_has_records(device.info.get("profile")),
        )

    def _has_records(profile: object) -> bool:
        offered = ctx.view.site_devices.get("profiles", [])
        return any(p.get("name") == profile and p.get("records") for p in offered)

    async def act(request: Request) -> Response:
        session, fields, refusal = await acting(request)
        if refusal is not None or session is None:
            return refusal if refusal is not None else to_login(request)
        device_id = request.path_params["device_id"]
        action = request.path_params["action"]
        if device_id not in ctx.view.devices or action not in DEVICE_ACTIONS:
            return refused(session, request, "no such device or action", 404)
        args: dict[str, Any] = {}
        if action == "assign":
            args = {k: fields.get(k, "").strip()[:32] for k in LOCATION_FIELDS}
        ok, detail, _ = await command(session, action, device_id, args)
        if ok and action == "assign":
            ctx.assignments[device_id] = {k: v for k, v in args.items() if v}
        status = 200 if ok else 409
        return page(
            request, "result.html", session, status=status, ok=ok, detail=detail, action=action
        )

    async def command(
        session: Session, action: str, device_id: str, args: dict[str, Any]
    ) -> tuple[bool, str, Any]:
        """Send a signed command for the user, audit it with its answer."""
        if ctx.commands is None:
            ok, detail, data = False, "commands are not available on this gateway", None
        else:
            timeout = SLOW_ACTIONS.get(action)
            ok, detail, data = await ctx.commands.ask(
                session.username, action, device_id, args, timeout
            )
        ctx.audit.record(
            "command",
            session.username,
            alert=session.break_glass,
            action=action,
            device_id=device_id,
            ok=ok,
            detail=detail,
        )
        return ok, detail, data

    async def acting(request: Request) -> tuple[Session | None, dict[str, str], Response | None]:
        """The session and form of a technician's POST, or the response refusing it."""
        session = current(request)
        if session is None:
            return None, {}, to_login(request)
        fields = await form(request)
        if not csrf_ok(request, session, fields):
            return session, fields, refused(session, request, "CSRF token missing or wrong", 403)
        if not session.role.may_act():
            return session, fields, refused(session, request, "your role may only view", 403)
        return session, fields, None

    async def add_device(request: Request) -> Response:
        session, fields, refusal = await acting(request)
        if refusal is not None or session is None:
            return refusal if refusal is not None else to_login(request)
        args = {k: fields.get(k, "").strip()[:200] for k in ADD_FIELDS}
        device_id = args["device_id"][:64]
        ok, detail, _ = await command(session, "add", device_id, args)
        return page(
            request,
            "result.html",
            session,
            status=200 if ok else 409,
            ok=ok,
            detail=detail,
            action="add",
        )

    async def scan(request: Request) -> Response:
        session, _fields, refusal = await acting(request)
        if refusal is not None or session is None:
            return refusal if refusal is not None else to_login(request)
        ok, detail, data = await command(session, "scan", "-", {})
        found = data if ok and isinstance(data, list) else []
        return page(
            request,
            "scan.html",
            session,
            status=200 if ok else 409,
            ok=ok,
            detail=detail,
            found=[f for f in found if isinstance(f, dict)],
        )

    async def logs_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        query = request.query_params.get("q", "")[:80]
        lines = await asyncio.to_thread(log_tail, ctx.log_ring, ctx.log_files, 300, query)
        template = "log_lines.html" if request.headers.get("hx-request") else "logs.html"
        return page(
            request, template, session, lines=lines, query=query, may_act=session.role.may_act()
        )

    async def diagnostics(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        if not session.role.may_act():
            return refused(session, request, "your role may only view", 403)
        lines = await asyncio.to_thread(log_tail, ctx.log_ring, ctx.log_files, 1000, "")
        try:
            bundle = await asyncio.to_thread(
                build_bundle, ctx.config, ctx.view, lines, ctx.forbidden
            )
        except BundleRefused as exc:
            ctx.audit.record("diagnostics-refused", session.username, alert=True, reason=str(exc))
            return HTMLResponse(
                "<p role='alert'>The bundle was withheld: it would have held a secret.</p>", 500
            )
        ctx.audit.record(
            "diagnostics-download", session.username, alert=session.break_glass, size=len(bundle)
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        filename = f"wardlink-diagnostics-{ctx.gateway_id}-{stamp}.zip"
        return Response(
            bundle,
            media_type="application/zip",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    async def support_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        if ctx.support is not None:
            ctx.support.refresh_soon()
        return page(
            request,
            "support.html",
            session,
            support=ctx.support,
            checked_age=(time.time() - ctx.support.checked_at)
            if ctx.support is not None and ctx.support.checked_at is not None
            else None,
            may_act=session.role.may_act(),
            result=None,
        )

    async def support_decide(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        fields = await form(request)
        if not csrf_ok(request, session, fields):
            return refused(session, request, "CSRF token missing or wrong", 403)
        if not session.role.may_act():
            return refused(session, request, "your role may only view", 403)
        request_id = request.path_params["request_id"]
        decision = request.path_params["decision"]
        support = ctx.support
        if support is None or decision not in ("approve", "decline"):
            return refused(session, request, "no such request or decision", 404)
        if support.find(request_id) is None:
            return refused(session, request, "no such pending request", 404)
        approve = decision == "approve"
        bundle: bytes | None = None
        if approve:
            lines = await asyncio.to_thread(log_tail, ctx.log_ring, ctx.log_files, 1000, "")
            try:
                bundle = await asyncio.to_thread(
                    build_bundle, ctx.config, ctx.view, lines, ctx.forbidden
                )
            except BundleRefused as exc:
                ctx.audit.record(
                    "diagnostics-refused", session.username, alert=True, reason=str(exc)
                )
                return page(request, "result.html", session, status=500, ok=False,
                            detail="the bundle was withheld: it would have held a secret",
                            action="approve")  # fmt: skip
        event = "diagnostics-request-approved" if approve else "diagnostics-request-declined"
        try:
            await support.decide(request_id, approve, session.username, bundle)
        except Exception as exc:
            ctx.audit.record(
                event.replace("-approved", "-approve").replace("-declined", "-decline"),
                session.username,
                alert=session.break_glass,
                request_id=request_id,
                ok=False,
                error=type(exc).__name__,
            )
            return page(request, "result.html", session, status=502, ok=False,
                        detail=f"the cloud did not take it ({type(exc).__name__})",
                        action=decision)  # fmt: skip
        ctx.audit.record(
            event,
            session.username,
            alert=session.break_glass,
            request_id=request_id,
            size=len(bundle) if bundle is not None else None,
        )
        detail = "the redacted bundle was uploaded for support" if approve else "declined"
        return page(request, "result.html", session, ok=True, detail=detail, action=decision)

    async def events(request: Request) -> Response:
        session = current(request, touch=False)  # a live page is not activity
        if session is None:
            return Response(status_code=401)
        token = session.token

        async def stream() -> AsyncIterator[bytes]:
            queue = ctx.view.listen()
            try:
                yield b"retry: 2000\n\n"
                while True:
                    if ctx.sessions.expired(token):
                        yield b"event: expired\ndata: {}\n\n"
                        return
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=1.0)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    yield event  # the frame, serialized once for every listener
            finally:
                ctx.view.unlisten(queue)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"}
        )

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", site_page, methods=["GET"]),
        Route("/devices", devices_page, methods=["GET"]),
        Route("/devices/add", add_device, methods=["POST"]),
        Route("/devices/scan", scan, methods=["POST"]),
        Route("/devices/{device_id}", device_page, methods=["GET"]),
        Route("/devices/{device_id}/{action}", act, methods=["POST"]),
        Route("/logs", logs_page, methods=["GET"]),
        Route("/diagnostics.zip", diagnostics, methods=["GET"]),
        Route("/support", support_page, methods=["GET"]),
        Route("/support/{request_id}/{decision}", support_decide, methods=["POST"]),
        Route("/events", events, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return SecurityHeaders(Starlette(routes=routes))
