"""What a gateway installs, installed the way Greengrass installs it, with the network off.

The components are built (``wardlink components build``, the code GDK's custom
build runs), each recipe's Install script runs against the build's artifacts in
an emulated Greengrass root inside a network namespace with no interfaces, and
the host's pip configuration (find-links, extra indexes) left in the environment
to prove it is ignored. Then, from the installed environment alone:

* every module of ``wardlink-core`` and ``wardlink-edge`` imports, and nothing of
  the cloud or the dev kit is there;
* the installed distributions are exactly the lock's, plus the two Wardlink wheels;
* ``wardlink`` offers only the gateway's commands;
* each component's Run command starts under the nucleus emulator with a serial
  oximeter on a pty next to a Bluetooth LE cuff: the oximeter's telemetry reaches
  the broker, and the cuff, with no Bluetooth adapter on this machine, is reported
  faulted with its reason while the proxy keeps running.

A test that needs a network namespace runs as root in CI; with ``CI=true`` it
fails instead of skipping when it cannot make one.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from tests.greengrass.support import TIMEOUT, BrokerPeer, start_emulator
from tests.support.mosquitto import Mosquitto
from wardlink.codecs.nonin2 import encode_packet
from wardlink.nucleus.runner import install_component

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ("com.wardlink.DeviceProxy", "com.wardlink.Uplink")
THING = "install-gateway"
GATEWAY_COMMANDS = {"run", "devices", "phi", "spool", "gateway", "ui"}
FOREIGN_PACKAGES = (
    "cloudapi", "detectors", "sim", "demo", "devtools", "localcloud", "nucleus",
    "packaging", "phieval",
)  # fmt: skip
PYTHON_312 = Path.home() / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3.12"

INSPECT = r"""
import importlib, importlib.metadata as md, importlib.util, json
modules = []
for dist in ("wardlink-core", "wardlink-edge"):
    for file in md.distribution(dist).files or ():
        if file.suffix == ".py" and file.parts[0] == "wardlink":
            name = ".".join(file.with_suffix("").parts).removesuffix(".__init__")
            importlib.import_module(name)
            modules.append(name)
present = [n for n in FOREIGN if importlib.util.find_spec("wardlink." + n) is not None]
dists = sorted(d.metadata["Name"].lower().replace("_", "-") for d in md.distributions())
print(json.dumps({"modules": modules, "foreign": present, "dists": dists}))
"""


def _offline_wrapper() -> list[str]:
    """A prefix that runs a command in a new network namespace with no interfaces."""
    for wrapper in (["unshare", "-n"], ["unshare", "-r", "-n"]):
        if shutil.which(wrapper[0]) is None:
            continue
        probe = subprocess.run([*wrapper, "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return wrapper
    message = "cannot create a network namespace (needs root or user namespaces)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI runs as root and must run this test")
    pytest.skip(message)


def _locked_linux_distributions(python: str) -> set[str]:
    """Names of the lock's distributions that apply to Linux CPython ``python``."""
    environment = {
        "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
        "platform_python_implementation": "CPython", "implementation_name": "cpython",
        "python_version": python, "python_full_version": f"{python}.0",
    }  # fmt: skip
    names: set[str] = set()
    logical = ""
    for line in (REPO / "components" / "requirements.lock").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "--hash")):
            continue
        logical = stripped.rstrip("\\").strip()
        requirement = Requirement(logical.split(" --hash")[0])
        marker = requirement.marker or Marker("python_version >= '0'")
        if marker.evaluate(environment):
            names.add(requirement.name.lower().replace("_", "-"))
    return names


@pytest.fixture(scope="module")
def build(gateway_build: Path) -> Path:
    return gateway_build


def _pythons() -> list[Path]:
    found = [Path(sys.executable).resolve()]
    if PYTHON_312.is_file():
        found.append(PYTHON_312)
    return found


def _python_path(tmp: Path, python: Path) -> str:
    """A PATH whose ``python3`` is ``python`` (the gateway's system interpreter)."""
    bin_dir = tmp / "python-bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "python3"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(python)
    return f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"


def _install(build: Path, root: Path, component: str, path: str) -> None:
    version = "0.1.0"
    result = install_component(
        component,
        recipes_dir=build / "recipes",
        artifacts_dir=build / "artifacts" / component / version,
        root_dir=root,
        thing_name=THING,
        wrapper=_offline_wrapper(),
        # the host's pip set-up stays in the environment: the install must ignore it
        env={
            **os.environ,
            "PATH": path,
            "PIP_FIND_LINKS": "/opt/wheels",
            "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        },
    )
    assert result.returncode == 0, result.output


@pytest.mark.integration
@pytest.mark.parametrize("python", _pythons(), ids=lambda p: p.name)
def test_install_offline_from_the_artifacts_alone(
    build: Path, tmp_path: Path, python: Path
) -> None:
    root = tmp_path / "gg"
    path = _python_path(tmp_path, python)
    for component in COMPONENTS:
        _install(build, root, component, path)
        venv = root / "work" / component / "venv"
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", f"FOREIGN = {FOREIGN_PACKAGES!r}\n{INSPECT}"],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        assert report["foreign"] == []
        assert "wardlink.gateway.proxy" in report["modules"]
        assert "wardlink.uplink.component" in report["modules"]
        assert "wardlink.ui.component" in report["modules"]
        version = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        expected = _locked_linux_distributions(version) | {"wardlink-core", "wardlink-edge"}
        assert set(report["dists"]) - {"pip", "setuptools"} == expected
        # the SOUP list names every third-party distribution the gateway installs
        soup = (build / "sbom" / component / "soup.md").read_text()
        rows = [r for r in soup.splitlines() if r.startswith("| ") and not r.startswith("| Item")]
        listed_soup = {row.split("|")[1].strip() for row in rows}
        assert expected - {"wardlink-core", "wardlink-edge"} <= listed_soup
        sbom = json.loads((build / "sbom" / component / "sbom.cdx.json").read_text())
        in_sbom = {c["name"] for c in sbom["components"]}
        assert expected - {"wardlink-core", "wardlink-edge"} <= in_sbom
        helped = subprocess.run(
            [str(venv / "bin" / "wardlink"), "--help"], capture_output=True, text=True, check=True
        )
        listed = {line.split()[0] for line in helped.stdout.splitlines() if line.startswith("    ")}
        assert listed == GATEWAY_COMMANDS
        # a second Install with the same build changes nothing
        _install(build, root, component, path)
    if python == _pythons()[0]:
        # the GatewayUI installs the same runtime, once here; its Run command is there
        # (it runs under the emulator in test_gateway_ui)
        _install(build, root, "com.wardlink.GatewayUI", path)
        wardlink = root / "work" / "com.wardlink.GatewayUI" / "venv" / "bin" / "wardlink"
        helped = subprocess.run(
            [str(wardlink), "run", "--help"], capture_output=True, text=True, check=True
        )
        assert "ui" in helped.stdout.split("{", 1)[1].split("}", 1)[0].split(","), helped.stdout


CUFF_PROFILE = """\
name: site-ble-cuff
manufacturer: Any
model: Bluetooth SIG Blood Pressure Profile cuff
codec: ble:blood-pressure-measurement
transport:
  kind: ble
  service_uuid: "1810"
  characteristics:
    - {uuid: "2A35", role: indicate, name: blood-pressure-measurement}
mode: notify
expected_interval_s: 3600
metrics:
  systolic: {mdc_code: 150021, mdc_name: MDC_PRESS_BLD_NONINV_SYS, unit: "mm[Hg]"}
"""


def _deployment(slave_path: str, cuff_profile: Path) -> dict[str, object]:
    proxy = {
        "devices": [
            {"deviceId": "bed-3-spo2", "model": "Nonin OEM III", "codec": "serial:nonin-2",
             "serial": {"path": slave_path, "baudrate": 9600}},
            {"deviceId": "bed-3-bp", "profile": str(cuff_profile),
             "ble": {"address": "C0:57:00:00:18:10"}},
        ]
    }  # fmt: skip
    return {
        "targetArn": f"arn:aws:iot:us-east-1:111122223333:thing/{THING}",
        "components": {
            "com.wardlink.DeviceProxy": {
                "componentVersion": "0.1.0",
                "configurationUpdate": {"merge": json.dumps(proxy)},
            },
            "com.wardlink.Uplink": {
                "componentVersion": "0.1.0",
                "configurationUpdate": {"merge": json.dumps({"uplink": {"heartbeatSeconds": 1}})},
            },
        },
    }


def _start(component: str, build: Path, running: object, config: Path, log: Path) -> Any:
    emulator = running.emulator  # type: ignore[attr-defined]
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "wardlink.cli.main", "gg", "run", component,
             "--socket", str(running.socket_path),  # type: ignore[attr-defined]
             "--tokens", str(emulator.settings.tokens_out),
             "--root", str(emulator.settings.root_dir),
             "--recipes", str(build / "recipes"), "--thing-name", THING, "--config", str(config)],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.mark.integration
def test_installed_components_run_with_serial_and_ble_devices(
    build: Path,
    tmp_path: Path,
    broker: Mosquitto,
    peer: BrokerPeer,
    pty_device: tuple[int, str],
) -> None:
    master, slave_path = pty_device
    cuff = tmp_path / "cuff.yaml"
    cuff.write_text(CUFF_PROFILE)
    config = tmp_path / "deployment.json"
    config.write_text(json.dumps(_deployment(slave_path, cuff)))
    path = _python_path(tmp_path, Path(sys.executable).resolve())
    root = tmp_path / "gg"
    for component in COMPONENTS:
        _install(build, root, component, path)
    running = start_emulator(
        tmp_path, recipes=build / "recipes", mqtt_url=broker.url, thing_name=THING, config=config
    )
    peer.subscribe(f"wardlink/v1/{THING}/#")
    logs = {name: tmp_path / f"{name}.log" for name in COMPONENTS}
    processes = []
    try:
        for component in ("com.wardlink.Uplink", "com.wardlink.DeviceProxy"):
            processes.append(_start(component, build, running, config, logs[component]))
        seen: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 60
        beat = 0
        while "telemetry" not in seen:
            assert time.monotonic() < deadline, {n: p.read_text()[-3000:] for n, p in logs.items()}
            for process in processes:
                assert process.poll() is None, {n: p.read_text()[-3000:] for n, p in logs.items()}
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(master, encode_packet(60 + beat % 30, 95 + beat % 4))
            beat += 1
            try:
                topic, payload = peer.next_message(timeout=0.2)
            except queue.Empty:
                continue
            seen.setdefault(topic.rsplit("/", 1)[1], json.loads(payload))
        assert {item["device_id"] for item in seen["telemetry"]["items"]} == {"bed-3-spo2"}
        proxy_log = ""
        deadline = time.monotonic() + 30
        while "bed-3-bp" not in proxy_log or "fault" not in proxy_log.lower():
            assert time.monotonic() < deadline, proxy_log[-3000:]
            time.sleep(0.2)
            proxy_log = logs["com.wardlink.DeviceProxy"].read_text()
        states = running.emulator.states
        assert states["com.wardlink.DeviceProxy"]["state"] == "RUNNING"
        assert states["com.wardlink.Uplink"]["state"] == "RUNNING"
        for process in processes:
            assert process.poll() is None
        # the components ran from the installed venvs, not from this interpreter
        for component in COMPONENTS:
            venv = root / "work" / component / "venv"
            assert (venv / "bin" / "wardlink").is_file()
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
        running.stop()
