"""Decode throughput per codec, against a framing-only baseline measured in the same run.

For each registered codec the benchmark decodes a realistic stream (the simulators'
own messages for the serial/TCP codecs; spec-shaped characteristic values for the
BLE codecs, when those codecs are installed) and reports messages/s and MB/s. The
baseline is the cheapest loop that still touches every message the same way the
protocol demands - checksum sums for Nonin and ASTM frames, ``bytes.split`` on
the MLLP and segment separators for HL7, one ``struct.unpack_from`` per BLE
value - so ``ratio_to_baseline`` says how much the full decode (validation,
observations, PHI split) costs over bare framing on this machine, today.

    .venv/bin/python benchmarks/bench_codecs.py [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from wardlink.codecs import (
    CodecError,
    DecodeContext,
    Decoded,
    StreamCodec,
    ValueCodec,
    all_codecs,
)
from wardlink.codecs.astm_e1381 import ENQ, EOT, encode_records
from wardlink.codecs.hl7_mllp import wrap
from wardlink.codecs.nonin2 import encode_packet
from wardlink.sim.astm import AstmSimulator
from wardlink.sim.hl7 import Hl7Simulator
from wardlink.sim.registry import SimOptions

CHUNK = 4096  # a generous serial/TCP read
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


@dataclass
class Sample:
    data: bytes | list[bytes]  # one stream, or one value per message for BLE codecs
    messages: int
    baseline: Callable[[], int]


# -- samples -------------------------------------------------------------------------------


def nonin_sample(count: int) -> Sample:
    data = b"".join(encode_packet(60 + i % 60, 90 + i % 10) for i in range(count))

    def baseline() -> int:
        good = 0
        for i in range(0, len(data), 5):
            if (data[i] + data[i + 1] + data[i + 2] + data[i + 3]) & 0xFF == data[i + 4]:
                good += 1
        return good // 25

    return Sample(data, count, baseline)


def astm_sample(count: int) -> Sample:
    sim = AstmSimulator(SimOptions(seed=1))
    data = b"".join(
        bytes([ENQ]) + b"".join(encode_records(sim.next_message(NOW))) + bytes([EOT])
        for _ in range(count)
    )

    def baseline() -> int:
        messages = 0
        for frame in data.split(b"\x02")[1:]:
            end = max(frame.find(b"\x03"), frame.find(b"\x17"))
            if f"{sum(frame[: end + 1]) & 0xFF:02X}".encode() == frame[end + 1 : end + 3]:
                messages += frame.startswith(b"L", 1)
        return messages

    return Sample(data, count, baseline)


def hl7_sample(count: int) -> Sample:
    sim = Hl7Simulator(SimOptions(seed=1))
    data = b"".join(wrap(sim.next_message(NOW).encode()) for _ in range(count))

    def baseline() -> int:
        messages = 0
        for block in data.split(b"\x1c\r"):
            if block.startswith(b"\x0b"):
                segments = [s.split(b"|") for s in block[1:].split(b"\r")]
                messages += bool(segments)
        return messages

    return Sample(data, count, baseline)


# Characteristic values shaped as the Bluetooth SIG specifications define them
# (little-endian; SFLOAT = 4-bit exponent, 12-bit mantissa; FLOAT = 8 + 24 bits).
BLE_VALUES: dict[str, bytes] = {
    # flags 0x00 (uint8 bpm), 72 bpm
    "ble:heart-rate-measurement": bytes.fromhex("0048"),
    # flags 0x00 (mmHg), SFLOAT 120, 80, 93
    "ble:blood-pressure-measurement": bytes.fromhex("00780050005d00"),
    # flags 0x00 (Cel), FLOAT 366 x 10^-1
    "ble:temperature-measurement": bytes.fromhex("006e0100ff"),
    # flags 0x00, SpO2 SFLOAT 98, PR SFLOAT 72
    "ble:plx-spot-check": bytes.fromhex("0062004800"),
    "ble:plx-continuous": bytes.fromhex("0062004800"),
    # flags 0x00 (SI), weight 70 kg in 0.005 kg steps = 14000
    "ble:weight-measurement": bytes.fromhex("00b036"),
    # flags 0x02 (concentration, kg/L), seq 1, base time 2026-11-05 10:00:00,
    # 95 mg/dL = SFLOAT 95 x 10^-5 kg/L, capillary whole blood / finger
    "ble:glucose-measurement": bytes.fromhex("020100ea070b050a00005fb011"),
}


def ble_sample(name: str, count: int) -> Sample | None:
    value = BLE_VALUES.get(name)
    if value is None:
        return None
    values = [value] * count
    fmt = "<B" + "x" * (len(value) - 1)

    def baseline() -> int:
        total = 0
        for item in values:
            total += struct.unpack_from(fmt, item)[0] >= 0
        return total

    return Sample(values, count, baseline)


# -- timing --------------------------------------------------------------------------------


def best_of(runs: int, func: Callable[[], int]) -> tuple[float, int]:
    best, result = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def decode_stream(codec_class: type[StreamCodec], data: bytes) -> Callable[[], int]:
    def run() -> int:
        codec = codec_class(DecodeContext(device_id="bench", now=lambda: NOW))
        decoded = 0
        for i in range(0, len(data), CHUNK):
            decoded += sum(isinstance(e, Decoded) for e in codec.feed(data[i : i + CHUNK]))
        return decoded

    return run


def decode_values(codec_class: type[ValueCodec], values: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        codec = codec_class(DecodeContext(device_id="bench", now=lambda: NOW))
        return sum(1 for value in values if codec.decode(value) is not None)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small samples (CI smoke run)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", help="also write the JSON summary to this file")
    args = parser.parse_args(argv)
    scale = 0.1 if args.quick else 1.0

    def n(count: int) -> int:
        return max(10, int(count * scale))

    stream_samples: dict[str, Callable[[], Sample]] = {
        "serial:nonin-2": lambda: nonin_sample(n(3000)),
        "serial:astm-e1381": lambda: astm_sample(n(300)),
        "serial:hl7-mllp": lambda: hl7_sample(n(500)),
        "tcp:hl7-mllp": lambda: hl7_sample(n(500)),
    }
    results: dict[str, dict[str, float | int]] = {}
    skipped: dict[str, str] = {}
    for name, codec_class in all_codecs().items():
        if issubclass(codec_class, StreamCodec):
            factory = stream_samples.get(name)
            if factory is None:
                skipped[name] = "no sample stream for this codec"
                continue
            sample = factory()
            assert isinstance(sample.data, bytes)
            run = decode_stream(codec_class, sample.data)
            size = len(sample.data)
        else:
            value_sample = ble_sample(name, n(20000))
            if value_sample is None:
                skipped[name] = "no sample value for this codec"
                continue
            sample = value_sample
            assert isinstance(sample.data, list)
            run = decode_values(codec_class, sample.data)
            try:
                run()
            except CodecError as exc:
                skipped[name] = f"sample value rejected: {exc}"
                continue
            size = sum(len(v) for v in sample.data)
        seconds, decoded = best_of(args.runs, run)
        base_seconds, base_messages = best_of(args.runs, sample.baseline)
        if decoded != sample.messages:
            skipped[name] = f"decoded {decoded} of {sample.messages} messages"
            continue
        results[name] = {
            "messages": sample.messages,
            "bytes": size,
            "seconds": round(seconds, 6),
            "messages_per_s": round(sample.messages / seconds, 1),
            "mb_per_s": round(size / seconds / 1e6, 3),
            "baseline_messages_per_s": round(base_messages / base_seconds, 1)
            if base_seconds
            else 0,
            "baseline_mb_per_s": round(size / base_seconds / 1e6, 3) if base_seconds else 0,
            "ratio_to_baseline": round(seconds / base_seconds, 2) if base_seconds else 0,
        }
    summary = {
        "benchmark": "codec decode throughput",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "chunk_bytes": CHUNK,
        "runs": args.runs,
        "codecs": results,
        "skipped": skipped,
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
