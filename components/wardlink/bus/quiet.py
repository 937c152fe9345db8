"""Best-effort local publishes that a refusing recipe cannot turn into log spam.

The DeviceProxy and the Uplink publish feeds for the gateway UI (sealed
telemetry, the uplink's state) several times a second. Deployed with an older
recipe that does not grant those topics, every publish is refused; logging each
refusal would bury the gateway's log and cost CPU for nothing. ``QuietPublisher``
logs the first refusal once as a warning, then skips its topic for a back-off
that doubles up to ``max_backoff_s`` before trying again, and says once when a
publish is allowed again (a redeployment with the grant). Other failures are
logged at debug level, as before. A skipped publish is counted, never raised:
acquisition and the uplink go on whatever happens to the UI's feeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from wardlink.bus.port import EdgeBus, Unauthorized

log = logging.getLogger(__name__)


class QuietPublisher:
    """Publishes on one local topic; refusals are logged once and backed off."""

    def __init__(
        self,
        topic: str,
        min_backoff_s: float = 5.0,
        max_backoff_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic = topic
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._backoff_s = 0.0
        self._resume_at = 0.0
        self.refused = 0
        self.skipped = 0

    @property
    def refusing(self) -> bool:
        return self._backoff_s > 0

    async def publish(self, bus: EdgeBus, payload: bytes) -> bool:
        """True when the payload was published; never raises."""
        now = self._clock()
        if now < self._resume_at:
            self.skipped += 1
            return False
        try:
            await bus.publish_local(self.topic, payload)
        except Unauthorized as exc:
            self.refused += 1
            if not self.refusing:
                log.warning(
                    "local publish refused by the access-control policy; retrying with back-off"
                    " (does the deployed recipe grant this topic?)",
                    extra={"topic": self.topic, "error": str(exc)[:200]},
                )
            self._backoff_s = min(self.max_backoff_s, max(self.min_backoff_s, self._backoff_s * 2))
            self._resume_at = now + self._backoff_s
            return False
        except Exception as exc:
            log.debug("local publish failed", extra={"topic": self.topic, "error": str(exc)})
            return False
        if self.refusing:
            log.info("local publish allowed again", extra={"topic": self.topic})
            self._backoff_s = 0.0
        return True
