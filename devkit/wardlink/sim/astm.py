"""Simulated point-of-care glucose meter speaking ASTM E1381/E1394 on a pty.

The simulator is the E1381 *sender*: for every result it establishes the link
(ENQ, waits for ACK; after a NAK it waits and tries again), sends each frame and
waits for its ACK (retransmitting a NAKed frame up to six times, E1381 6.5.1.2),
then ends with EOT. A missing reply within ``reply_timeout`` seconds (15 s in the
standard) aborts the transmission with EOT, and the message is kept for the
next tick, as the standard asks of an instrument.

Each message is H, P (the simulated patient: ids, name, birth date, sex, address,
phone, attending physician, location - the PHI canaries), O, R (glucose, and
HbA1c now and then), C and L.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar, Final

from wardlink.codecs._astm_records import Delimiters, format_record
from wardlink.codecs.astm_e1381 import ACK, ENQ, EOT, NAK, encode_records
from wardlink.sim.base import PtyDevice, Simulator
from wardlink.sim.registry import FAULT_SETTINGS, SimOptions, register_simulator

MAX_RETRANSMISSIONS: Final = 6
REPLIES: Final = frozenset({ACK, NAK, EOT})


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


@register_simulator("astm-e1381", "point-of-care glucose meter, ASTM E1381/E1394, on a pty")
class AstmSimulator(Simulator):
    """Point-of-care glucose meter, ASTM E1381/E1394, on a pty."""

    name: ClassVar[str] = "astm-e1381"
    description: ClassVar[str] = "point-of-care glucose meter, ASTM E1381/E1394, on a pty"
    default_rate_hz: ClassVar[float] = 0.2
    settings_help: ClassVar[Mapping[str, str]] = {
        **FAULT_SETTINGS,
        "reply_timeout": "seconds to wait for the gateway's ACK/NAK (default 15)",
    }

    def __init__(self, options: SimOptions) -> None:
        super().__init__(options)
        self.pty = PtyDevice(options.pty_link)
        self.glucose = float(self.rng.randint(80, 160))
        self.reply_timeout = self.setting("reply_timeout", 15.0)
        self.pending: list[str] | None = None  # a message not yet delivered
        self.sequence = 0
        self.delimiters = Delimiters()

    async def start(self) -> str:
        path = self.pty.open()
        return f"pty {self.pty.slave_path}" + (f" (link {path})" if self.pty.link else "")

    # -- content ------------------------------------------------------------------------

    def next_message(self, now: datetime | None = None) -> list[str]:
        now = now or datetime.now(UTC)
        self.sequence += 1
        p, d = self.patient, self.delimiters
        self.glucose = min(400.0, max(40.0, self.glucose + self.rng.uniform(-15, 15)))
        value = round(self.glucose)
        flag = "H" if value > 110 else ("L" if value < 70 else "N")
        records = [
            format_record(
                "H",
                # H-3 .. H-14: control id, password, sender, 6 unused fields, processing id,
                # version, date/time of message
                [
                    "",
                    "",
                    ["WardlinkSim", "1.0", f"SIM{self.options.seed:04d}"],
                    *[""] * 6,
                    "P",
                    "LIS2-A2",
                    _stamp(now),
                ],
                d,
            ),
            format_record(
                "P",
                [
                    "1",
                    p.mrn,
                    p.visit_number,
                    "",
                    [p.family_name, p.given_name, p.middle_initial],
                    "",
                    p.dob_compact,
                    p.sex,
                    "",
                    [p.street, p.city, p.state, p.zip_code],
                    "",
                    p.phone,
                    [p.attending_id, p.attending_family, p.attending_given],
                    *[""] * 11,  # P-15 .. P-25
                    [p.ward, p.room, p.bed],  # P-26 location
                ],
                d,
            ),
            format_record(
                "O",
                ["1", f"S{self.sequence:06d}", "", ["", "", "", "GLU"], "R", "", _stamp(now)],
                d,
            ),
            format_record(
                "R",
                [
                    "1",
                    ["", "", "", "GLU"],
                    str(value),
                    "mg/dL",
                    "70 to 110",
                    flag,
                    "",
                    "F",
                    "",
                    "",
                    "",
                    _stamp(now),
                ],
                d,
            ),
        ]
        if self.sequence % 5 == 0:
            a1c = f"{self.rng.uniform(5.0, 9.5):.1f}"
            records.append(
                format_record(
                    "R",
                    [
                        "2",
                        ["", "", "", "HBA1C"],
                        a1c,
                        "%",
                        "4.0 to 5.6",
                        "",
                        "",
                        "F",
                        "",
                        "",
                        "",
                        _stamp(now),
                    ],
                    d,
                )
            )
        records.append(format_record("C", ["1", "I", "strip lot 4471", "G"], d))
        records.append(format_record("L", ["1", "N"], d))
        return records

    def phi_canaries(self) -> tuple[str, ...]:
        """The identifying values this simulator puts in its P records."""
        p = self.patient
        values = (
            p.mrn,
            p.visit_number,
            p.family_name,
            p.full_name,
            p.dob_compact,
            p.birth_date.isoformat(),
            p.street,
            p.phone,
        )
        return tuple(dict.fromkeys(values))

    # -- E1381 sender -------------------------------------------------------------------

    async def _reply(self) -> int | None:
        return await self.pty.read_byte(REPLIES, self.reply_timeout)

    async def transmit(self, records: list[str]) -> bool:
        """One establishment-transfer-termination cycle; True if every frame was ACKed."""
        self.pty.write(bytes([ENQ]))
        reply = await self._reply()
        if reply != ACK:
            if reply is None:
                self.pty.write(bytes([EOT]))
            return False
        for frame in encode_records(records):
            for _attempt in range(MAX_RETRANSMISSIONS):
                self.pty.write(frame)
                reply = await self._reply()
                if reply in (ACK, EOT):  # EOT: receiver interrupt, treated as ACK
                    break
                if reply is None:
                    self.pty.write(bytes([EOT]))
                    return False
            else:
                self.pty.write(bytes([EOT]))
                return False
        self.pty.write(bytes([EOT]))
        return True

    async def send_one(self) -> None:
        records = self.pending or self.next_message()
        self.pending = records
        if await self.transmit(records):
            self.pending = None
            self.delivered += 1

    async def write_raw(self, data: bytes) -> None:
        self.pty.write(data)

    async def disconnect(self) -> None:
        await self.pty.reopen()

    async def close(self) -> None:
        self.pty.close()
