"""Support's requests for this gateway's diagnostics bundle, as the technician's UI sees them.

Manufacturer support cannot reach into a site: it asks through the cloud API,
and the request waits until someone on site decides. This module reads the
gateway's pending requests with the gateway's own credentials (the Greengrass
token exchange; IAM confines them to this gateway's paths) every ``period_s``
seconds and when the Support page is opened, and sends the technician's
decision back. On approval the caller hands over the redacted bundle
(``wardlink.ui.diagnostics``), which is uploaded to the presigned URL the API
answers with; on a decline nothing is sent. Who may decide (technician or
admin), the CSRF check and the audit record are the web application's.

Everything the API needs runs in a worker thread (the client is synchronous),
so a slow or unreachable cloud never stalls a page; the page says when the
list was last read and why it could not be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wardlink.contract.diagnostics import DiagnosticsRequest

log = logging.getLogger(__name__)

STALE_S = 10.0


class SupportRequests:
    def __init__(
        self, client_factory: Callable[[], Any], gateway_id: str, period_s: float = 60.0
    ) -> None:
        self._client_factory = client_factory
        self._client: Any | None = None
        self.gateway_id = gateway_id
        self.period_s = period_s
        self.pending: list[DiagnosticsRequest] = []
        self.checked_at: float | None = None
        self.error: str | None = None
        self._refreshing: asyncio.Task[None] | None = None

    def _api(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _list_pending(self) -> list[DiagnosticsRequest]:
        from wardlink.cloudclient.diagnostics import list_diagnostics
        from wardlink.contract.diagnostics import DiagnosticsState

        return list_diagnostics(self._api(), self.gateway_id, DiagnosticsState.PENDING)

    async def refresh(self) -> None:
        try:
            self.pending = await asyncio.to_thread(self._list_pending)
            self.error = None
        except Exception as exc:  # the cloud being away is shown, never raised into a page
            self.error = type(exc).__name__
            log.warning("diagnostics requests not read", extra={"error": type(exc).__name__})
        self.checked_at = time.time()

    def refresh_soon(self) -> None:
        """Start a refresh if the list is older than ``STALE_S`` (a page does not wait)."""
        stale = self.checked_at is None or time.time() - self.checked_at > STALE_S
        if stale and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.get_running_loop().create_task(self.refresh())

    def find(self, request_id: str) -> DiagnosticsRequest | None:
        return next((r for r in self.pending if r.request_id == request_id), None)

    async def decide(
        self, request_id: str, approve: bool, user: str, bundle: bytes | None = None
    ) -> DiagnosticsRequest:
        """Send the decision (and on approval upload ``bundle``); raises what the API raised."""
        from wardlink.cloudclient.diagnostics import answer_diagnostics
        from wardlink.contract.diagnostics import DiagnosticsDecision

        decision = DiagnosticsDecision.APPROVE if approve else DiagnosticsDecision.DECLINE
        answer = await asyncio.to_thread(
            answer_diagnostics, self._api(), self.gateway_id, request_id, decision, user, bundle
        )
        self.pending = [r for r in self.pending if r.request_id != request_id]
        return answer

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.period_s)
