"""The demo site: simulated devices, each read by a real gateway worker.

* two bedside pulse oximeters (Nonin OEM III, serial format #2) on ptys; the
  oximeter sends no patient data, so each is bound to its patient by a simulated
  ADT bed assignment that lives only in the proxy process;
* a point-of-care glucose meter (ASTM E1381/E1394) on a pty, whose P record names
  the patient;
* a bedside monitor sending IHE PCD-01 HL7 over MLLP to the gateway's listener,
  whose PID/NK1/PV1 segments carry the patient, relative and visit;
* a Bluetooth LE blood-pressure cuff (Bumble GATT server), read by the production
  bleak code through the Bumble backend;
* a Bluetooth thermometer nearby that no one has configured: the UI's scan finds it
  and a technician can add it.

Each worker runs with its own stop event, so that the UI's "remove device" stops
one of them, and a device added from the UI starts next to the others.

Every simulator carries canary PHI; the demo collects them to prove none leaves.
Devices are declared by the same built-in profiles a site would use; only the
ports differ.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from wardlink.gateway.ble_link import use_ble_backend
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.proxy import build_worker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import Connectivity, PatientContext, RelatedPerson
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import (
    BleDeviceConfig,
    DeviceConfig,
    SerialTransportConfig,
    TcpTransportConfig,
)
from wardlink.sim.ble_peripheral import shared_link
from wardlink.sim.bleak_bumble import BumbleCentral
from wardlink.sim.patients import SimulatedPatient
from wardlink.sim.registry import RunnableSimulator, SimOptions, create_simulator
from wardlink.transports.tcp import TcpListenerTransport


@dataclass
class SimulatedSite:
    workers: list[DeviceWorker] = field(default_factory=list)
    simulators: list[RunnableSimulator] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)
    monitor_listener: TcpListenerTransport | None = None
    monitor_seed: int = 0
    _sims_by_worker: list[RunnableSimulator | None] = field(default_factory=list)
    ble_central: BumbleCentral | None = None
    configs: dict[str, DeviceConfig] = field(default_factory=dict)  # the "deployment"
    retired: list[DeviceWorker] = field(default_factory=list)  # removed from the UI
    stop_all: asyncio.Event | None = None
    _runs: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=dict)

    def start_workers(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """Run every worker until ``stop`` (or until it is retired); their tasks."""
        self.stop_all = stop
        for worker in self.workers:
            if id(worker) not in self._runs:
                self._start(worker)
        return self.worker_tasks()

    def worker_tasks(self) -> list[asyncio.Task[None]]:
        return [task for _, task in self._runs.values()]

    def add_worker(self, worker: DeviceWorker, sim: RunnableSimulator | None = None) -> None:
        self.workers.append(worker)
        self._sims_by_worker.append(sim)
        if self.stop_all is not None:
            self._start(worker)

    async def retire(self, device_id: str) -> bool:
        """Stop a device's worker (the UI removed it); its counts stay in the summary."""
        for index, worker in enumerate(self.workers):
            if worker.identity.device_id == device_id:
                del self.workers[index]
                if index < len(self._sims_by_worker):
                    del self._sims_by_worker[index]
                self.retired.append(worker)
                run = self._runs.get(id(worker))
                if run is not None:
                    run[0].set()
                    await asyncio.gather(run[1], return_exceptions=True)
                return True
        return False

    def all_workers(self) -> list[DeviceWorker]:
        return [*self.workers, *self.retired]

    def _start(self, worker: DeviceWorker) -> None:
        own = asyncio.Event()
        task = asyncio.create_task(self._run_one(worker, own))
        self._runs[id(worker)] = (own, task)

    async def _run_one(self, worker: DeviceWorker, own: asyncio.Event) -> None:
        assert self.stop_all is not None
        relay = asyncio.ensure_future(self._relay(self.stop_all, own))
        try:
            await worker.run(own)
        finally:
            relay.cancel()

    @staticmethod
    async def _relay(stop: asyncio.Event, own: asyncio.Event) -> None:
        await stop.wait()
        own.set()

    def phi_canaries(self) -> list[str]:
        return sorted(set(self.canaries))

    def connected_devices(self) -> int:
        return sum(1 for w in self.workers if w.connectivity is Connectivity.CONNECTED)

    async def run_simulators(self, stop: asyncio.Event) -> None:
        """Run every simulator once the gateway has its ports open.

        pyserial discards pending input when it opens a port, like a real UART driver,
        so a device that talks before the gateway listens loses its first message (an
        ASTM sender would then wait out the 15 s E1381 reply timeout).
        """
        deadline = asyncio.get_running_loop().time() + 10
        for worker in self.workers:
            if worker.transport is self.monitor_listener:
                continue
            while (  # noqa: ASYNC110 - polls the port state
                not worker.transport.connected and asyncio.get_running_loop().time() < deadline
            ):
                await asyncio.sleep(0.05)
        if self.monitor_listener is not None:
            await asyncio.wait_for(self.monitor_listener.started.wait(), timeout=10)
            port = self.monitor_listener.address[1]
            monitor = create_simulator(
                "hl7-mllp",
                SimOptions(connect=("127.0.0.1", port), seed=self.monitor_seed, rate_hz=1.0),
            )
            await monitor.start()
            self.simulators.append(monitor)
            self._sims_by_worker[self.workers.index(self._monitor_worker())] = monitor
            self.canaries += monitor.phi_canaries()
        await asyncio.gather(*(sim.run(stop) for sim in self.simulators))

    def _monitor_worker(self) -> DeviceWorker:
        return next(w for w in self.workers if w.transport is self.monitor_listener)

    def _simulator_of(self, device_id: str) -> RunnableSimulator | None:
        for worker, sim in zip(self.workers, self._sims_by_worker, strict=False):
            if worker.identity.device_id == device_id:
                return sim
        return None

    def inject_sensor_fault(self, device_id: str, seconds: float) -> bool:
        """Fault injection: an oximeter's sensor comes off. True if it was done."""
        sim = self._simulator_of(device_id)
        unplug = getattr(sim, "unplug_sensor", None)
        if unplug is None:
            return False
        unplug(seconds)
        return True

    def silence(self, device_id: str, seconds: float = 3600) -> bool:
        """Fault injection: the device stays connected but stops sending."""
        sim = self._simulator_of(device_id)
        faults = getattr(sim, "faults", None)
        if faults is None:
            return False
        faults.go_silent(seconds)
        return True

    async def close(self) -> None:
        for sim in self.simulators:
            with contextlib.suppress(Exception):
                await sim.close()
        if self.ble_central is not None:
            with contextlib.suppress(Exception):
                await self.ble_central.close()
            use_ble_backend(None)


BLE_LINK = "wardlink-demo-air"
BLE_CUFF_ADDRESS = "C0:57:00:00:18:10"
BLE_THERMOMETER_ADDRESS = "C0:57:00:00:18:09"


async def _add_ble_cuff(
    site: SimulatedSite, policy: RedactionPolicy, writer: SpoolWriter, workdir: Path, seed: int
) -> None:
    """A Bluetooth blood-pressure cuff, on an in-process Bumble 'air' shared with bleak.

    The gateway side is the production bleak code on the Bumble backend; the cuff is
    a Bumble GATT server indicating a measurement every 2 s (a fast cuff, for show).
    """
    central = BumbleCentral.on_link(shared_link(BLE_LINK))
    site.ble_central = central
    use_ble_backend(central.bleak_backends())
    cuff = create_simulator(
        "ble-blood-pressure",
        SimOptions(
            seed=seed + 30,
            rate_hz=0.5,
            settings={"link": BLE_LINK, "address": BLE_CUFF_ADDRESS},
        ),
    )
    await cuff.start()
    config = DeviceConfig(
        device_id="bed-4-bp-cuff",
        profile="sim-ble-blood-pressure",
        ble=BleDeviceConfig(address=BLE_CUFF_ADDRESS),
        serial_number="SIM-BLE-BP-0001",
        firmware_version="3.0.1",
    )
    worker = build_worker(config, policy, writer, state_dir=workdir / "state")
    site.configs[config.device_id] = config
    site.workers.append(worker)
    site.simulators.append(cuff)
    site._sims_by_worker.append(cuff)
    site.canaries += cuff.phi_canaries()
    # Nearby, not configured: for the UI's scan-and-add.
    thermometer = create_simulator(
        "ble-thermometer",
        SimOptions(
            seed=seed + 40,
            rate_hz=0.5,
            settings={"link": BLE_LINK, "address": BLE_THERMOMETER_ADDRESS},
        ),
    )
    await thermometer.start()
    site.simulators.append(thermometer)
    site.canaries += thermometer.phi_canaries()


def adt_context(patient: SimulatedPatient) -> PatientContext:
    """What an ADT feed would tell the gateway about the patient in a bed."""
    kin = patient.next_of_kin
    return PatientContext(
        patient_id=patient.mrn,
        family_name=patient.family_name,
        given_name=patient.given_name,
        birth_date=patient.birth_date.isoformat(),
        sex=patient.sex,
        phone=patient.phone,
        address=f"{patient.street}, {patient.city}, {patient.state} {patient.zip_code}",
        location=f"{patient.ward}^{patient.room}^{patient.bed}",
        related=(RelatedPerson(relationship="next of kin", name=kin.full_name, phone=kin.phone),),
    )


async def build_site(
    workdir: Path, policy: RedactionPolicy, writer: SpoolWriter, seed: int = 7
) -> SimulatedSite:
    """Create the simulators (devices open) and the workers that will read them."""
    site = SimulatedSite()
    devdir = workdir / "dev"
    devdir.mkdir(parents=True, exist_ok=True)

    for index in (1, 2):
        sim = create_simulator(
            "nonin-2", SimOptions(pty_link=devdir / f"oximeter-{index}", seed=seed + index)
        )
        await sim.start()
        patient: SimulatedPatient = sim.patient  # type: ignore[attr-defined]
        device = DeviceConfig(
            device_id=f"bed-{index}-oximeter",
            profile="sim-nonin-oem3",
            serial=SerialTransportConfig(path=str(devdir / f"oximeter-{index}")),
            serial_number=f"SIM-NONIN-{index:04d}",
            firmware_version="2.4.0",
        )
        site.configs[device.device_id] = device
        site.workers.append(build_worker(device, policy, writer, patient=adt_context(patient)))
        site.simulators.append(sim)
        site._sims_by_worker.append(sim)
        site.canaries += [*sim.phi_canaries(), *adt_context(patient).values()]

    glucose = create_simulator(
        # An analyzer uploading its queued results: one result set a second.
        "astm-e1381",
        SimOptions(pty_link=devdir / "glucose", seed=seed + 10, rate_hz=1.0),
    )
    await glucose.start()
    config = DeviceConfig(
        device_id="poc-glucose-1",
        profile="sim-astm-glucose",
        serial=SerialTransportConfig(path=str(devdir / "glucose")),
        serial_number="SIM-GLU-0001",
        firmware_version="1.2.0.4",
    )
    site.configs[config.device_id] = config
    site.workers.append(build_worker(config, policy, writer))
    site.simulators.append(glucose)
    site._sims_by_worker.append(glucose)
    site.canaries += glucose.phi_canaries()

    await _add_ble_cuff(site, policy, writer, workdir, seed)

    listener = TcpListenerTransport("127.0.0.1", 0)
    config = DeviceConfig(
        device_id="bed-3-monitor",
        profile="sim-hl7-monitor-tcp",
        tcp=TcpTransportConfig(port=0),
        serial_number="SIM-PCD01-0001",
        firmware_version="5.1",
    )
    site.configs[config.device_id] = config
    monitor_worker = build_worker(config, policy, writer, transport=listener)
    site.workers.append(monitor_worker)
    site._sims_by_worker.append(None)  # the monitor connects once the listener is up
    site.monitor_listener = listener
    site.monitor_seed = seed + 20
    return site
