"""Call Lambda handlers in-process, one invocation at a time in the whole process.

Lambda runs one event per execution environment, and the handlers rely on that:
Powertools' resolver keeps the current event on the module-level ``app``, and the
logger's Lambda context keys are process-wide. So every invocation, whichever
thread (HTTP server, MQTT bridge) and whichever ``LocalCloud`` asks, runs behind
one process-wide lock (``INVOCATION_LOCK``).

``around`` lets the owner prepare the process for its invocation while that lock
is held: ``LocalCloud`` installs its own services there, which is what lets
several local clouds share one process.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from wardlink.localcloud.apigw import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]

INVOCATION_LOCK = threading.RLock()
"""Held for every in-process handler invocation (re-entrant for ``around`` hooks)."""


class LambdaInvoker:
    def __init__(
        self,
        region: str,
        account_id: str,
        *,
        around: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self._region = region
        self._account_id = account_id
        self._around = around or nullcontext
        self._handlers: dict[str, Handler] = {}

    def resolve(self, handler_path: str) -> Handler:
        """``package.module.function`` -> the function (imported once)."""
        handler = self._handlers.get(handler_path)
        if handler is None:
            module_name, _, attribute = handler_path.rpartition(".")
            handler = getattr(importlib.import_module(module_name), attribute)
            self._handlers[handler_path] = handler
        return handler

    def invoke(self, handler_path: str, event: dict[str, Any]) -> Any:
        handler = self.resolve(handler_path)
        function_name = "wardlink-" + handler_path.rsplit(".", 2)[-2].replace("_", "-")
        context = LocalLambdaContext(
            function_name=function_name, region=self._region, account_id=self._account_id
        )
        with INVOCATION_LOCK, self._around():
            return handler(event, context)
