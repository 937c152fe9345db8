"""Diagnostics stay readable: device paths, codec names and broker hosts survive the filter.

The fault: the text scrubber, tuned for clinical notes, turned ``/dev/ttyUSB7`` into
``/[NAME]/ttyUSB7``, a codec name into ``[DEVICE_ID]`` (it reads ``serial:`` as a
labelled serial number) and a broker's address into ``[IP]``, leaving technicians
blind. The log filter sets these operational tokens aside before scrubbing - without
giving up recall: patient values and PHI next to them still go.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import wardlink.codecs.nonin2  # noqa: F401 - registers serial:nonin-2 with the filter
from wardlink.model import PatientContext
from wardlink.phi.logfilter import KEEP_RULES, scrub_text
from wardlink.phi.scrubber import Scrubber

OPERATIONAL = [
    "opened /dev/ttyUSB7 at 9600 baud",
    "port /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0 gone",
    "port /dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0 found",
    "codec serial:nonin-2 on device ox-3",
    "connecting to broker 10.20.0.5:8883",
    "broker 10.20.0.5 unreachable",
    "uplink to mqtts://broker.ward.example:8883 up",
    "endpoint a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com:8883 refused",
    "listening on 0.0.0.0:2575",
]


def test_the_scrubber_alone_hides_them() -> None:
    scrubber = Scrubber()
    # (the fail-closed vocabulary now knows "dev"; a by-id path still suffers)
    assert "/dev/serial/by-id/usb-FTDI_" not in scrubber.scrub(OPERATIONAL[1])
    assert scrubber.scrub("codec serial:nonin-2") == "codec [DEVICE_ID]"
    assert scrubber.scrub("connecting to broker 10.20.0.5:8883") == "connecting to broker [IP]"


@pytest.mark.parametrize("line", OPERATIONAL)
def test_the_log_filter_keeps_them(line: str) -> None:
    assert scrub_text(line) == line


@pytest.mark.parametrize(
    ("line", "gone", "kept"),
    [
        ("Jane Doe moved off /dev/ttyUSB7", "Jane Doe", "/dev/ttyUSB7"),
        ("call (555) 123-4567 re serial:nonin-2", "555", "serial:nonin-2"),
        ("login from 10.2.3.4 via broker 10.20.0.5", "10.2.3.4", "10.20.0.5"),
        ("see https://portal.example.org/p/123 or mqtts://b.example:8883", "portal", "b.example"),
        ("S/N: AB123456 on /dev/ttyACM0", "AB123456", "/dev/ttyACM0"),
        ("serial:a50285bi", "a50285bi", ""),  # looks like a codec name, is not a known one
    ],
)
def test_recall_is_not_given_up_next_to_them(line: str, gone: str, kept: str) -> None:
    scrubbed = scrub_text(line)
    assert gone not in scrubbed
    assert kept in scrubbed


def test_a_live_patient_value_goes_even_inside_an_operational_token() -> None:
    patient = PatientContext(family_name="Vantrekker")
    assert scrub_text("/dev/serial/by-id/usb-Vantrekker_Monitor") == (
        "/dev/serial/by-id/usb-[PHI]_Monitor"
    )
    assert patient.family_name


def test_device_text_cannot_forge_a_kept_token() -> None:
    # The filter marks kept tokens with private-use characters; input ones are neutralised.
    assert "Jane" not in scrub_text("\ue000 Jane Doe \ue000 /dev/ttyS0")
    assert scrub_text("\ue000 /dev/ttyS0") == "\ufffd /dev/ttyS0"


def test_every_rule_says_why() -> None:
    assert all(rule.reason and rule.name for rule in KEEP_RULES)


def test_extras_set_by_the_code_stay_readable_through_the_component_logging_setup() -> None:
    script = """
        import io, json, logging
        from wardlink.runtime.logs import configure_logging
        import wardlink.codecs.hl7_mllp  # registers its codec names

        stream = io.StringIO()
        configure_logging("com.wardlink.DeviceProxy", stream=stream, keep=["gw-broker"])
        log = logging.getLogger("wardlink.transports.tcp")
        log.info("tcp listening", extra={"address": "10.1.20.3:2575"})
        log.warning("tcp connection refused", extra={"peer": "10.9.9.9:51515"})
        log.info("serial port open", extra={"port": "/dev/serial/by-id/usb-Nonin_3150-if00"})
        log.info("uplink", extra={"broker": "gw-broker.local", "codec": "tcp:hl7-mllp"})
        log.info("connected to gw-broker on serial:hl7-mllp")
        log.info("note", extra={"note": "patient Jane Doe at 10.2.3.4"})
        log.info("lone word", extra={"host": "Jane"})
        print(stream.getvalue())
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_message = {r["message"]: r for r in records}
    assert by_message["tcp listening"]["address"] == "10.1.20.3:2575"
    assert by_message["tcp connection refused"]["peer"] == "10.9.9.9:51515"
    assert by_message["serial port open"]["port"] == "/dev/serial/by-id/usb-Nonin_3150-if00"
    assert by_message["uplink"]["broker"] == "gw-broker.local"
    assert by_message["uplink"]["codec"] == "tcp:hl7-mllp"
    assert "connected to gw-broker on serial:hl7-mllp" in by_message
    assert by_message["note"]["note"] == "patient [NAME] at [IP]"  # not an operational key
    assert by_message["lone word"]["host"] == "[NAME]"  # not an endpoint's shape
