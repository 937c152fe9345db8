"""The capacity and cost model: from devices and their rate to shards, concurrency and dollars.

Why a model and not a spreadsheet: the figures follow from how Wardlink moves data
(the uplink's envelopes, one Kinesis record per envelope, two stream consumers, one
detector evaluation per point), and those rules live in this repository. Written as
code, the model is tested against hand-computed cases and changes with the design.

How the data flows, and so how it is counted (``Workload`` names every assumption):

* Devices sit behind gateways (``devices_per_gateway``); only gateways connect to IoT
  Core, one MQTT connection each, all month.
* A gateway's publisher wakes every ``poll_interval_s`` (0.1 s in ``uplink.publisher``)
  and sends what the spool holds as one envelope (at most 1,000 items and 128 KB). A
  gateway whose devices produce ``g`` points/s therefore publishes about
  ``min(g, 1/poll)`` envelopes a second of ``max(1, g * poll)`` points; plus a health
  heartbeat every ``heartbeat_s``.
* IoT Core meters each message in 5 KB units; each message triggers one rule with one
  Kinesis action, metered the same way (to verify for rules).
* The stream is on-demand (``ingest.py``); its throughput is sized here as the shards
  the same traffic would need, because each shard carries one concurrent batch per
  consumer (parallelization factor 1 in ``consumers.py``) and that bounds Lambda.
* Two consumers read every record: the telemetry writer and the detector engine. The
  engine reads and conditionally writes one DetectorState item per evaluation.
* Telemetry storage: ``fields_per_point`` values a point at ~3 bytes each once
  compressed (InfluxDB TSM; see docs/cloud.md for the instance classes).
* Video and files are independent of the telemetry rate.

A month is 730 hours (AWS's billing convention).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from wardlink.capacity.prices import LIMITS, PRICES

__all__ = ["SECONDS_PER_MONTH", "Estimate", "Line", "Workload", "estimate", "messaging_usd"]

SECONDS_PER_MONTH = 730 * 3600
CONSUMERS = 2  # telemetry writer, detector engine
KINESIS_BATCH_SIZE = 100  # consumers.BATCH_SIZE
GB = 1024**3


def _limit(key: str) -> float:
    return LIMITS[key].value


def _price(key: str) -> float:
    return PRICES[key].value


@dataclass(frozen=True)
class Workload:
    """The fleet and every assumption the estimate depends on (defaults: Wardlink's design)."""

    devices: int = 200_000
    #: points per second per device (an oximeter reporting every 10 s: 0.1)
    rate: float = 0.1
    devices_per_gateway: int = 20
    point_bytes: int = 200
    envelope_overhead_bytes: int = 300
    topic_bytes: int = 40
    poll_interval_s: float = 0.1
    max_items_per_envelope: int = 1000
    heartbeat_s: float = 30.0
    heartbeat_bytes: int = 600
    fields_per_point: int = 5
    stored_bytes_per_value: float = 3.0
    retention_days: int = 2555
    detector_evaluations_per_point: float = 1.0
    detector_item_bytes: int = 1500
    writer_ms_per_record: float = 5.0
    detector_ms_per_evaluation: float = 8.0
    lambda_memory_mb: int = 256
    #: IoT Core log bytes per published message; 0 at ERROR (the default level)
    iot_log_bytes_per_message: int = 0
    video_streams: int = 0
    video_kbps: int = 1000
    video_retention_days: int = 7
    files_per_device_per_day: float = 0.0
    file_mb: float = 1.0

    def validate(self) -> None:
        """Fail closed on a workload the model cannot describe."""
        if self.devices < 1 or self.devices_per_gateway < 1:
            raise ValueError("devices and devices per gateway must be at least 1")
        if not self.rate >= 0 or math.isinf(self.rate):
            raise ValueError(f"rate must be a finite number of points/s >= 0, not {self.rate}")
        for name in ("point_bytes", "poll_interval_s", "heartbeat_s", "fields_per_point",
                     "lambda_memory_mb", "max_items_per_envelope"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("video_streams", "files_per_device_per_day", "video_kbps", "file_mb",
                     "iot_log_bytes_per_message", "detector_evaluations_per_point"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True)
class Line:
    """One figure of the estimate, with its unit and how it was reached."""

    section: str
    name: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Estimate:
    workload: Workload
    lines: list[Line] = field(default_factory=list)
    #: monthly USD by item (list prices, see ``prices.PRICES``; most are "to verify")
    monthly_usd: dict[str, float] = field(default_factory=dict)
    #: quotas the workload would exceed, and what to do
    warnings: list[str] = field(default_factory=list)

    def value(self, name: str) -> float:
        for line in self.lines:
            if line.name == name:
                return line.value
        raise KeyError(name)

    @property
    def total_usd(self) -> float:
        return sum(self.monthly_usd.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": asdict(self.workload),
            "lines": [asdict(line) for line in self.lines],
            "monthly_usd": self.monthly_usd,
            "total_monthly_usd": self.total_usd,
            "warnings": self.warnings,
        }


def estimate(workload: Workload) -> Estimate:
    """Everything the fleet needs, per second and per month."""
    workload.validate()
    w = workload
    out = Estimate(w)

    def add(section: str, name: str, value: float, unit: str, note: str = "") -> float:
        out.lines.append(Line(section, name, value, unit, note))
        return value

    # -- gateways and envelopes ---------------------------------------------------------
    gateways = add("fleet", "gateways", math.ceil(w.devices / w.devices_per_gateway), "")
    points_s = add("fleet", "points_per_s", w.devices * w.rate, "points/s")
    per_gateway = w.devices_per_gateway * w.rate
    max_items = min(
        w.max_items_per_envelope,
        (_limit("iot_max_payload_bytes") - w.envelope_overhead_bytes) // w.point_bytes,
    )
    points_per_envelope = max(1.0, per_gateway * w.poll_interval_s)
    envelopes_per_gateway = min(per_gateway, 1 / w.poll_interval_s)
    if points_per_envelope > max_items:  # the 0.1 s poll no longer fits one envelope
        points_per_envelope = max_items
        envelopes_per_gateway = per_gateway / max_items
    add("uplink", "points_per_envelope", points_per_envelope, "points")
    envelope_bytes = add(
        "uplink", "envelope_bytes",
        w.envelope_overhead_bytes + w.topic_bytes + points_per_envelope * w.point_bytes, "bytes",
    )  # fmt: skip
    telemetry_msgs_s = envelopes_per_gateway * gateways
    heartbeat_msgs_s = gateways / w.heartbeat_s
    messages_s = add("iot", "messages_per_s", telemetry_msgs_s + heartbeat_msgs_s, "messages/s",
                     "envelopes plus health heartbeats")  # fmt: skip
    meter = _limit("iot_message_meter_bytes")
    units_s = (telemetry_msgs_s * math.ceil(envelope_bytes / meter)
               + heartbeat_msgs_s * math.ceil((w.heartbeat_bytes + w.topic_bytes) / meter))
    metered = add("iot", "metered_messages_per_month", units_s * SECONDS_PER_MONTH,
                  "5 KB messages", "each message rounded up to whole 5 KB units")
    add("iot", "publishes_per_gateway_s", envelopes_per_gateway + 1 / w.heartbeat_s,
        "publishes/s", "limit 100 per connection")
    minutes = gateways * SECONDS_PER_MONTH / 60
    out.monthly_usd["IoT Core connectivity"] = minutes / 1e6 * _price(
        "iot_connectivity_per_million_minutes")
    out.monthly_usd["IoT Core messaging"] = messaging_usd(metered)
    out.monthly_usd["IoT rules and Kinesis actions"] = metered / 1e6 * (
        _price("iot_rules_per_million") + _price("iot_actions_per_million"))

    # -- Kinesis ------------------------------------------------------------------------
    bytes_in_s = add("kinesis", "bytes_in_per_s",
                     telemetry_msgs_s * envelope_bytes + heartbeat_msgs_s * w.heartbeat_bytes,
                     "bytes/s")  # fmt: skip
    shards = add("kinesis", "shards", max(
        1,
        math.ceil(messages_s / _limit("kds_shard_in_records_s")),
        math.ceil(bytes_in_s / _limit("kds_shard_in_bytes_s")),
        math.ceil(CONSUMERS * bytes_in_s / _limit("kds_shard_out_bytes_s")),
    ), "shards", "what on-demand scales to: records, bytes in, and two consumers' reads")
    rounding = _limit("kds_on_demand_record_rounding_bytes")
    billed_in_s = (telemetry_msgs_s * math.ceil(envelope_bytes / rounding)
                   + heartbeat_msgs_s * math.ceil(w.heartbeat_bytes / rounding)) * rounding
    gb_in = billed_in_s * SECONDS_PER_MONTH / GB
    out.monthly_usd["Kinesis (on-demand)"] = (
        730 * _price("kds_on_demand_stream_hour") + gb_in * _price("kds_on_demand_gb_in")
        + CONSUMERS * bytes_in_s * SECONDS_PER_MONTH / GB * _price("kds_on_demand_gb_out"))

    # -- Lambda -------------------------------------------------------------------------
    evaluations_s = points_s * w.detector_evaluations_per_point
    writer_busy = messages_s * w.writer_ms_per_record / 1000
    detector_busy = evaluations_s * w.detector_ms_per_evaluation / 1000
    add("lambda", "writer_concurrency", writer_busy, "executions", "busy seconds per second")
    add("lambda", "detector_concurrency", detector_busy, "executions", "busy seconds per second")
    available = add("lambda", "concurrency_per_consumer_at_factor_1", shards, "executions",
                    "one batch per shard per consumer")  # fmt: skip
    invocations_s = CONSUMERS * max(shards, messages_s / KINESIS_BATCH_SIZE)
    add("lambda", "invocations_per_s", invocations_s, "invocations/s")
    gb_s = (writer_busy + detector_busy) * w.lambda_memory_mb / 1024 * SECONDS_PER_MONTH
    out.monthly_usd["Lambda (stream consumers)"] = (
        invocations_s * SECONDS_PER_MONTH / 1e6 * _price("lambda_per_million_requests")
        + gb_s * _price("lambda_gb_second"))

    # -- DynamoDB (detector state) ---------------------------------------------------------
    wru_s = add("dynamodb", "write_units_per_s",
                evaluations_s * math.ceil(w.detector_item_bytes / 1024), "WRU/s",
                "one conditional PutItem per detector evaluation")  # fmt: skip
    rru_s = add("dynamodb", "read_units_per_s",
                evaluations_s * math.ceil(w.detector_item_bytes / 4096), "RRU/s",
                "one strongly consistent GetItem per evaluation")  # fmt: skip
    out.monthly_usd["DynamoDB detector state"] = SECONDS_PER_MONTH / 1e6 * (
        wru_s * _price("ddb_on_demand_per_million_wru")
        + rru_s * _price("ddb_on_demand_per_million_rru"))

    # -- telemetry storage ------------------------------------------------------------------
    values_s = add("telemetry", "field_values_per_s", points_s * w.fields_per_point, "values/s")
    per_day = add("telemetry", "stored_gb_per_day",
                  values_s * w.stored_bytes_per_value * 86400 / 1e9, "GB/day",
                  "compressed; size the InfluxDB instance from docs/cloud.md")  # fmt: skip
    add("telemetry", "stored_tb_at_retention", per_day * w.retention_days / 1000, "TB",
        f"{w.retention_days} days retention")

    # -- IoT logging ----------------------------------------------------------------------
    if w.iot_log_bytes_per_message:
        log_gb = add("logging", "iot_log_gb_per_month",
                     messages_s * w.iot_log_bytes_per_message * SECONDS_PER_MONTH / GB, "GB",
                     "IoT Core logs at INFO or DEBUG")  # fmt: skip
        out.monthly_usd["IoT Core logs (CloudWatch ingestion)"] = log_gb * _price(
            "cloudwatch_logs_gb_ingested")

    # -- video and files ------------------------------------------------------------------
    if w.video_streams:
        video_gb = add("video", "video_gb_per_month",
                       w.video_streams * w.video_kbps * 1000 / 8 * SECONDS_PER_MONTH / GB, "GB")
        stored_gb = video_gb * min(1.0, w.video_retention_days * 86400 / SECONDS_PER_MONTH)
        add("video", "video_gb_stored", stored_gb, "GB", f"{w.video_retention_days} days kept")
        out.monthly_usd["Kinesis Video Streams"] = (video_gb * _price("kvs_gb_ingested")
                                                    + stored_gb * _price("kvs_gb_month_stored"))
    if w.files_per_device_per_day:
        files_month = w.devices * w.files_per_device_per_day * SECONDS_PER_MONTH / 86400
        add("files", "files_per_month", files_month, "files")
        file_gb = add("files", "file_gb_added_per_month", files_month * w.file_mb / 1024, "GB",
                      "S3 storage grows by this each month")  # fmt: skip
        out.monthly_usd["S3 procedure files (one month's files)"] = (
            file_gb * _price("s3_gb_month") + files_month / 1000 * _price("s3_per_thousand_puts"))

    _check_limits(out, messages_s, envelopes_per_gateway + 1 / w.heartbeat_s,
                  max(writer_busy, detector_busy), available)
    return out


def messaging_usd(metered: float) -> float:
    """IoT Core's tiered messaging price for ``metered`` 5 KB messages in one month."""
    tiers = ((1e9, _price("iot_messages_per_million")),
             (4e9, _price("iot_messages_per_million_next_4b")),
             (math.inf, _price("iot_messages_per_million_over_5b")))  # fmt: skip
    usd, left = 0.0, metered
    for size, per_million in tiers:
        taken = min(left, size)
        usd += taken / 1e6 * per_million
        left -= taken
    return usd


def _check_limits(out: Estimate, messages_s: float, per_gateway_s: float, busiest: float,
                  available: float) -> None:
    if per_gateway_s > _limit("iot_publishes_per_connection_s"):
        out.warnings.append(
            f"each gateway would publish {per_gateway_s:.0f} messages/s, above IoT Core's 100 per "
            "connection: fewer devices per gateway")
    account = _limit("iot_account_inbound_publishes_s")
    if messages_s > account:
        out.warnings.append(
            f"{messages_s:,.0f} publishes/s exceeds IoT Core's default {account:,.0f}/s per "
            "account: request an increase, or batch longer on the gateway")
    rules = _limit("iot_rule_evaluations_s")
    if messages_s > rules:
        out.warnings.append(
            f"{messages_s:,.0f} rule evaluations/s exceeds the default {rules:,.0f}/s per account")
    if busiest > available:
        factor = math.ceil(busiest / available)
        hint = (f"raise the parallelization factor to {factor}"
                if factor <= _limit("lambda_kinesis_parallelization_max")
                else "add shards or batch evaluations")  # fmt: skip
        out.warnings.append(
            f"a stream consumer needs {busiest:,.0f} concurrent executions but gets one per "
            f"shard ({available:,.0f}): {hint}")
    concurrency = _limit("lambda_account_concurrency")
    if busiest > concurrency:
        out.warnings.append(
            f"{busiest:,.0f} concurrent executions exceeds the default {concurrency:,.0f} per "
            "region")
