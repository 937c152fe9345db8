"""Call Lambda handlers in-process, one invocation at a time.

Lambda runs one event per execution environment, and the handlers rely on that:
Powertools' resolver keeps the current event on the module-level ``app``, and the
logger's Lambda context keys are process-wide. So the local cloud serialises every
invocation behind one lock, whichever thread (HTTP server, MQTT bridge) asks.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from wardlink.localcloud.apigw import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaInvoker:
    def __init__(self, region: str, account_id: str) -> None:
        self._region = region
        self._account_id = account_id
        self._lock = threading.Lock()
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
        with self._lock:
            return handler(event, context)
