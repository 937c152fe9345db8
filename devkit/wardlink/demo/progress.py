"""The demo's live progress line and its final summary."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass
class DemoSummary:
    """What the demo did. ``phi_canaries`` lists every PHI value the simulators sent."""

    acquired: int = 0
    spooled: int = 0
    delivered: int = 0
    last_seq: int = 0
    broker_items: int = 0
    broker_max_seq: int = 0
    missing_seqs: int = 0
    phi_canaries: list[str] = field(default_factory=list)
    phi_leaks: list[str] = field(default_factory=list)
    frame_errors: int = 0
    devices: dict[str, str] = field(default_factory=dict)
    delivered_by_device: dict[str, int] = field(default_factory=dict)
    spool_depth_at_exit: int = 0
    """Telemetry still spooled at exit (undelivered, not lost)."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Telemetry counted as lost, by reason (disk_full, evicted, queue_overflow, ...).
    Every run: ``acquired == delivered + spool_depth_at_exit + sum(dropped)``."""
    duration_s: float = 0.0
    broker: str = ""
    cloud: dict[str, Any] | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def accounted(self) -> bool:
        """Every acquired observation is delivered, still spooled, or counted lost."""
        return self.acquired == self.delivered + self.spool_depth_at_exit + self.dropped_total

    def write(self, path: Path) -> None:
        out = asdict(self) | {"dropped_total": self.dropped_total, "accounted": self.accounted}
        path.write_text(json.dumps(out, indent=2) + "\n")


def render_line(elapsed: float, s: DemoSummary, uplink_up: bool, spool_depth: int) -> str:
    connected = sum(1 for v in s.devices.values() if v == "connected")
    return (
        f"[{elapsed:6.1f}s] devices {connected}/{len(s.devices)}  acquired {s.acquired:>7}  "
        f"spooled {s.spooled:>7}  delivered {s.delivered:>7}  spool {spool_depth:>6}  "
        f"lost {s.dropped_total:>6}  "
        f"last_seq {s.last_seq:>7}  uplink {'up' if uplink_up else 'DOWN'}  "
        f"phi leaks {len(s.phi_leaks)}"
    )


def show(line: str, stream: TextIO = sys.stdout, live: bool | None = None) -> None:
    """Overwrite the line on a terminal; print one line per update otherwise."""
    if live is None:
        live = stream.isatty()
    if live:
        stream.write("\r" + line.ljust(150))
    else:
        stream.write(line + "\n")
    stream.flush()
