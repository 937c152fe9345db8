"""``wardlink devices ...`` - tools for device engineers working with captures and profiles.

* ``devices decode --codec NAME --hex HEX`` (or ``--file CAPTURE``) decodes bytes
  and prints the events as JSON. Observations are printed in full; patient data
  never is, only counted: a decoded patient shows as ``"<redacted: N fields>"``
  (and ``patient_fields`` totals them), free-text annotations and device details
  as their length only, and frame errors without their raw bytes (which may hold
  a whole HL7 message). A frame error's reason is the codec's own sentence, but it
  still goes through the log filter's ``scrub_text``, which also knows the values
  of the patients just decoded. Whatever a library logs while decoding goes
  through the same filter (``scrubbed_logs``): a parser that quotes a raw field
  reaches the terminal scrubbed.
* ``devices codecs`` lists the codecs, ``devices profiles`` the device profiles,
  ``devices validate FILE`` checks a profile and explains what is wrong (an unknown
  codec included: the schema allows any well-formed name).
* ``devices profiles new --codec C --from-capture FILE`` scaffolds a profile from a
  capture: the metrics and units the codec decoded (with the range of values seen),
  the codes it could not map, the expected interval (from the device's timestamps,
  or ``--capture-seconds``), and ``TODO`` wherever a person must decide; ``devices
  validate`` fails until every ``TODO`` is filled in.
* ``devices schema site|profile`` prints the JSON Schema of the site configuration
  or of a device profile, generated from the pydantic models that validate them
  (published in ``docs/schemas/``, for editors; a test keeps those up to date).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from wardlink.codecs import (
    CodecError,
    CodecEvent,
    DecodeContext,
    Decoded,
    FrameError,
    Reply,
    StreamCodec,
    ValueCodec,
    all_codecs,
    get_codec,
)
from wardlink.model import DeviceStatus, Observation, PatientContext


def _patient_fields(patient: PatientContext) -> int:
    """How many identifying fields a decoded patient has: all the CLI ever says of them."""
    count = sum(1 for name in ("sex", "id_type") if getattr(patient, name))
    return count + len(patient.values())


def _redacted(text: str | None) -> str | None:
    return None if text is None else f"<redacted: {len(text)} characters>"


def observation_json(obs: Observation) -> dict[str, Any]:
    return {
        "device_id": obs.device_id,
        "mdc_code": obs.metric.mdc_code,
        "mdc_name": obs.metric.mdc_name,
        "value": obs.value,
        "unit": obs.unit,
        "measured_at": obs.measured_at.isoformat(),
        "quality": obs.quality.value,
        "flags": list(obs.flags),
        "annotation": _redacted(obs.annotation),
    }


def status_json(status: DeviceStatus) -> dict[str, Any]:
    return {
        "connectivity": status.connectivity.value,
        "battery_percent": status.battery_percent,
        "error_codes": list(status.error_codes),
        "detail": _redacted(status.detail),
    }


def event_json(event: CodecEvent) -> dict[str, Any]:
    """One codec event as PHI-free JSON."""
    if isinstance(event, Decoded):
        out: dict[str, Any] = {
            "event": "decoded",
            "observations": [observation_json(o) for o in event.observations],
        }
        if event.patient is not None:
            out["patient"] = f"<redacted: {_patient_fields(event.patient)} fields>"
        if event.status is not None:
            out["status"] = status_json(event.status)
        return out
    if isinstance(event, Reply):
        return {
            "event": "reply",
            "hex": event.data.hex(" ") if len(event.data) <= 16 else None,
            "bytes": len(event.data),
        }
    from wardlink.phi.logfilter import scrub_text

    extra = {k: scrub_text(v) for k, v in (("key", getattr(event, "key", None)),) if v}
    return {
        "event": type(event).__name__,
        "reason": scrub_text(event.reason),
        "raw_bytes": len(event.raw),
        **extra,
    }


def _read_input(args: argparse.Namespace) -> bytes:
    if args.file is not None:
        return Path(args.file).read_bytes()
    text = "".join(args.hex.split()).replace(":", "").replace("-", "")
    text = text.removeprefix("0x")
    return bytes.fromhex(text)


def _context(args: argparse.Namespace) -> DecodeContext:
    if args.profile:
        from wardlink.profiles import find_profile

        return find_profile(args.profile).decode_context(args.device_id)
    return DecodeContext(device_id=args.device_id)


def _decode(args: argparse.Namespace) -> int:
    from wardlink.phi.logfilter import scrubbed_logs

    with scrubbed_logs():
        return _decode_scrubbed(args)


def _decode_scrubbed(args: argparse.Namespace) -> int:
    try:
        codec_class = get_codec(args.codec)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        data = _read_input(args)
    except ValueError:
        print("error: --hex is not hexadecimal", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        context = _context(args)
    except Exception as exc:  # a profile error explains itself
        print(f"error: {exc}", file=sys.stderr)
        return 2
    events: list[CodecEvent]
    status = 0
    if issubclass(codec_class, StreamCodec):
        events = codec_class(context).feed(data)
    else:
        assert issubclass(codec_class, ValueCodec)
        try:
            value_codec = codec_class(context)
            events = [value_codec.decode(data)]
            # Some value codecs hold a record back waiting for a companion value (a
            # glucose measurement whose context follows); a capture has no more coming.
            flush = getattr(value_codec, "flush", None)
            if callable(flush):
                held = flush()
                if isinstance(held, Decoded) and (held.observations or held.status):
                    events.append(held)
        except CodecError as exc:
            events = [FrameError(str(exc), data)]
            status = 1
    result = {
        "codec": args.codec,
        "bytes": len(data),
        "events": [event_json(e) for e in events],
        "observations": sum(len(e.observations) for e in events if isinstance(e, Decoded)),
        "patient_fields": sum(
            _patient_fields(e.patient) for e in events if isinstance(e, Decoded) and e.patient
        ),
        "errors": sum(1 for e in events if isinstance(e, FrameError)),
    }
    print(json.dumps(result, indent=2))
    from wardlink.codecs._unmapped import UnmappedMetric
    from wardlink.phi.logfilter import remove_live_values

    # A code should never be a patient field (see UnmappedMetric), but a device that
    # puts a patient's name where a code belongs exists: the values of the patients
    # just decoded are removed. The rest stays readable - the scrubber would take a
    # code such as LACT for a name, and the engineer needs the code to map it.
    unmapped = sorted(
        {remove_live_values(e.key) for e in events if isinstance(e, UnmappedMetric)}
    )
    if unmapped:
        # The metric would be lost on a gateway: a capture that has one fails.
        where = f"profile {args.profile}" if args.profile else "a profile (--profile)"
        print(
            f"error: unmapped metric code(s) {', '.join(map(repr, unmapped))}: "
            f"map them in the metrics of {where}",
            file=sys.stderr,
        )
        status = 1
    return status


def _codecs(args: argparse.Namespace) -> int:
    rows = [
        {
            "name": name,
            "kind": "stream" if issubclass(cls, StreamCodec) else "value",
            "description": cls.description,
        }
        for name, cls in all_codecs().items()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        for row in rows:
            print(f"{row['name']:<{width}}  {row['kind']:<6}  {row['description']}")
    return 0


def _profiles(args: argparse.Namespace) -> int:
    from wardlink.profiles import ProfileError, builtin_profiles, load_profiles, profile_summary

    if args.dir is not None and not args.dir.is_dir():
        print(f"error: {args.dir}: no such directory", file=sys.stderr)
        return 1
    try:
        profiles = load_profiles(args.dir) if args.dir else builtin_profiles()
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = [dict(profile_summary(p)) for p in profiles.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for row in rows:
        sim = f"  sim: {row['simulator']}" if row["simulator"] else ""
        print(
            f"{row['name']:<{width}}  {row['codec']:<32} {row['transport']:<6} {row['model']}{sim}"
        )
    return 0


def _decode_capture(codec_name: str, data: bytes) -> list[CodecEvent]:
    """Every event of a capture, as ``devices decode`` gets them (no profile applied)."""
    from wardlink.phi.logfilter import scrubbed_logs

    codec_class = get_codec(codec_name)
    context = DecodeContext(device_id="capture")
    with scrubbed_logs():
        if issubclass(codec_class, StreamCodec):
            return codec_class(context).feed(data)
        value_codec = codec_class(context)
        try:
            events: list[CodecEvent] = [value_codec.decode(data)]
        except CodecError as exc:
            return [FrameError(str(exc), data)]
        flush = getattr(value_codec, "flush", None)
        if callable(flush):
            held = flush()
            if isinstance(held, Decoded) and (held.observations or held.status):
                events.append(held)
        return events


def scaffold_profile(
    codec_name: str, data: bytes, source: str, capture_seconds: float | None = None
) -> str:
    """A profile's YAML text from a capture, with ``TODO`` where a person must decide."""
    from wardlink.codecs._unmapped import UnmappedMetric

    events = _decode_capture(codec_name, data)
    messages = [e for e in events if isinstance(e, Decoded) and e.observations]
    seen: dict[int, dict[str, Any]] = {}
    for event in messages:
        for obs in event.observations:
            entry = seen.setdefault(
                obs.metric.mdc_code,
                {"name": obs.metric.mdc_name, "units": set(), "values": [], "times": set()},
            )
            entry["units"].add(obs.unit)
            entry["times"].add(obs.measured_at)
            if obs.value is not None:
                entry["values"].append(obs.value)
    unmapped = {e.key: e.unit for e in events if isinstance(e, UnmappedMetric)}
    family = codec_name.split(":", 1)[0]
    slug = codec_name.split(":", 1)[-1]
    interval, how = _interval(seen, len(messages), capture_seconds)
    lines = [
        f"# Scaffolded by `wardlink devices profiles new` from {source}:",
        f"# {len(messages)} messages, {len(seen)} metrics decoded, {len(unmapped)} codes unmapped.",
        "# Fill in every TODO, then check it: wardlink devices validate THIS_FILE",
        f"name: todo-{slug}   # TODO: the model's profile id, e.g. acme-oxi-200",
        "manufacturer: TODO",
        "model: TODO",
        f"codec: {codec_name}",
        f"transport: {_TRANSPORTS[family]}",
        f"mode: {'notify' if family == 'ble' else 'stream'}",
        f"expected_interval_s: {interval}   # {how}",
        "metrics:",
    ]
    for code, entry in sorted(seen.items()):
        units = sorted(entry["units"])
        values = entry["values"]
        where = f"seen {min(values):g} to {max(values):g}" if values else "no values seen"
        unit = units[0] if len(units) == 1 else "TODO"
        note = "" if len(units) == 1 else f"; units seen: {', '.join(units)}"
        lines.append(
            f'  "{code}": {{mdc_code: {code}, mdc_name: {entry["name"]}, unit: "{unit}",'
            f" min: TODO, max: TODO}}   # {where}{note}"
        )
    for key, unit in sorted(unmapped.items()):
        lines.append(
            f'  "{key}": {{mdc_code: TODO, mdc_name: TODO, unit: "{unit or "TODO"}",'
            " min: TODO, max: TODO}   # unmapped by the codec: find its MDC term"
        )
    if not seen and not unmapped:
        lines[-1] = "metrics: {}   # TODO: the capture decoded no metric"
    return "\n".join(lines) + "\n"


_TRANSPORTS = {
    "serial": "{kind: serial, baudrate: 9600}   # TODO: the device's line settings",
    "tcp": "{kind: tcp, role: listen, port: 2575}   # TODO: listen for the device, or connect",
    "ble": "{kind: ble, service_uuid: TODO, characteristics: [{uuid: TODO, role: notify}]}",
}


def _interval(
    seen: dict[int, dict[str, Any]], messages: int, capture_seconds: float | None
) -> tuple[str, str]:
    """The expected interval and how it was found."""
    if capture_seconds and messages:
        value = capture_seconds / messages
        return f"{value:.3g}", f"{messages} messages in {capture_seconds:g} s"
    times = sorted({t for entry in seen.values() for t in entry["times"]})
    gaps = sorted((b - a).total_seconds() for a, b in itertools.pairwise(times))
    if gaps:
        return f"{gaps[len(gaps) // 2]:.3g}", "median gap between the device's timestamps"
    return "TODO", "no device timestamps: give --capture-seconds, or the device's documented rate"


def _profiles_new(args: argparse.Namespace) -> int:
    try:
        get_codec(args.codec)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    try:
        data = Path(args.from_capture).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.from_capture}: {exc.strerror}", file=sys.stderr)
        return 1
    text = scaffold_profile(args.codec, data, Path(args.from_capture).name, args.capture_seconds)
    if args.output is None:
        print(text, end="")
        return 0
    try:
        with Path(args.output).open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        print(f"error: {args.output} exists; not overwriting it", file=sys.stderr)
        return 1
    print(f"{args.output}: written; fill in the TODOs, then: wardlink devices validate FILE")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from wardlink.profiles import ProfileError, load_profile

    failed = 0
    for path in args.files:
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
            continue
        problems = profile_problems(profile)
        if problems:
            for problem in problems:
                print(f"{path}: {problem}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: ok - {profile.name}, {profile.codec}")
    return 1 if failed else 0


def profile_problems(profile: Any) -> list[str]:
    """What the schema cannot see: codec names (the profile's and its BLE characteristics')
    that no installed codec has. The proxy would start and log every frame as an error."""
    known = all_codecs()
    names = [("codec", profile.codec)]
    characteristics = getattr(profile.transport, "characteristics", ())
    names += [
        (f"transport.characteristics.{i}.codec", c.codec)
        for i, c in enumerate(characteristics)
        if c.codec is not None
    ]
    problems = [
        f"{where}: unknown codec {name!r}; installed: {', '.join(sorted(known))}"
        for where, name in names
        if name not in known
    ]
    problems += [
        f"{field}: still TODO (fill in the scaffold)"
        for field in ("name", "manufacturer", "model")
        if "todo" in str(getattr(profile, field)).lower().split("-")
    ]
    return problems


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of ``site`` (the configuration file) or ``profile``."""
    if kind == "site":
        from wardlink.runtime.config import GatewayConfig

        schema = GatewayConfig.model_json_schema()
        title = "Wardlink site configuration (DeviceProxy, Uplink, GatewayUI)"
    else:
        from wardlink.profiles import DeviceProfile

        schema = DeviceProfile.model_json_schema()
        title = "Wardlink device profile"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": title}


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(args.kind), indent=2, sort_keys=True))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("devices", help="device codecs, captures and profiles")
    sub = parser.add_subparsers(dest="devices_command", metavar="SUBCOMMAND", required=True)

    decode = sub.add_parser("decode", help="decode captured bytes and print observations as JSON")
    decode.add_argument("--codec", required=True, help="codec name, e.g. serial:nonin-2")
    source = decode.add_mutually_exclusive_group(required=True)
    source.add_argument("--hex", help="the bytes, in hex (spaces and colons allowed)")
    source.add_argument("--file", type=Path, help="a binary capture file")
    decode.add_argument(
        "--device-id", default="capture", help="device id to stamp (default: capture)"
    )
    decode.add_argument("--profile", help="profile name or file whose metric mapping applies")
    decode.set_defaults(func=_decode)

    codecs = sub.add_parser("codecs", help="list the codecs")
    codecs.add_argument("--json", action="store_true")
    codecs.set_defaults(func=_codecs)

    profiles = sub.add_parser("profiles", help="list device profiles")
    profiles.add_argument(
        "--dir", type=Path, help="a directory of profiles instead of the built-in ones"
    )
    profiles.add_argument("--json", action="store_true")
    profiles.set_defaults(func=_profiles)
    profiles_sub = profiles.add_subparsers(dest="profiles_command", metavar="new")
    new = profiles_sub.add_parser("new", help="scaffold a profile from a capture")
    new.add_argument("--codec", required=True, help="codec name, e.g. serial:nonin-2")
    new.add_argument("--from-capture", required=True, type=Path, help="a binary capture file")
    new.add_argument(
        "--capture-seconds", type=float, help="how long the capture took (for the interval)"
    )
    new.add_argument("--output", "-o", type=Path, help="write the profile here (not overwritten)")
    new.set_defaults(func=_profiles_new)

    validate = sub.add_parser("validate", help="check profile files")
    validate.add_argument("files", nargs="+", type=Path)
    validate.set_defaults(func=_validate)

    schema = sub.add_parser(
        "schema", help="print the JSON Schema of site configuration or profiles"
    )
    schema.add_argument("kind", choices=["site", "profile"])
    schema.set_defaults(func=_schema)
