"""Simulated bedside monitor sending IHE PCD-01 ORU^R01 over MLLP.

Three ways to reach the gateway, as real monitors do:

* ``connect`` (``--connect HOST:PORT``): the monitor is the MLLP client and the
  gateway the listener - the usual hospital set-up;
* ``port`` (``--port N``): the monitor listens and the gateway connects to it
  (gateway as TCP client); every connected gateway gets every message;
* ``pty_link`` (``--pty-link PATH``): MLLP over a serial line.

Each message carries the simulated patient in PID (MRN, SSN-shaped id, name,
birth date, address, phone, account number), NK1 (a relative) and PV1 (ward,
room, bed, attending physician, visit number), then OBX rows in PCD-01 shape:
MDS and VMD header rows, SpO2, pulse rate, NIBP, temperature and respiration
rate with MDC codes and MDC units. The monitor waits for the ACK (MSA-1 AA)
before the next message and counts it in ``delivered``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar, Final

from wardlink.codecs._mllp import END_BLOCK, wrap
from wardlink.sim.base import PtyDevice, Simulator
from wardlink.sim.registry import FAULT_SETTINGS, SimOptions, register_simulator

log = logging.getLogger(__name__)

EUI64: Final = "0A1B2C3D4E5F6071"
ACK_TIMEOUT_S: Final = 5.0


def _dtm(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _ack_code(frame: bytes) -> str | None:
    for segment in frame.decode("latin-1").strip("\x0b\x1c\r").split("\r"):
        if segment.startswith("MSA|"):
            fields = segment.split("|")
            return fields[1] if len(fields) > 1 else None
    return None


@register_simulator("hl7-mllp", "bedside monitor, IHE PCD-01 ORU^R01 over MLLP (TCP or pty)")
class Hl7Simulator(Simulator):
    """Bedside monitor, IHE PCD-01 ORU^R01 over MLLP (TCP or pty)."""

    name: ClassVar[str] = "hl7-mllp"
    description: ClassVar[str] = "bedside monitor, IHE PCD-01 ORU^R01 over MLLP (TCP or pty)"
    default_rate_hz: ClassVar[float] = 0.5
    settings_help: ClassVar[Mapping[str, str]] = {
        **FAULT_SETTINGS,
        "ack_timeout": "seconds to wait for the gateway's ACK before resending",
    }

    def __init__(self, options: SimOptions) -> None:
        super().__init__(options)
        self.pty = PtyDevice(options.pty_link) if options.pty_link else None
        self.sequence = 0
        self.acks: list[str] = []
        self._server: asyncio.Server | None = None
        self._peers: dict[asyncio.StreamWriter, asyncio.StreamReader] = {}
        self._client: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.ack_timeout = self.setting("ack_timeout", ACK_TIMEOUT_S)
        self.vitals = {
            "spo2": float(self.rng.randint(94, 99)),
            "pr": float(self.rng.randint(60, 95)),
            "sys": float(self.rng.randint(105, 140)),
            "dia": float(self.rng.randint(60, 90)),
            "temp": round(self.rng.uniform(36.4, 37.4), 1),
            "rr": float(self.rng.randint(12, 20)),
        }

    # -- where ---------------------------------------------------------------------------

    async def start(self) -> str:
        if self.pty is not None:
            path = self.pty.open()
            return f"pty {self.pty.slave_path}" + (f" (link {path})" if self.pty.link else "")
        if self.options.connect is not None:
            host, port = self.options.connect
            return f"MLLP client, sending to {host}:{port}"
        port = self.options.port if self.options.port is not None else 0
        self._server = await asyncio.start_server(self._on_peer, self.options.host, port)
        bound = self._server.sockets[0].getsockname()
        return f"MLLP server listening on {bound[0]}:{bound[1]}"

    @property
    def listen_port(self) -> int | None:
        if self._server is None:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def _on_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._peers[writer] = reader

    # -- content -------------------------------------------------------------------------

    def _wander(self, key: str, step: float, low: float, high: float) -> float:
        value = min(high, max(low, self.vitals[key] + self.rng.uniform(-step, step)))
        self.vitals[key] = value
        return value

    def next_message(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        self.sequence += 1
        p = self.patient
        kin = p.next_of_kin
        stamp = _dtm(now)
        spo2 = round(self._wander("spo2", 0.8, 85, 100))
        pr = round(self._wander("pr", 3, 40, 160))
        sys = round(self._wander("sys", 4, 80, 200))
        dia = round(min(self._wander("dia", 3, 40, 120), sys - 20))
        mean = round(dia + (sys - dia) / 3)
        temp = round(self._wander("temp", 0.1, 35.0, 40.5), 1)
        rr = round(self._wander("rr", 1, 6, 40))
        address = f"{p.street}^^{p.city}^{p.state}^{p.zip_code}"
        percent, bpm, mmhg = (
            "262688^MDC_DIM_PERCENT^MDC",
            "264864^MDC_DIM_BEAT_PER_MIN^MDC",
            "266016^MDC_DIM_MMHG^MDC",
        )
        rows = [
            ("69965", "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS", "1.0.0.0", "", "", ""),
            ("69642", "MDC_DEV_ANALY_SAT_O2_VMD", "1.1.0.0", "", "", ""),
            ("150456", "MDC_PULS_OXIM_SAT_O2", "1.1.1.1", "NM", str(spo2), percent),
            ("149530", "MDC_PULS_OXIM_PULS_RATE", "1.1.1.2", "NM", str(pr), bpm),
            ("150021", "MDC_PRESS_BLD_NONINV_SYS", "1.2.1.1", "NM", str(sys), mmhg),
            ("150022", "MDC_PRESS_BLD_NONINV_DIA", "1.2.1.2", "NM", str(dia), mmhg),
            ("150023", "MDC_PRESS_BLD_NONINV_MEAN", "1.2.1.3", "NM", str(mean), mmhg),
            ("150364", "MDC_TEMP_BODY", "1.3.1.1", "NM", f"{temp:.1f}", "268192^MDC_DIM_DEGC^MDC"),
            (
                "151562",
                "MDC_RESP_RATE",
                "1.4.1.1",
                "NM",
                str(rr),
                "264928^MDC_DIM_RESP_PER_MIN^MDC",
            ),
        ]
        segments = [
            f"MSH|^~\\&|WardlinkSim^{EUI64}^EUI-64||||{stamp}||ORU^R01^ORU_R01|SIM{self.sequence:08d}"
            "|P|2.6|||NE|AL||||||IHE PCD ORU-R01 2006^HL7^2.16.840.1.113883.9.n.m^HL7",
            f"PID|||{p.mrn}^^^Fairhaven General^MR~{p.ssn}^^^SSA^SS||"
            f"{p.family_name}^{p.given_name}^{p.middle_initial}||{p.dob_compact}|{p.sex}|||{address}"
            f"||{p.phone}|||||{p.account_number}",
            f"NK1|1|{kin.family_name}^{kin.given_name}"
            f"|{kin.relationship_code}^{kin.relationship}^HL70063|{address}|{kin.phone}",
            f"PV1||I|{p.ward}^{p.room}^{p.bed}^Fairhaven General||||"
            f"{p.attending_id}^{p.attending_family}^{p.attending_given}||||||||||||{p.visit_number}",
            f"OBR|1|SIM{self.sequence:08d}^WardlinkSim^{EUI64}^EUI-64"
            f"||182777000^monitoring of patient^SNOMED-CT|||{stamp}",
        ]
        for index, (code, ref, path, kind, value, unit) in enumerate(rows, start=1):
            status = "R" if kind else "X"
            time = stamp if kind else ""
            segments.append(
                f"OBX|{index}|{kind}|{code}^{ref}^MDC|{path}|{value}|{unit}|||||{status}|||{time}"
                f"||||{EUI64}^EUI-64"
            )
        return "\r".join(segments) + "\r"

    def phi_canaries(self) -> tuple[str, ...]:
        return self.patient.canaries()

    # -- sending -------------------------------------------------------------------------

    async def _await_ack(self, reader: asyncio.StreamReader) -> str | None:
        try:
            frame = await asyncio.wait_for(reader.readuntil(END_BLOCK), self.ack_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        return _ack_code(frame)

    async def _send_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frame: bytes
    ) -> bool:
        writer.write(frame)
        await writer.drain()
        code = await self._await_ack(reader)
        if code is not None:
            self.acks.append(code)
        return code == "AA"

    async def _client_connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._client is None or self._client[1].is_closing():
            assert self.options.connect is not None
            host, port = self.options.connect
            self._client = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
        return self._client

    async def send_one(self) -> None:
        frame = wrap(self.next_message().encode("utf-8"))
        if self.pty is not None:
            self.pty.write(frame)
            data = b""
            while END_BLOCK not in data:
                more = await self.pty.read(self.ack_timeout)
                if not more:
                    return
                data += more
            code = _ack_code(data[: data.index(END_BLOCK)])
            if code is not None:
                self.acks.append(code)
            if code == "AA":
                self.delivered += 1
            return
        if self.options.connect is not None:
            try:
                reader, writer = await self._client_connection()
                if await self._send_tcp(reader, writer, frame):
                    self.delivered += 1
            except (OSError, ConnectionError, TimeoutError):
                await self._drop_client()
                raise
            return
        for writer, reader in list(self._peers.items()):
            try:
                if await self._send_tcp(reader, writer, frame):
                    self.delivered += 1
            except (OSError, ConnectionError):
                self._peers.pop(writer, None)
                writer.close()

    async def write_raw(self, data: bytes) -> None:
        if self.pty is not None:
            self.pty.write(data)
        elif self.options.connect is not None:
            _reader, writer = await self._client_connection()
            writer.write(data)
            await writer.drain()
        else:
            for writer in list(self._peers):
                writer.write(data)

    async def _drop_client(self) -> None:
        if self._client is not None:
            writer = self._client[1]
            self._client = None
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def disconnect(self) -> None:
        if self.pty is not None:
            await self.pty.reopen()
            return
        await self._drop_client()
        for writer in list(self._peers):
            self._peers.pop(writer, None)
            writer.close()

    async def close(self) -> None:
        if self.pty is not None:
            self.pty.close()
        else:
            await self.disconnect()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(OSError):
                await self._server.wait_closed()
            self._server = None
