"""The simulated devices of the demo site and the gateway workers that read them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tty
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from wardlink.codecs.nonin2 import encode_packet
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.proxy import build_worker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import Connectivity, PatientContext
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import DeviceConfig, SerialTransportConfig

SimulatorLoop = Callable[[asyncio.Event], Awaitable[None]]

_DEMO_PATIENTS = (
    PatientContext(
        patient_id="MRN-40271953",
        family_name="Okonkwo-Lindqvist",
        given_name="Marisol",
        birth_date="1948-03-17",
        phone="(617) 555-0142",
        address="18 Harborview Terrace, Quincy, MA 02169",
    ),
    PatientContext(
        patient_id="MRN-55810264",
        family_name="Thorvaldsen",
        given_name="Ezekiel",
        birth_date="1939-11-02",
        phone="617-555-0199",
        address="7 Willowmere Court, Braintree, MA 02184",
    ),
)


@dataclass
class SimulatedSite:
    workers: list[DeviceWorker] = field(default_factory=list)
    simulators: list[SimulatorLoop] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)
    _fds: list[int] = field(default_factory=list)

    def phi_canaries(self) -> list[str]:
        return sorted(set(self.canaries))

    def connected_devices(self) -> int:
        return sum(1 for w in self.workers if w.connectivity is Connectivity.CONNECTED)

    async def run_simulators(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(sim(stop) for sim in self.simulators))

    async def close(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _nonin_loop(master: int, seed: int, ready: Callable[[], bool]) -> SimulatorLoop:
    """A Nonin OEM III at its native rate: 3 packets (HR + SpO2) per second."""
    rng = random.Random(seed)

    async def loop(stop: asyncio.Event) -> None:
        while not ready() and not stop.is_set():  # noqa: ASYNC110 - polls the port state
            await asyncio.sleep(0.05)
        heart_rate, spo2 = 72.0, 97.0
        while not stop.is_set():
            heart_rate = min(140, max(45, heart_rate + rng.uniform(-2, 2)))
            spo2 = min(100, max(85, spo2 + rng.uniform(-0.5, 0.5)))
            with contextlib.suppress(OSError):
                os.write(master, encode_packet(round(heart_rate), round(spo2)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1 / 3)

    return loop


def _connected_probe(worker: DeviceWorker) -> Callable[[], bool]:
    def probe() -> bool:
        return worker.transport.connected

    return probe


async def build_site(
    workdir: Path, policy: RedactionPolicy, writer: SpoolWriter, seed: int = 7
) -> SimulatedSite:
    site = SimulatedSite()
    for index, patient in enumerate(_DEMO_PATIENTS, start=1):
        master, slave = os.openpty()
        tty.setraw(slave)
        site._fds += [master, slave]
        device = DeviceConfig(
            device_id=f"bed-{index}-oximeter",
            model="Nonin OEM III (simulated)",
            manufacturer="Nonin",
            codec="serial:nonin-2",
            serial=SerialTransportConfig(path=os.ttyname(slave), baudrate=9600),
            expected_interval_s=1.0,
            serial_number=f"SIM-NONIN-{index:04d}",
            firmware_version="2.4.0",
        )
        # The bedside oximeter sends no patient data; the patient comes from the
        # (simulated) ADT bed assignment, which lives only in the proxy process.
        worker = build_worker(device, policy, writer, patient=patient)
        site.workers.append(worker)
        site.canaries += patient.values()
        site.simulators.append(_nonin_loop(master, seed + index, _connected_probe(worker)))
    return site
