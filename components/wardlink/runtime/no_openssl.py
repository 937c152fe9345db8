"""Start a gateway component without loading OpenSSL: about 4.5 MB less resident memory.

Neither component needs OpenSSL in its own process. The IPC client talks to the
nucleus over a Unix socket, MQTT to AWS IoT Core goes through the nucleus, and
awscrt carries its own TLS; hashing (HMAC-SHA256 pseudonyms, record ids) is what
CPython's built-in digests do as well. Yet three standard modules load it on
import, and libcrypto's pages then count in the component's RSS for its whole
life:

* ``asyncio`` imports ``ssl`` (for TLS transports, which the components never open);
* ``hashlib`` imports ``_hashlib`` and uses OpenSSL's digests when it can;
* ``hmac`` imports ``_hashlib`` for its fast path.

All three treat OpenSSL as optional and fall back by design: ``asyncio`` refuses a
TLS transport with a clear error, ``hashlib`` uses the built-in implementations of
the digests it guarantees (the same results), ``hmac`` computes in Python over
them. ``preload_without_openssl`` imports exactly these three while ``ssl``,
``_ssl`` and ``_hashlib`` cannot be imported (a ``None`` entry in ``sys.modules``,
the import system's documented way), then makes them importable again. Anything
imported later sees the real ``ssl`` (the CLIs' botocore API backend loads it); the
Uplink's API client uses awscrt's own TLS (``WardlinkApiClient.for_gateway``), so a
component keeps OpenSSL out even with an API configured.

It does nothing where it would change behaviour: if an interpreter lacks a
built-in implementation of one of the digests (some distributions build CPython
with OpenSSL's only), or if OpenSSL is already loaded.
``tests/runtime/test_import_budget.py`` checks that the running components keep
OpenSSL out and that digests, HMACs and a later ``ssl`` are unchanged.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

#: The modules that load OpenSSL's libcrypto and libssl.
OPENSSL_MODULES = ("_hashlib", "_ssl", "ssl")

#: ``hashlib``'s built-in implementations, each as the modules that may hold it
#: (CPython 3.12 merged ``_sha256`` and ``_sha512`` into ``_sha2``).
_BUILTIN_DIGESTS = (("_md5",), ("_sha1",), ("_sha2", "_sha256"), ("_sha2", "_sha512"),
                    ("_sha3",), ("_blake2",))  # fmt: skip


def builtin_digests_available() -> bool:
    """True if ``hashlib`` can provide every guaranteed digest without OpenSSL."""
    return all(any(find_spec(name) is not None for name in names) for names in _BUILTIN_DIGESTS)


def preload_without_openssl() -> bool:
    """Import ``asyncio``, ``hashlib`` and ``hmac`` with OpenSSL out of reach.

    Call it first thing in a component process, before anything imports them.
    Returns True if they were imported without OpenSSL, False if it did nothing
    (OpenSSL or one of the three already loaded, or a built-in digest missing).
    """
    if any(name in sys.modules for name in (*OPENSSL_MODULES, "asyncio", "hashlib", "hmac")):
        return False
    if not builtin_digests_available():
        return False
    for name in OPENSSL_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" now fails
    try:
        import asyncio  # noqa: F401
        import hashlib  # noqa: F401
        import hmac  # noqa: F401
    finally:
        for name in OPENSSL_MODULES:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return True
