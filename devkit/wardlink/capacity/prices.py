"""The limits and list prices the capacity model rests on, each with where it came from.

Rules as data: every figure the model multiplies by is one row here, with its unit,
its source, the date it was read and whether it was checked against that source.
Limits and metering rules were checked against the stored AWS pages named in
``source`` on 2026-12-06. The dollar prices could not be checked from this machine (no
network beyond stored pages, and those pages did not carry the figures): they are the
public us-east-1 list prices as last known to the author and are marked ``to verify``
until someone reads the price pages and sets ``checked``. ``docs/capacity.md`` prints
this table; change a price here, not there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMITS", "PRICES", "READ_ON", "Fact", "facts_markdown"]

READ_ON = "2026-12-06"


@dataclass(frozen=True)
class Fact:
    """One limit or price: ``value`` in ``unit``, from ``source``, checked or to verify."""

    key: str
    value: float
    unit: str
    what: str
    source: str
    checked: bool

    @property
    def status(self) -> str:
        return f"checked {READ_ON}" if self.checked else "to verify"


_IOT = "https://docs.aws.amazon.com/general/latest/gr/iot-core.html"
_IOT_METERING = "https://aws.amazon.com/iot-core/pricing/additional-details/"
_IOT_PRICING = "https://aws.amazon.com/iot-core/pricing/"
_KDS_PRICING = "https://aws.amazon.com/kinesis/data-streams/pricing/"
_KDS_QUOTAS = "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
_LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"

LIMITS: dict[str, Fact] = {f.key: f for f in (
    Fact("iot_message_meter_bytes", 5 * 1024, "bytes",
         "IoT Core meters each message in 5 KB increments", _IOT_METERING, True),
    Fact("iot_max_payload_bytes", 128 * 1024, "bytes", "largest MQTT payload", _IOT, True),
    Fact("iot_publishes_per_connection_s", 100, "publishes/s",
         "publishes per second per connection (not adjustable)", _IOT, True),
    Fact("iot_account_inbound_publishes_s", 20_000, "publishes/s",
         "inbound publishes per second per account (default, adjustable; lower in "
         "smaller regions)", _IOT, False),
    Fact("iot_account_connects_s", 500, "connects/s",
         "connect requests per second per account (default, adjustable)", _IOT, False),
    Fact("iot_rule_evaluations_s", 20_000, "evaluations/s",
         "rule evaluations per second per account (default, adjustable)", _IOT, False),
    Fact("kds_shard_in_bytes_s", 1024 * 1024, "bytes/s", "writes per shard", _KDS_PRICING, True),
    Fact("kds_shard_in_records_s", 1000, "records/s", "records written per shard",
         _KDS_PRICING, True),
    Fact("kds_shard_out_bytes_s", 2 * 1024 * 1024, "bytes/s",
         "reads per shard, shared by standard consumers", _KDS_PRICING, True),
    Fact("kds_on_demand_record_rounding_bytes", 1024, "bytes",
         "on-demand bills each record rounded up to 1 KB", _KDS_PRICING, True),
    Fact("lambda_account_concurrency", 1000, "executions",
         "concurrent executions per region (default, adjustable)", _LAMBDA, False),
    Fact("lambda_kinesis_parallelization_max", 10, "batches per shard",
         "concurrent batches per shard of a Kinesis event source mapping", _LAMBDA, False),
)}  # fmt: skip

PRICES: dict[str, Fact] = {f.key: f for f in (
    Fact("iot_connectivity_per_million_minutes", 0.08, "USD / million connection-minutes",
         "IoT Core connectivity", _IOT_PRICING, False),
    Fact("iot_messages_per_million", 1.00, "USD / million 5 KB messages",
         "IoT Core messaging, the first billion a month", _IOT_PRICING, False),
    Fact("iot_messages_per_million_next_4b", 0.80, "USD / million 5 KB messages",
         "IoT Core messaging, the next 4 billion a month", _IOT_PRICING, False),
    Fact("iot_messages_per_million_over_5b", 0.70, "USD / million 5 KB messages",
         "IoT Core messaging above 5 billion a month", _IOT_PRICING, False),
    Fact("iot_rules_per_million", 0.15, "USD / million rules triggered", "IoT rules engine",
         _IOT_PRICING, False),
    Fact("iot_actions_per_million", 0.15, "USD / million actions executed", "IoT rule actions",
         _IOT_PRICING, False),
    Fact("kds_on_demand_stream_hour", 0.04, "USD / stream-hour", "Kinesis on-demand stream",
         _KDS_PRICING, False),
    Fact("kds_on_demand_gb_in", 0.08, "USD / GB written", "Kinesis on-demand data in",
         _KDS_PRICING, False),
    Fact("kds_on_demand_gb_out", 0.04, "USD / GB read", "Kinesis on-demand data out",
         _KDS_PRICING, False),
    Fact("lambda_per_million_requests", 0.20, "USD / million requests", "Lambda requests",
         "https://aws.amazon.com/lambda/pricing/", False),
    Fact("lambda_gb_second", 0.0000166667, "USD / GB-second", "Lambda x86 duration",
         "https://aws.amazon.com/lambda/pricing/", False),
    Fact("ddb_on_demand_per_million_wru", 0.625, "USD / million write request units",
         "DynamoDB on-demand writes", "https://aws.amazon.com/dynamodb/pricing/on-demand/",
         False),
    Fact("ddb_on_demand_per_million_rru", 0.125, "USD / million read request units",
         "DynamoDB on-demand reads", "https://aws.amazon.com/dynamodb/pricing/on-demand/",
         False),
    Fact("cloudwatch_logs_gb_ingested", 0.50, "USD / GB", "CloudWatch Logs ingestion",
         "https://aws.amazon.com/cloudwatch/pricing/", False),
    Fact("kvs_gb_ingested", 0.0085, "USD / GB", "Kinesis Video Streams ingestion",
         "https://aws.amazon.com/kinesis/video-streams/pricing/", False),
    Fact("kvs_gb_month_stored", 0.023, "USD / GB-month", "Kinesis Video Streams storage",
         "https://aws.amazon.com/kinesis/video-streams/pricing/", False),
    Fact("s3_gb_month", 0.023, "USD / GB-month", "S3 Standard storage (first 50 TB)",
         "https://aws.amazon.com/s3/pricing/", False),
    Fact("s3_per_thousand_puts", 0.005, "USD / 1,000 PUT requests", "S3 Standard PUT",
         "https://aws.amazon.com/s3/pricing/", False),
)}  # fmt: skip


def facts_markdown() -> str:
    """The limits and prices as the Markdown table docs/capacity.md carries (a test
    checks the document holds exactly this; ``wardlink cloud capacity --facts`` prints it)."""
    lines = ["| Key | Value | Unit | What | Source | Status |", "|---|---|---|---|---|---|"]
    for fact in [*LIMITS.values(), *PRICES.values()]:
        value = f"{fact.value:,.10f}".rstrip("0").rstrip(".")
        lines.append(f"| `{fact.key}` | {value} | {fact.unit} | {fact.what} | "
                     f"{fact.source} | {fact.status} |")
    return "\n".join(lines)

