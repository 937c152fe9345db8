"""A minimal HTTPS client for the gateway UI in tests that need no browser: cookies, CSRF.

It signs in through the login form (its CSRF token, the session cookie), then
GETs pages and POSTs forms with the session's CSRF token, as a browser would.
"""

from __future__ import annotations

import http.cookiejar
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


class UiClient:
    def __init__(self, base_url: str, cert_file: Path) -> None:
        self.base_url = base_url
        tls = ssl.create_default_context(cafile=str(cert_file))
        tls.check_hostname = False
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=tls),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )
        self.csrf = ""

    def request(self, path: str, fields: dict[str, str] | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        try:
            with self._opener.open(self.base_url + path, data, timeout=30) as reply:
                return int(reply.status), reply.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    def sign_in(self, username: str, password: str) -> str:
        _, page = self.request("/login")
        form = {"csrf": _csrf(page), "username": username, "password": password}
        status, site = self.request("/login", form)
        assert status == 200 and 'name="csrf"' in site, site[:500]
        self.csrf = _csrf(site)
        return site

    def post(self, path: str, fields: dict[str, str] | None = None) -> tuple[int, str]:
        return self.request(path, {"csrf": self.csrf, **(fields or {})})
