"""A private InfluxDB server (Debian's ``influxd`` 1.x) for the local cloud and the tests.

The telemetry writer speaks line protocol over the v1-compatible ``/write`` and
InfluxQL over ``/query``; Amazon Timestream for InfluxDB (2.x) serves both through
its DBRP mapping, and Debian's ``influxdb`` package serves them natively. So the
local cloud and the tests run the real write and query path against a real server.

Each ``InfluxDBServer`` is its own process with its own configuration and data in
a temporary directory, bound to free loopback ports: a system-wide ``influxd``
that the package may have started on 8086 is never touched, and several servers
can run side by side. It runs as root too (CI does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from types import TracebackType

import urllib3

from wardlink.model.errors import WardlinkError

INFLUXD = "influxd"


class InfluxDBUnavailableError(WardlinkError):
    """``influxd`` is not installed, or it did not come up."""


def influxd_path() -> str | None:
    """The ``influxd`` binary (``$WARDLINK_INFLUXD`` wins), or None if not installed."""
    explicit = os.environ.get("WARDLINK_INFLUXD")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which(INFLUXD)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(root: Path, http_port: int, rpc_port: int) -> str:
    return f"""
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root / 'meta'}"
  logging-enabled = false

[data]
  dir = "{root / 'data'}"
  wal-dir = "{root / 'wal'}"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
  compact-full-write-cold-duration = "1m"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  enabled = false
"""


class InfluxDBServer:
    """``start()`` returns the base URL; ``stop()`` ends the process and removes its data."""

    def __init__(self, workdir: str | Path | None = None) -> None:
        self._workdir = Path(workdir) if workdir is not None else None
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self.url: str | None = None
        self.port: int | None = None

    def start(self, timeout_s: float = 30.0) -> str:
        binary = influxd_path()
        if binary is None:
            raise InfluxDBUnavailableError(
                "influxd is not installed: run bash .ci/bootstrap (Debian package 'influxdb')"
            )
        if self._workdir is not None:
            self._workdir.mkdir(parents=True, exist_ok=True)
        self._root = Path(tempfile.mkdtemp(prefix="influxdb-", dir=self._workdir))
        self.port = _free_port()
        config = self._root / "influxdb.conf"
        config.write_text(_config(self._root, self.port, _free_port()), encoding="utf-8")
        self._log = self._root / "influxd.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own binary and config
                [binary, "-config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_ready(timeout_s)
        return self.url

    def _wait_ready(self, timeout_s: float) -> None:
        assert self._process is not None and self.url is not None
        pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=1.0))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with contextlib.suppress(urllib3.exceptions.HTTPError):
                if pool.request("GET", f"{self.url}/ping").status == 204:
                    return
            time.sleep(0.05)
        tail = self._log.read_text(errors="replace")[-2000:] if self._log else ""
        self.stop()
        raise InfluxDBUnavailableError(f"influxd did not come up in {timeout_s:.0f} s: {tail}")

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE`` (idempotent); the default retention policy keeps data forever."""
        if self.url is None:
            raise InfluxDBUnavailableError("the InfluxDB server is not running")
        self.create_database_at(self.url, name)

    @staticmethod
    def create_database_at(url: str, name: str) -> None:
        """``CREATE DATABASE`` on the 1.x server at ``url``."""
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits, '-' and '_' only")
        body = urllib.parse.urlencode({"q": f'CREATE DATABASE "{name}"'})
        response = urllib3.request(
            "POST",
            f"{url}/query",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status != 200 or b'"error"' in response.data:
            raise InfluxDBUnavailableError(f"CREATE DATABASE {name}: {response.data!r}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        self.url = None

    def __enter__(self) -> InfluxDBServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
