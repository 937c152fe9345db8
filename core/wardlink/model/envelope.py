"""The outbound envelope: what actually goes on the wire to AWS IoT Core.

An envelope is built from ``SpooledRecord``s only. A spooled record is sealed: the
spool creates it from bytes that a sealed outbound type produced, and gives it the
gateway-scoped ``seq``. So an envelope cannot contain anything the policy did not
produce, and every item in it carries a ``seq`` for gap and duplicate detection.

The payload is assembled by splicing the stored JSON bytes rather than re-parsing
them, because the uplink runs this for every observation and must stay cheap.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from wardlink.model.seal import require_seal

SCHEMA_VERSION = "wardlink.envelope/1"


class RecordKind(StrEnum):
    """What a spooled record is. The value is also its topic suffix."""

    TELEMETRY = "telemetry"
    STATUS = "status"
    ALERT = "alert"
    HEALTH = "health"


class SpooledRecord(BaseModel):
    """One sealed outbound item, numbered by the spool."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1)
    kind: RecordKind
    body: bytes = Field(description="JSON object produced by a sealed outbound type")

    def model_post_init(self, context: object, /) -> None:
        require_seal("SpooledRecord")


class Envelope(BaseModel):
    """Header of one MQTT message; ``render`` adds the sealed items."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: str = SCHEMA_VERSION
    gateway_id: str
    batch_id: str
    kind: RecordKind
    sent_at: datetime
    first_seq: int
    last_seq: int
    items: tuple[SpooledRecord, ...]

    @classmethod
    def build(cls, gateway_id: str, kind: RecordKind, items: Sequence[SpooledRecord]) -> Envelope:
        if not items:
            raise ValueError("an envelope needs at least one record")
        for item in items:
            if type(item) is not SpooledRecord:
                raise TypeError(
                    f"envelopes are built from SpooledRecord only, not {type(item).__name__}"
                )
            if item.kind is not kind:
                raise ValueError(f"record {item.seq} is {item.kind}, envelope is {kind}")
        seqs = [item.seq for item in items]
        if any(b <= a for a, b in itertools.pairwise(seqs)):
            raise ValueError("records in an envelope must have strictly increasing seq")
        return cls(
            gateway_id=gateway_id,
            batch_id=uuid.uuid4().hex,
            kind=kind,
            sent_at=datetime.now(UTC),
            first_seq=seqs[0],
            last_seq=seqs[-1],
            items=tuple(items),
        )

    def render(self) -> bytes:
        """Serialize to the JSON payload, each item gaining its ``seq``."""
        head = (
            b'{"schema_version":"'
            + self.schema_version.encode()
            + b'","gateway_id":'
            + _json_str(self.gateway_id)
            + b',"batch_id":"'
            + self.batch_id.encode()
            + b'","kind":"'
            + self.kind.value.encode()
            + b'","sent_at":"'
            + self.sent_at.isoformat().encode()
            + b'","items":['
        )
        parts = [b'{"seq":' + str(item.seq).encode() + b"," + item.body[1:] for item in self.items]
        return head + b",".join(parts) + b"]}"

    @staticmethod
    def overhead(gateway_id: str) -> int:
        """Bytes an envelope adds around its items (upper bound), for batch sizing."""
        return 200 + len(gateway_id) * 2


def _json_str(value: str) -> bytes:
    import json

    return json.dumps(value).encode()
