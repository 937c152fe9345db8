"""HL7 messages with bad escape sequences: no patient value in any log, output or outbound byte.

The fault: python-hl7's ``unescape`` logs the whole raw field at ERROR when it meets
an escape sequence it does not know (``\\Q\\``). The gateway's text scrubber cannot
recognise surnames outside its lexicon, so ``Oyelaran-Quist`` and ``CCU^353^B``
reached component logs, and ``wardlink devices decode`` printed
``field [Oyelaran-Quist\\Q\\]``. Each test first shows the fault in the library, then
that it holds through the codec, the real DeviceProxy pipeline with the real
component logging set-up, and the decode command run as a process.

The canary names and places are invented or unusual, and each test module checks
that none of them is in the scrubber's name lexicon: these tests must pass because
the gateway knows the *patient's* values, not because the names are common.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wardlink.codecs._hl7_pcd01 import unescape
from wardlink.codecs.base import DecodeContext, Decoded, Reply
from wardlink.codecs.hl7_mllp import Hl7MllpCodec, wrap
from wardlink.phi.lexicon import DATA_FILE, fold

REPO = Path(__file__).resolve().parents[2]
WARDLINK = Path(sys.executable).parent / "wardlink"

#: Surnames from the incident and invented ones; checked below to be outside the lexicon.
NAMES = ("Oyelaran-Quist", "Zhao", "Okonkwo", "Al-Hashimi", "Quillfeather", "Ysolde")
PLACES = ("CCU^353^B", "Larkmoor^417^C")
CANARIES = (
    "Oyelaran",
    "Quist",
    "Zhao",
    "Okonkwo",
    "Hashimi",
    "Quillfeather",
    "Ysolde",
    "Larkmoor",
    "CCU^353^B",
    "CCU 353 B",
    "353^B",
    "417^C",
    "MRN-Q-5521",
    "MRN-Q-7730",
)

# Every identifying field carries an escape the library does not know: \Q\ (none),
# \Zxx\ (site-defined), \C2842\ (character set switch), an empty one, and bad hex.
MESSAGES = (
    "MSH|^~\\&|Mon||||20261105101500+0000||ORU^R01^ORU_R01|C1|P|2.6\r"
    "PID|||MRN-Q-5521^^^H^MR||Oyelaran-Quist\\Q\\^Zhao||19470312|M\r"
    "NK1|1|Al-Hashimi\\Q\\^Okonkwo|SPO^Spouse\r"
    "PV1||I|CCU^353^B\\Q\\\r"
    "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R\r",
    "MSH|^~\\&|Mon||||20261105101600+0000||ORU^R01^ORU_R01|C2|P|2.6\r"
    "PID|||MRN-Q-7730\\Zwl\\^^^H^MR||Quillfeather\\C2842\\^Ysolde\\\\||19520101|F\r"
    "PV1||I|Larkmoor\\X4G\\^417^C\r"
    "OBX|1|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC"
    "|||||R\r",
)
BLOCKS = tuple(wrap(m.encode()) for m in MESSAGES)


def leaked(text: str) -> list[str]:
    """The canaries found in ``text``, in any case."""
    lowered = text.lower()
    return [c for c in CANARIES if c.lower() in lowered]


def run_python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def test_the_canaries_are_not_in_the_name_lexicon() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    lexicon = {fold(n) for n in data["first"]} | {fold(n) for n in data["last"]}
    words = [w for name in NAMES + PLACES for w in name.replace("^", " ").replace("-", " ").split()]
    assert [w for w in words if w.isalpha() and fold(w) in lexicon] == []


def test_the_library_logs_the_raw_field_and_the_codec_boundary_silences_it() -> None:
    # As `wardlink devices decode` ran: no logging configured, so logging's last-resort
    # handler writes WARNING and above to stderr.
    result = run_python(
        """
        import sys
        import hl7

        message = hl7.parse(sys.argv[1])
        message.unescape("Oyelaran-Quist\\\\Q\\\\")
        print("--- codec imported ---", file=sys.stderr, flush=True)
        import wardlink.codecs.hl7_mllp  # the codec boundary
        message.unescape("Oyelaran-Quist\\\\Q\\\\")
        """,
        MESSAGES[0],
    )
    assert result.returncode == 0, result.stderr
    before, after = result.stderr.split("--- codec imported ---")
    assert "field [Oyelaran-Quist\\Q\\]" in before  # the fault, reproduced
    assert leaked(after) == []


def test_unescape_undoes_what_it_knows_and_counts_what_it_drops() -> None:
    separators, esc = "\r|~^&", "\\"
    cases = {
        "A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F": ("A|B^C&D~E\\F", 0),
        "\\X4F4B\\": ("OK", 0),
        "\\H\\bold\\N\\": ("bold", 0),
        "line\\.br\\two": ("line two", 0),
        "Oyelaran-Quist\\Q\\": ("Oyelaran-Quist", 1),
        "\\C2842\\Quill\\M2442\\feather\\Zwl\\": ("Quillfeather", 3),
        "Ysolde\\\\": ("Ysolde", 1),
        "Lark\\X4G\\moor": ("Larkmoor", 1),
        "no escape": ("no escape", 0),
        "trailing\\esc": ("trailing\\esc", 0),
    }
    for raw, expected in cases.items():
        assert unescape(raw, separators, esc) == expected, raw


def test_bad_escapes_decode_with_no_canary_in_any_record_or_reply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the library's included
    codec = Hl7MllpCodec(DecodeContext(device_id="bed-9-monitor"))
    events = [e for block in BLOCKS for e in codec.feed(block)]

    patients = [e.patient for e in events if isinstance(e, Decoded) and e.patient is not None]
    assert len(patients) == 2
    # The values are kept (the bad escape is dropped), for the policy and the log filter.
    assert patients[0].family_name == "Oyelaran-Quist" and patients[0].location == "CCU 353 B"
    assert patients[1].family_name == "Quillfeather" and patients[1].given_name == "Ysolde"
    replies = b"".join(e.data for e in events if isinstance(e, Reply))
    assert replies.count(b"MSA|AA|") == 2
    assert leaked(replies.decode("latin-1")) == []

    lines = [f"{r.name} {r.getMessage()} {r.args!r} {vars(r)!r}" for r in caplog.records]
    assert leaked("\n".join(lines)) == []
    assert not [r for r in caplog.records if "hl7" in r.name and "wardlink" not in r.name]
    warning = caplog.records[0]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == (
        "HL7 escape sequences not understood, dropped: 3 in NK1-2, PID-5, PV1-3"
    )
    # Positions already reported on this connection drop to DEBUG; new ones warn again.
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    codec.feed(BLOCKS[0])
    assert caplog.records[-1].levelno == logging.DEBUG


PIPELINE = """
import asyncio, io, json, logging, os, select, sys, tty
from pathlib import Path

from wardlink.runtime.logs import configure_logging

stream = io.StringIO()
configure_logging("com.wardlink.DeviceProxy", level="DEBUG", stream=stream)

from wardlink.gateway.proxy import build_worker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import DeviceConfig, SerialTransportConfig
from wardlink.spool import Spool

blocks = [bytes.fromhex(h) for h in json.loads(sys.argv[1])]
tmp = Path(sys.argv[2])
log = logging.getLogger("wardlink.gateway.device_worker")


async def poll(condition, what):
    for _ in range(1500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


async def main():
    loop = asyncio.get_running_loop()
    loop.set_debug(True)  # asyncio's own debug logging is on the device path too
    spool = Spool(tmp / "spool.sqlite3")
    writer = SpoolWriter(spool, linger_s=0.01)
    master, slave = os.openpty()
    tty.setraw(slave)
    link = tmp / "ttyMONITOR"
    link.symlink_to(os.ttyname(slave))
    device = DeviceConfig(
        device_id="bed-9-monitor",
        profile="sim-hl7-monitor-serial",
        serial=SerialTransportConfig(path=str(link)),
    )
    worker = build_worker(device, RedactionPolicy.default(), writer)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(writer.run(stop))]
    replies = bytearray()
    outbound = []

    def drain_spool():  # as the Uplink does: read the next batch, then delete it
        while rows := spool.read(max_items=1000, max_bytes=10**9):
            outbound.extend((r.kind.value, r.body.decode("utf-8", "replace")) for r in rows)
            spool.ack(r.seq for r in rows)
        return [body for kind, body in outbound if kind == "telemetry"]

    def read_replies():
        while select.select([master], [], [], 0)[0]:
            replies.extend(os.read(master, 4096))
        return replies

    await poll(lambda: worker.transport.connected, "the port to open")
    for count, block in enumerate(blocks, start=1):
        os.write(master, block)
        await poll(lambda: read_replies().count(b"MSA|") >= count, "the ACK")
    await poll(lambda: len(drain_spool()) >= 2, "the telemetry")

    # Careless lines while the worker holds the patient: the live values go.
    patient = worker.patient
    log.error("could not link %s at %s", patient.given_name, patient.location)
    log.warning("link failed", extra={"who": patient.family_name})
    # asyncio's exception handler prints a failed callback with its arguments.
    loop.call_exception_handler({
        "message": "Exception in callback",
        "exception": ValueError("boom"),
        "handle": asyncio.Handle(print, (blocks[1],), loop),
    })
    # What a technician must still read.
    log.info("device on /dev/ttyUSB7 with codec serial:hl7-mllp")
    log.info("uplink connecting", extra={"broker": "mqtts://broker.ward.example:8883"})
    log.warning("connecting to broker 10.20.0.5:8883")

    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    drain_spool()
    spool.close()
    os.close(master)
    os.close(slave)
    print(json.dumps({"log": stream.getvalue(), "replies": replies.decode("latin-1"),
                      "outbound": [body for _, body in outbound]}))


asyncio.run(main())
"""


def test_the_device_proxy_pipeline_keeps_every_canary_in_the_process(tmp_path: Path) -> None:
    """Serial port (a pty) -> codec -> policy -> spool, logging as a component does."""
    result = run_python(PIPELINE, json.dumps([b.hex() for b in BLOCKS]), str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert leaked(result.stderr) == []
    out = json.loads(result.stdout.strip().splitlines()[-1])
    log, replies, outbound = out["log"], out["replies"], out["outbound"]

    assert replies.count("MSA|AA|") == 2
    assert any("MDC_PULS_OXIM_SAT_O2" in body for body in outbound)
    assert leaked(replies) == []
    assert leaked("\n".join(outbound)) == []
    assert leaked(log) == [], log

    records = [json.loads(line) for line in log.splitlines()]
    messages = [r["message"] for r in records]
    assert "HL7 escape sequences not understood, dropped: 3 in NK1-2, PID-5, PV1-3" in messages
    assert "could not link [PHI] at [PHI]" in messages
    assert any(r["message"].startswith("Exception in callback") for r in records)
    # Diagnostics stay readable.
    assert "device on /dev/ttyUSB7 with codec serial:hl7-mllp" in messages
    assert "connecting to broker 10.20.0.5:8883" in messages
    assert {"broker": "mqtts://broker.ward.example:8883"}.items() <= next(
        r for r in records if r["message"] == "uplink connecting"
    ).items()
    opened = next(r for r in records if r["message"] == "serial port open")
    assert opened["port"] == str(tmp_path / "ttyMONITOR")


def test_the_decode_command_prints_patient_data_only_as_counts(tmp_path: Path) -> None:
    """``wardlink devices decode`` as a technician runs it, a whole process."""
    capture = tmp_path / "bad-escapes.bin"
    # A device that puts a surname where a code belongs: the reason quotes the code.
    extra = wrap(
        b"MSH|^~\\&|Mon||||20261105101700+0000||ORU^R01^ORU_R01|C3|P|2.6\r"
        b"PID|||MRN-Q-5521^^^H^MR||Oyelaran-Quist\\Q\\^Zhao\r"
        b"OBX|1|NM|Oyelaran-Quist^Zhao^L|1|97|262688^MDC_DIM_PERCENT^MDC|||||R\r"
    )
    capture.write_bytes(b"".join(BLOCKS) + extra)
    result = subprocess.run(
        [str(WARDLINK), "devices", "decode", "--codec", "serial:hl7-mllp", "--file", str(capture)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert result.returncode == 1, result.stderr  # the capture has an unmapped code
    assert leaked(result.stdout) == [], result.stdout
    assert leaked(result.stderr) == [], result.stderr

    out = json.loads(result.stdout)
    patients = [e["patient"] for e in out["events"] if "patient" in e]
    assert len(patients) == 3 and all(p.startswith("<redacted: ") for p in patients)
    assert out["patient_fields"] == sum(int(p.split()[1]) for p in patients)
    (unmapped,) = [e for e in out["events"] if e["event"] == "UnmappedMetric"]
    assert unmapped["reason"].startswith("unmapped observation identifier '[PHI]")
    assert "unmapped metric code(s) '[PHI]" in result.stderr
    # What went wrong is still said, by position.
    assert "HL7 escape sequences not understood, dropped: 3 in NK1-2, PID-5, PV1-3" in (
        result.stderr
    )
