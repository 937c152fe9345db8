"""Third-party loggers on the device path never write what they handle.

The fault: libraries log the data they move - python-hl7 a whole raw field at ERROR
(under a logger named after its file, ``.../hl7/util.py``), bleak characteristic
values at DEBUG, asyncio the bytes in a failed callback's arguments. The log filter
keeps such a record's format string and numbers and withholds its strings, bytes,
quoted literals and exception message. No patient context is held in these runs: this
defence does not depend on knowing the patient.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from wardlink.phi.logfilter import RAW_DATA_LOGGERS, raw_data_logger

CANARIES = ("Oyelaran", "Quist", "Zhao", "Brannoch", "CCU^353^B")

SCRIPT = r"""
import asyncio, io, logging, sys

def emit():
    logging.getLogger("/srv/gg/site-packages/hl7/util.py").error(
        "Error decoding value [%s], field [%s], offset [%s]", "Q", "Oyelaran-Quist\\Q\\", 16
    )
    logging.getLogger("bleak.backends.bluezdbus.client").debug(
        "Read Characteristic %04X | %s: %r", 0x2A, "/org/bluez/hci0/dev_C0", b"Zhao Brannoch"
    )
    logging.getLogger("pySerial.socket").debug("read %r", bytearray(b"PV1||I|CCU^353^B"))
    logging.getLogger("bleak").debug(f"Write Characteristic 2a52 : {b'Oyelaran-Quist'}")
    logging.getLogger("awsiot.eventstreamrpc").debug("%d bytes: %s", "Brannoch", 7)  # bad format
    try:
        int("Oyelaran-Quist")
    except ValueError:
        logging.getLogger("bleak.backends.device").exception("parse failed")
    loop = asyncio.new_event_loop()
    loop.call_exception_handler({
        "message": "Exception in callback",
        "handle": asyncio.Handle(print, (b"PID|||Oyelaran-Quist",), loop),
    })
    loop.close()

before = io.StringIO()
plain = logging.StreamHandler(before)
logging.getLogger().addHandler(plain)
logging.getLogger().setLevel(logging.DEBUG)
stderr, sys.stderr = sys.stderr, before  # logging's own error report quotes arguments too
emit()  # the fault: plain logging writes what the libraries hand it
sys.stderr = stderr
logging.getLogger().removeHandler(plain)

from wardlink.runtime.logs import configure_logging
after = io.StringIO()
configure_logging("com.wardlink.DeviceProxy", level="DEBUG", stream=after)
emit()
print(json.dumps({"before": before.getvalue(), "after": after.getvalue()}))
"""


def test_raw_data_loggers_keep_their_shape_and_lose_their_data() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + textwrap.dedent(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for canary in CANARIES:
        assert canary in out["before"], canary  # reproduced
        assert canary not in out["after"], canary
        assert canary not in result.stderr
    records = [json.loads(line) for line in out["after"].splitlines()]
    messages = [r["message"] for r in records]
    assert "Error decoding value [<str, 1 chars>], field [<str, 17 chars>], offset [16]" in (
        messages
    )
    assert "Read Characteristic 002A | <str, 22 chars>: <bytes, 13 bytes>" in messages
    assert "read <bytearray, 16 bytes>" in messages
    assert "Write Characteristic 2a52 : <withheld>" in messages
    assert any(m.startswith("%d bytes: %s") for m in messages)  # a bad format, no crash
    failed = next(r for r in records if r["message"] == "parse failed")
    assert failed["exception"].endswith("ValueError: <message withheld>")
    assert "Traceback" in failed["exception"] and "in emit" in failed["exception"]
    assert any(m.startswith("Exception in callback\nhandle: <Handle print(") for m in messages)


def test_which_loggers_are_raw_data_loggers() -> None:
    assert raw_data_logger("bleak") is raw_data_logger("bleak.backends.bluezdbus.client")
    assert raw_data_logger("/usr/lib/python3/site-packages/hl7/containers.py") is not None
    assert raw_data_logger("C:\\py\\Lib\\site-packages\\hl7\\util.py") is not None
    assert raw_data_logger("bleakish") is None
    assert raw_data_logger("wardlink.transports.ble") is None  # ours: scrubbed, not withheld
    assert all(rule.reason for rule in RAW_DATA_LOGGERS)
