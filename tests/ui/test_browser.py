"""The gateway UI in real headless Chromium, against a running ``wardlink demo``.

One demo site (a subprocess, ``--ui-port 0``) serves every test in this module;
each test signs in with a fresh browser context. Debian's ``chromium`` is driven
by Playwright for Python through ``executable_path``: no browser is downloaded.
With ``CI=true`` a missing chromium fails instead of skipping. Every page, event
stream and download the tests receive is kept, and the last test checks it for
the PHI canaries the demo's simulators sent (the demo reports them when it stops).
Screenshots for docs/technician-guide.md are written to docs/images/.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wardlink.ui.accounts import AccountStore, Role

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
IDLE_S = 6.0
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("chromium is not installed (.ci/bootstrap installs it); CI cannot skip")
    pytest.skip("chromium not installed", allow_module_level=True)

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402


@dataclass
class DemoSite:
    url: str
    workdir: Path
    username: str
    password: str
    process: subprocess.Popen[str]
    summary: Path
    seen: list[str] = field(default_factory=list)  # everything the browser received

    def add_user(self, name: str, role: Role, password: str) -> None:
        store = AccountStore(self.workdir / "ui" / "accounts.json")
        if store.get(name) is None:
            store.add(name, password, role)

    def audit(self) -> list[dict[str, Any]]:
        path = self.workdir / "ui" / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    base = tmp_path_factory.mktemp("ui-demo")
    credentials, summary = base / "ui.txt", base / "summary.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wardlink.cli.main",
            "demo",
            "--duration",
            "240",
            "--ui-port",
            "0",
            "--ui-credentials",
            str(credentials),
            "--ui-idle-timeout",
            str(IDLE_S),
            "--workdir",
            str(base / "work"),
            "--summary",
            str(summary),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=base,
    )
    assert process.stdout is not None
    url = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not url:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"gateway UI: (https://127\.0\.0\.1:\d+)", line)
        url = found.group(1) if found else ""
    if not url:
        process.kill()
        pytest.fail("the demo did not print the UI's URL")
    username, password = credentials.read_text().strip().split(":", 1)
    site = DemoSite(url, base / "work", username, password, process, summary)
    yield site
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, demo: DemoSite) -> Iterator[BrowserContext]:
    ctx = browser.new_context(ignore_https_errors=True, base_url=demo.url)
    ctx.on("response", lambda r: _keep(demo, r))
    yield ctx
    ctx.close()


def _keep(demo: DemoSite, response: Any) -> None:
    kind = response.headers.get("content-type", "")
    if "text/html" in kind and not response.url.endswith("/events"):
        try:
            demo.seen.append(response.text())
        except Exception:  # a response gone with its page
            pass


def sign_in(context: BrowserContext, user: str, password: str) -> Page:
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    return page


def technician(context: BrowserContext, demo: DemoSite) -> Page:
    page = sign_in(context, demo.username, demo.password)
    page.wait_for_url(f"{demo.url}/")
    return page


def csrf_of(page: Page) -> str:
    return str(page.locator("input[name=csrf]").first.get_attribute("value"))


def test_sign_in_and_see_the_site(context: BrowserContext, demo: DemoSite) -> None:
    page = technician(context, demo)
    page.get_by_text("connected", exact=False).first.wait_for()
    assert page.locator("#uplink").inner_text() in ("connected", "no report yet")
    page.wait_for_function("document.querySelector('#spool-depth').textContent.length > 0")
    # one machine here: the gateway's clock and the browser's agree to well under a second
    offset = page.locator("#clock-vs-browser").inner_text()
    assert re.fullmatch(r"[+-]\d+\.\d s", offset) and abs(float(offset[:-2])) < 1.0, offset
    page.screenshot(path=str(IMAGES / "ui-site.png"), full_page=True)


def test_every_device_listed_with_live_values(context: BrowserContext, demo: DemoSite) -> None:
    page = technician(context, demo)
    page.goto("/devices")
    rows = page.locator("tbody tr[data-row]")
    ids = sorted(str(r.get_attribute("data-row")) for r in rows.all())
    assert ids == [
        "bed-1-oximeter",
        "bed-2-oximeter",
        "bed-3-monitor",
        "bed-4-bp-cuff",
        "poc-glucose-1",
    ]
    value = page.locator('[data-values-for="bed-1-oximeter"] [data-metric] .value').first
    value.wait_for()
    stamp = page.locator('[data-values-for="bed-1-oximeter"] .age').first
    received = stamp.get_attribute("data-received")
    before = page.locator(".values .value").all_inner_texts()
    # Live over server-sent events: a fresh update arrives and values change, without a reload.
    page.wait_for_function(
        "([el, received]) => el.getAttribute('data-received') !== received",
        arg=[stamp.element_handle(), received],
        timeout=15_000,
    )
    page.wait_for_function(
        "before => [...document.querySelectorAll('.values .value')]"
        ".some((el, i) => el.textContent !== before[i])",
        arg=before,
        timeout=15_000,
    )
    page.screenshot(path=str(IMAGES / "ui-devices.png"), full_page=True)


def test_the_silent_device_shows_why(context: BrowserContext, demo: DemoSite) -> None:
    page = technician(context, demo)
    why = page.locator('[data-why-for="bed-3-monitor"]')
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:  # reloading: the idle log-off is short in this module
        page.goto("/devices")
        state = page.locator('[data-state-for="bed-3-monitor"]').inner_text()
        if state == "silent" and re.search(r"no data for \d+ s", why.inner_text()):
            break
        page.wait_for_timeout(1500)
    assert state == "silent", why.inner_text()
    assert "expected every" in why.inner_text()


def test_technician_assigns_a_location(context: BrowserContext, demo: DemoSite) -> None:
    page = technician(context, demo)
    page.goto("/devices/bed-1-oximeter")
    page.get_by_label("Unit").fill("ICU-2")
    page.get_by_label("Room").fill("12")
    page.get_by_label("Bed").fill("B")
    page.get_by_role("button", name="Assign").click()
    result = page.locator("#command-result")
    result.wait_for()
    assert "done" in result.inner_text(), result.inner_text()
    overlay = json.loads((demo.workdir / "state" / "site-overlay.json").read_text())
    assert overlay["bed-1-oximeter"] == {"unit": "ICU-2", "room": "12", "bed": "B"}
    commands = (demo.workdir / "state" / "commands-audit.jsonl").read_text()
    assert '"user":"technician"' in commands and '"action":"assign"' in commands
    page.screenshot(path=str(IMAGES / "ui-device.png"), full_page=True)


def _rows(page: Page) -> list[str]:
    return sorted(
        str(r.get_attribute("data-row")) for r in page.locator("tbody tr[data-row]").all()
    )


def _until_listed(page: Page, device_id: str, listed: bool = True) -> None:
    """Reload the devices page until the device is (or is no longer) announced."""
    for _ in range(30):
        page.goto("/devices")
        if (device_id in _rows(page)) == listed:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"{device_id} {'never listed' if listed else 'still listed'}")


def _commands(demo: DemoSite) -> list[dict[str, Any]]:
    path = demo.workdir / "state" / "commands-audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_technician_adds_and_removes_a_device(context: BrowserContext, demo: DemoSite) -> None:
    page = technician(context, demo)
    page.goto("/devices")
    page.get_by_label("Device id").fill("spare-oximeter")
    page.get_by_label("Profile").select_option("sim-nonin-oem3")
    page.get_by_label("Port").fill(str(demo.workdir / "dev" / "oximeter-spare"))
    page.get_by_role("button", name="Add device").click()
    result = page.locator("#command-result")
    result.wait_for()
    assert "done" in result.inner_text(), result.inner_text()
    _until_listed(page, "spare-oximeter")
    assert "added on site: spare-oximeter" in page.locator("#site-changes").inner_text()
    overlay = json.loads((demo.workdir / "state" / "site-devices.json").read_text())
    assert overlay["added"]["spare-oximeter"]["profile"] == "sim-nonin-oem3"
    page.screenshot(path=str(IMAGES / "ui-device-added.png"), full_page=True)

    page.goto("/devices/spare-oximeter")
    page.once("dialog", lambda dialog: dialog.accept())  # "Remove spare-oximeter ...?"
    page.get_by_role("button", name="Remove device").click()
    result = page.locator("#command-result")
    result.wait_for()
    assert "done" in result.inner_text(), result.inner_text()
    _until_listed(page, "spare-oximeter", listed=False)
    done = [(e["action"], e["device_id"], e["ok"]) for e in _commands(demo) if "action" in e]
    assert ("add", "spare-oximeter", True) in done and ("remove", "spare-oximeter", True) in done
    ui_audit = [(e.get("action"), e["user"]) for e in demo.audit() if e["event"] == "command"]
    assert ("add", "technician") in ui_audit and ("remove", "technician") in ui_audit


def test_technician_scans_and_adds_a_bluetooth_thermometer(
    context: BrowserContext, demo: DemoSite
) -> None:
    page = technician(context, demo)
    page.goto("/devices")
    page.get_by_role("button", name="Scan for nearby Bluetooth health devices").click()
    page.locator("#scan-result").wait_for(timeout=20_000)
    assert "done" in page.locator("#scan-result").inner_text()
    # the connected cuff no longer advertises; the thermometer nobody has added does
    found = page.locator('tr[data-found="C0:57:00:00:18:09"]')
    assert "Health Thermometer" in found.inner_text()
    page.screenshot(path=str(IMAGES / "ui-scan.png"), full_page=True)
    found.get_by_label("Device id").fill("bed-5-thermometer")
    found.get_by_label("Profile").select_option("ble-sig-health-thermometer")
    found.get_by_role("button", name="Add").click()
    result = page.locator("#command-result")
    result.wait_for()
    assert "done" in result.inner_text(), result.inner_text()
    _until_listed(page, "bed-5-thermometer")
    page.goto("/devices/bed-5-thermometer")
    page.locator('[data-values-for="bed-5-thermometer"] [data-metric] .value').first.wait_for(
        timeout=20_000
    )  # read over the (emulated) air, live
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove device").click()
    page.locator("#command-result").wait_for()
    _until_listed(page, "bed-5-thermometer", listed=False)
    assert any(e.get("action") == "scan" and e["ok"] for e in _commands(demo))


def test_a_viewer_cannot_act(context: BrowserContext, demo: DemoSite) -> None:
    demo.add_user("viewer1", Role.VIEWER, "viewer password 1")
    page = sign_in(context, "viewer1", "viewer password 1")
    page.wait_for_url(f"{demo.url}/")
    page.goto("/devices/bed-2-oximeter")
    assert page.get_by_role("button", name="Assign").count() == 0
    assert "may look but not act" in page.content()
    answer = context.request.post(
        "/devices/bed-2-oximeter/reconnect", form={"csrf": csrf_of(page)}, fail_on_status_code=False
    )
    assert answer.status == 403
    page.goto("/devices")
    assert page.get_by_role("button", name="Add device").count() == 0
    for path, form in [
        ("/devices/add", {"device_id": "x", "profile": "sim-nonin-oem3", "port": "/dev/x"}),
        ("/devices/scan", {}),
        ("/devices/bed-2-oximeter/remove", {}),
        ("/devices/bed-2-oximeter/sync", {}),
    ]:
        denied = context.request.post(
            path, form={**form, "csrf": csrf_of(page)}, fail_on_status_code=False
        )
        assert denied.status == 403, path
    assert page.request.get("/diagnostics.zip", fail_on_status_code=False).status == 403
    refused = [e for e in demo.audit() if e["event"] == "request-refused"]
    assert any(e["user"] == "viewer1" and "view" in e["reason"] for e in refused)


def test_a_request_without_the_csrf_token_is_refused(
    context: BrowserContext, demo: DemoSite
) -> None:
    technician(context, demo)
    answer = context.request.post(
        "/devices/bed-1-oximeter/assign", form={"unit": "X"}, fail_on_status_code=False
    )
    assert answer.status == 403
    wrong = context.request.post(
        "/devices/bed-1-oximeter/assign",
        form={"unit": "X", "csrf": "forged"},
        fail_on_status_code=False,
    )
    assert wrong.status == 403
    assert any(e["event"] == "request-refused" and "CSRF" in e["reason"] for e in demo.audit())


def test_five_wrong_passwords_lock_the_account(context: BrowserContext, demo: DemoSite) -> None:
    demo.add_user("locky", Role.TECHNICIAN, "the right password")
    messages = []
    for _ in range(5):
        page = sign_in(context, "locky", "a wrong password")
        page.locator("#login-error").wait_for()
        messages.append(page.locator("#login-error").inner_text())
        page.close()
    assert "locked" not in messages[3] and "locked" in messages[4]
    page = sign_in(context, "locky", "the right password")
    page.locator("#login-error").wait_for()
    assert "locked" in page.locator("#login-error").inner_text()
    assert "/login" in page.url
    assert any(e["event"] == "account-locked" and e["user"] == "locky" for e in demo.audit())


def test_an_idle_session_is_signed_out(context: BrowserContext, demo: DemoSite) -> None:
    page = technician(context, demo)
    page.goto("/devices")
    # The live stream is not activity: after IDLE_S the page itself goes to the sign-in page.
    page.wait_for_url(re.compile(r"/login\?expired=1$"), timeout=int((IDLE_S + 10) * 1000))
    assert "signed out after a period without activity" in page.content()
    page.goto("/devices")
    assert "/login" in page.url


def test_diagnostics_bundle_holds_no_secret(context: BrowserContext, demo: DemoSite) -> None:
    page = technician(context, demo)
    page.goto("/logs")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("diagnostics bundle")).click()
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        text = "\n".join(archive.read(n).decode() for n in names)
    assert {"config.json", "versions.json", "health.json", "logs.jsonl"} <= set(names)
    demo.seen.append(text)
    secrets = [demo.password, "PRIVATE KEY", "$argon2"]
    for key_file in [demo.workdir / "ui" / "tls" / "ui-key.pem", *demo.workdir.glob("pki/*key*")]:
        body = key_file.read_text().splitlines()
        secrets += [line for line in body if line and not line.startswith("-----")]
    leaked = [s for s in secrets if s in text]
    assert not leaked
    assert any(e["event"] == "diagnostics-download" for e in demo.audit())
    page.screenshot(path=str(IMAGES / "ui-logs.png"), full_page=True)


def test_security_headers(context: BrowserContext, demo: DemoSite) -> None:
    response = context.request.get("/login")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["strict-transport-security"].startswith("max-age=")
    cookie = headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_everything_works_from_the_keyboard(context: BrowserContext, demo: DemoSite) -> None:
    """Sign in, move between pages and assign a location with Tab, typing and Enter only."""
    demo.add_user("keys", Role.TECHNICIAN, "keyboard only password")
    page = context.new_page()
    page.goto("/login")  # the user name field has the focus
    page.keyboard.type("keys")
    page.keyboard.press("Tab")
    page.keyboard.type("keyboard only password")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo.url}/")

    def tab_to(check: str) -> None:
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate(f"(() => {{ const e = document.activeElement; return {check}; }})()"):
                return
        raise AssertionError(f"Tab never reached {check}")

    tab_to("e.textContent.trim() === 'Devices'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo.url}/devices")
    tab_to("e.textContent.trim() === 'bed-4-bp-cuff'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo.url}/devices/bed-4-bp-cuff")
    tab_to("e.id === 'loc-unit'")
    page.keyboard.type("CCU")
    page.keyboard.press("Enter")  # submits the assign form
    result = page.locator("#command-result")
    result.wait_for()
    assert "done" in result.inner_text(), result.inner_text()
    focus = (
        "getComputedStyle(e).outlineStyle !== 'none' || getComputedStyle(e).boxShadow !== 'none'"
    )
    tab_to("e.textContent.trim() === 'Reconnect'")
    assert page.evaluate(f"(() => {{ const e = document.activeElement; return {focus}; }})()")


def test_axe_finds_no_serious_violation(browser: Browser, demo: DemoSite) -> None:
    # bypass_csp: axe is injected by the test; the UI's own CSP forbids such scripts.
    ctx = browser.new_context(ignore_https_errors=True, base_url=demo.url, bypass_csp=True)
    try:
        login = ctx.new_page()
        login.goto("/login")
        login.screenshot(path=str(IMAGES / "ui-login.png"))
        pages = [login]
        page = technician(ctx, demo)
        found: dict[str, list[str]] = {}
        for path in ["/", "/devices", "/devices/bed-1-oximeter", "/logs", "/support"]:
            page.goto(path)
            pages.append(page)
            found[path] = _axe(page)
        found["/login"] = _axe(login)
        assert found == {p: [] for p in found}
    finally:
        ctx.close()


def _axe(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run()).violations")
    return [f"{v['id']}: {v['help']}" for v in result if v.get("impact") in ("serious", "critical")]


def test_zz_no_phi_canary_anywhere(browser: Browser, demo: DemoSite) -> None:
    """Last: stop the demo, which reports the canaries its simulators sent, and look for them."""
    ctx = browser.new_context(ignore_https_errors=True, base_url=demo.url)
    try:
        page = technician(ctx, demo)
        pages = ["/", "/devices", "/devices/bed-1-oximeter", "/devices/bed-3-monitor", "/logs"]
        for path in [*pages, "/support"]:
            page.goto(path)
            demo.seen.append(page.content())
        stream = page.evaluate(
            """() => new Promise(resolve => {
                const got = []; const source = new EventSource('/events');
                source.onmessage = m => {
                    got.push(m.data);
                    if (got.length >= 20) { source.close(); resolve(got); }
                };
                setTimeout(() => { source.close(); resolve(got); }, 8000);
            })"""
        )
        assert stream, "no server-sent event arrived"
        demo.seen += stream
    finally:
        ctx.close()
    demo.process.send_signal(signal.SIGTERM)
    demo.process.wait(timeout=60)
    canaries = json.loads(demo.summary.read_text())["phi_canaries"]
    assert canaries
    everything = "\n".join(demo.seen).lower()
    assert [c for c in canaries if c.lower() in everything] == []
