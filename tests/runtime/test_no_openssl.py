"""A component's start-up without OpenSSL changes no result, only what is resident.

``wardlink.runtime.no_openssl`` imports asyncio, hashlib and hmac while OpenSSL
cannot be imported (see its docstring). Each check runs in a fresh interpreter, as a
component does: the digests and HMACs the edge computes (pseudonyms, record ids)
equal OpenSSL's, TLS still works for code imported afterwards (the Uplink's cloud
API client), and nothing happens when OpenSSL is already there. That a running
component keeps OpenSSL out is checked in ``test_import_budget.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys

ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b")
MESSAGE = b"wardlink pseudonym \x00 MRN-0042"
KEY = b"k" * 32

PRELOADED = """
import json, sys
from wardlink.runtime.no_openssl import preload_without_openssl
done = preload_without_openssl()
loaded = sorted(m for m in ("_hashlib", "_ssl", "ssl") if m in sys.modules)
import asyncio, hashlib, hmac
"""


def _run(code: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_digests_and_hmacs_are_openssls_without_openssl() -> None:
    report = _run(
        PRELOADED
        + f"""
digests = {{a: hashlib.new(a, {MESSAGE!r}).hexdigest() for a in {ALGORITHMS!r}}}
macs = {{
    "new": hmac.new({KEY!r}, {MESSAGE!r}, hashlib.sha256).hexdigest(),
    "digest": hmac.digest({KEY!r}, {MESSAGE!r}, "sha256").hex(),
}}
asyncio.run(asyncio.sleep(0))
print(json.dumps({{"done": done, "loaded": loaded, "digests": digests, "macs": macs}}))
"""
    )
    assert report["done"] is True
    assert report["loaded"] == []
    assert report["digests"] == {a: hashlib.new(a, MESSAGE).hexdigest() for a in ALGORITHMS}
    expected = hmac.new(KEY, MESSAGE, hashlib.sha256).hexdigest()
    assert report["macs"] == {"new": expected, "digest": expected}


def test_tls_works_for_what_is_imported_afterwards() -> None:
    """The Uplink's cloud API client loads OpenSSL when it is configured: it still can."""
    report = _run(
        PRELOADED
        + """
import ssl
import urllib3
context = ssl.create_default_context()
pool = urllib3.HTTPSConnectionPool("example.invalid", port=443)
print(json.dumps({"done": done, "verify": context.verify_mode == ssl.CERT_REQUIRED,
                  "https": pool.scheme}))
"""
    )
    assert report == {"done": True, "verify": True, "https": "https"}


def test_nothing_happens_once_openssl_is_loaded() -> None:
    report = _run(
        """
import json, hashlib, sys
from wardlink.runtime.no_openssl import preload_without_openssl
print(json.dumps({"done": preload_without_openssl(), "hashlib": "_hashlib" in sys.modules}))
"""
    )
    assert report == {"done": False, "hashlib": True}
