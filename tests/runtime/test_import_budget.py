"""The components' import diet: each loads only what its configuration needs.

A gateway component's resident memory is mostly the modules it imports (see
benchmarks/bench_component_memory.py), so the rule "import only what each
component needs" is pinned here by what ends up in ``sys.modules`` - never by
timings or byte counts. Each check runs in a fresh interpreter:

* importing what ``wardlink run uplink|proxy`` imports, and
* starting both components under the nucleus emulator, the DeviceProxy with two
  serial devices (no BLE, no HL7) and a pulse oximeter streaming on a pty, then
  reading ``sys.modules`` from the running processes.

Neither may load the AWS SDK for Python (the Uplink signs cloud API calls only
when an API is configured), BLE stacks, the HL7 parser, or dev-kit-only packages;
and a running component holds no OpenSSL (``wardlink.runtime.no_openssl``) and no
``importlib.metadata`` (``wardlink.runtime.lean``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tty
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.greengrass.support import TIMEOUT, RunningEmulator, start_emulator
from wardlink.codecs.nonin2 import encode_packet
from wardlink.spool import Spool

#: Never in a component that has no BLE or HL7 device and no cloud API configured.
FORBIDDEN = ("botocore", "boto3", "bleak", "dbus_fast", "bumble", "hl7", "faker", "moto")
#: OpenSSL's modules: ``wardlink run`` starts a component without them (about 4.5 MB).
OPENSSL = ("ssl", "_ssl", "_hashlib")
#: ``importlib.metadata`` and what it brings: sub-commands and profile packages are found
#: by ``wardlink.cli.entry_points``, pydantic's plugins by ``wardlink.runtime.lean``.
METADATA = ("importlib.metadata", "email", "csv")
#: The Uplink handles sealed records only: no device, PHI-policy or configuration-file code.
UPLINK_FORBIDDEN = (
    "yaml",
    "serial",
    "wardlink.codecs",
    "wardlink.gateway",
    "wardlink.phi.policy",
    "wardlink.phi.hl7_redact",
    "wardlink.profiles",
    "wardlink.transports",
    "wardlink.cloudclient",
)
#: Codecs and transports of media the proxy's configuration does not use.
PROXY_FORBIDDEN = (
    "wardlink.codecs.hl7_mllp",
    "wardlink.codecs.ble_glucose",
    "wardlink.codecs.ble_plx",
    "wardlink.transports.ble",
    "wardlink.gateway.ble_link",
    "wardlink.cloudclient",
)

PROXY = "com.wardlink.DeviceProxy"
UPLINK = "com.wardlink.Uplink"
THING = "import-budget-gw"


def loaded(modules: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    """The modules among ``modules`` that are, or are inside, a forbidden one."""
    names = tuple(forbidden)
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def modules_after(code: str) -> list[str]:
    """``sys.modules`` of a fresh interpreter after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    modules: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return modules


# -- what the Run commands import ---------------------------------------------------------

RUN_COMMAND = """
from wardlink.cli.main import build_parser
build_parser("run")  # only the named command loads, as `wardlink run` does
import wardlink.cli.run, wardlink.runtime.runner, wardlink.bus.greengrass_ipc
"""


def test_the_uplink_imports_none_of_the_device_side() -> None:
    modules = modules_after(RUN_COMMAND + "import wardlink.uplink.component\n")
    assert "wardlink.uplink.component" in modules
    assert loaded(modules, FORBIDDEN + UPLINK_FORBIDDEN) == []


def test_the_proxy_imports_only_the_codecs_it_is_asked_for() -> None:
    modules = modules_after(
        RUN_COMMAND
        + """
import wardlink.gateway.proxy
from wardlink.codecs import get_codec
from wardlink.phi.policy import RedactionPolicy
get_codec("serial:nonin-2"), get_codec("serial:astm-e1381")
RedactionPolicy.default()
"""
    )
    assert {"wardlink.codecs.nonin2", "wardlink.codecs.astm_e1381"} <= set(modules)
    assert loaded(modules, FORBIDDEN + PROXY_FORBIDDEN) == []


#: The UI shows what the other components published: no device, spool or publisher code,
#: and what only a diagnostics bundle needs is loaded when one is made.
UI_FORBIDDEN = (
    "serial",
    "sqlite3",
    "wardlink.codecs",
    "wardlink.spool",
    "wardlink.uplink.publisher",
    "wardlink.transports",
    "importlib.metadata",
    "zipfile",
)


def test_the_ui_imports_only_what_its_pages_need() -> None:
    modules = modules_after(
        "from wardlink.runtime.lean import keep_pydantic_plugins_out\n"
        "keep_pydantic_plugins_out()  # as `wardlink run` does first\n"
        + RUN_COMMAND
        + "import wardlink.ui.component, wardlink.ui.app\n"
    )
    assert "wardlink.ui.app" in modules
    assert loaded(modules, FORBIDDEN + UI_FORBIDDEN) == []


def test_the_cloud_client_loads_botocore_only_when_it_is_used() -> None:
    modules = modules_after("import wardlink.cloudclient\nfrom wardlink.cloudclient import *\n")
    assert loaded(modules, ("botocore", "urllib3")) == []


def test_the_codec_index_finds_every_builtin_codec_without_importing_it() -> None:
    """``get_codec`` imports one module only if the index knows every built-in name."""
    modules = modules_after(
        """
import json, sys
from wardlink.codecs.registry import builtin_index
index = builtin_index()
assert "wardlink.codecs.hl7_mllp" not in sys.modules
from wardlink.codecs import all_codecs
missing = {n: c.__module__ for n, c in all_codecs().items() if index.get(n) != c.__module__}
assert not missing, missing
"""
    )
    assert "wardlink.codecs.hl7_mllp" in modules  # all_codecs did load everything


# -- the components, started ----------------------------------------------------------------

PROBE = """
import json, os, signal, sys

def dump(*_):
    with open(os.environ["IMPORT_PROBE_OUT"] + ".tmp", "w") as out:
        json.dump(sorted(sys.modules), out)
    os.replace(os.environ["IMPORT_PROBE_OUT"] + ".tmp", os.environ["IMPORT_PROBE_OUT"])

signal.signal(signal.SIGUSR1, dump)
from wardlink.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


@pytest.fixture
def ptys() -> Iterator[tuple[tuple[int, str], tuple[int, str]]]:
    opened = [_pty(), _pty()]
    try:
        yield (opened[0][0], opened[0][2]), (opened[1][0], opened[1][2])
    finally:
        for master, slave, _ in opened:
            os.close(master)
            os.close(slave)


def _start(
    running: RunningEmulator, component: str, command: str, out: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(running.socket_path),
        "SVCUID": running.emulator.tokens[component],
        "AWS_IOT_THING_NAME": THING,
        "IMPORT_PROBE_OUT": str(out),
    }
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ACCESS_KEY_ID"):
        env.pop(name, None)
    work = running.emulator.settings.root_dir / "work" / component
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", PROBE, "run", command],
            env=env,
            cwd=work,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def _modules_of(process: subprocess.Popen[bytes], out: Path, log: Path) -> list[str]:
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + TIMEOUT
    while not out.exists():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "no module list from the component"
        time.sleep(0.05)
    modules: list[str] = json.loads(out.read_text())
    return modules


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)


@pytest.mark.integration
def test_running_components_keep_to_their_diet(
    tmp_path: Path, ptys: tuple[tuple[int, str], tuple[int, str]]
) -> None:
    (oximeter, oximeter_path), (_, glucose_path) = ptys
    devices = [
        {"deviceId": "bed-1-spo2", "codec": "serial:nonin-2", "model": "Nonin OEM III"}
        | {"serial": {"path": oximeter_path, "baudrate": 9600}},
        {"deviceId": "poc-glucose-1", "codec": "serial:astm-e1381", "model": "POC meter"}
        | {"serial": {"path": glucose_path, "baudrate": 9600}},
    ]
    config = tmp_path / "deployment.json"
    config.write_text(
        json.dumps(
            {
                PROXY: {"devices": devices},
                UPLINK: {"uplink": {"heartbeatSeconds": 1, "drainTimeoutSeconds": 0}},
            }
        )
    )
    running = start_emulator(tmp_path, thing_name=THING, config=config)
    spool_path = running.emulator.settings.root_dir / "work" / UPLINK / "spool" / "wardlink.sqlite3"
    paths = {
        name: (tmp_path / f"{name}.modules.json", tmp_path / f"{name}.log")
        for name in ("uplink", "proxy")
    }
    processes = {
        name: _start(running, component, name, *paths[name])
        for name, component in (("uplink", UPLINK), ("proxy", PROXY))
    }
    try:
        deadline = time.monotonic() + 30
        telemetry = 0
        while telemetry == 0 or len(running.emulator.states) < 2:
            for name, process in processes.items():
                assert process.poll() is None, paths[name][1].read_text()[-3000:]
            assert time.monotonic() < deadline, {
                n: p[1].read_text()[-2000:] for n, p in paths.items()
            }
            try:
                os.write(oximeter, encode_packet(72, 97))
            except BlockingIOError:
                pass
            time.sleep(0.1)
            if spool_path.exists():
                spool = Spool(spool_path)
                telemetry = spool.stats().depth_by_kind.get("telemetry", 0)
                spool.close()
        assert {s["state"] for s in running.emulator.states.values()} == {"RUNNING"}
        uplink = _modules_of(processes["uplink"], *paths["uplink"])
        proxy = _modules_of(processes["proxy"], *paths["proxy"])
    finally:
        for process in processes.values():
            _stop(process)
        running.stop()
    assert "wardlink.uplink.publisher" in uplink
    assert {"wardlink.codecs.nonin2", "wardlink.codecs.astm_e1381"} <= set(proxy)
    assert loaded(uplink, FORBIDDEN + UPLINK_FORBIDDEN + OPENSSL + METADATA) == []
    assert loaded(proxy, FORBIDDEN + PROXY_FORBIDDEN + OPENSSL + METADATA) == []
