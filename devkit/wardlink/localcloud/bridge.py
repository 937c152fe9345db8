"""The IoT rule + Kinesis stand-in: MQTT messages -> Kinesis-style batches -> consumers.

In AWS the topic rule ``SELECT *, topic(3) AS gateway_id FROM 'wardlink/v1/+/+'``
puts each message on a Kinesis stream (partition key: the gateway id), and Lambda
consumers read it in batches. Here an awscrt MQTT 5 client subscribes to the local
broker, applies the same projection, and a worker thread hands batches (up to
100 records, or whatever arrived within ``linger_s``) to every consumer: the
telemetry writer handler, and whatever else was attached (the detectors engine).
The gateway UI's audit copies (``wardlink/v1/+/audit``) have their own rule in AWS
(a log group, ``wardlink_infra.gateway_audit``); here they are kept in
``MqttBridge.audit_events`` and logged, never fed to the stream.

Consumers run on the worker thread, never on the MQTT client's callback thread,
so a slow consumer delays delivery but cannot stall the client. A consumer that
raises is logged and the others still get the batch. If the telemetry writer
reports batch item failures, the failed tail is re-delivered a few times, as
Lambda would re-read the shard.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from awscrt import mqtt5

from wardlink.model.errors import WardlinkError

log = logging.getLogger(__name__)

TOPIC_FILTER = "wardlink/v1/+/+"
#: Not a Kinesis kind: in AWS its own rule writes the gateway-audit log group.
AUDIT_KIND = "audit"
AUDIT_FIELDS = ("time", "user", "action", "device_id", "outcome", "alert")
Consumer = Callable[[dict[str, Any]], Any]


class BridgeError(WardlinkError):
    """The bridge could not connect or subscribe to the broker."""


@dataclass(frozen=True)
class RuleOutput:
    partition_key: str
    data: bytes


def apply_topic_rule(topic: str, payload: bytes) -> RuleOutput | None:
    """``SELECT *, topic(3) AS gateway_id`` on one message; None if the topic is not ours.

    A payload that is not a JSON object passes through unchanged (the consumers
    count it as malformed), as IoT Core does not drop what it cannot parse silently.
    """
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "wardlink" or parts[1] != "v1" or not parts[2]:
        return None
    if parts[3] == AUDIT_KIND:
        return None  # the audit rule's, not the stream's (``audit_event``)
    gateway_id = parts[2]
    try:
        document = json.loads(payload)
    except ValueError:
        return RuleOutput(gateway_id, payload)
    if not isinstance(document, dict):
        return RuleOutput(gateway_id, payload)
    document["gateway_id"] = gateway_id
    return RuleOutput(gateway_id, json.dumps(document, separators=(",", ":")).encode())


def audit_event(topic: str, payload: bytes) -> dict[str, Any] | None:
    """The gateway-audit rule's projection: the allowed fields, the gateway from the topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[:2] != ["wardlink", "v1"] or parts[3] != AUDIT_KIND:
        return None
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    event = {k: document[k] for k in AUDIT_FIELDS if k in document}
    event["gateway_id"] = parts[2]
    return event


class KinesisFeed:
    """Batches rule outputs into Kinesis events and delivers them on one thread."""

    def __init__(
        self,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        stream_name: str = "wardlink-local-telemetry",
        max_batch: int = 100,
        linger_s: float = 0.2,
        redeliveries: int = 3,
    ) -> None:
        self._queue: queue.Queue[RuleOutput | None] = queue.Queue(maxsize=10_000)
        self._consumers: list[tuple[str, Consumer]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._region = region
        self._arn = f"arn:aws:kinesis:{region}:{account_id}:stream/{stream_name}"
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._redeliveries = redeliveries
        self._thread: threading.Thread | None = None
        self.records_in = 0
        self.batches_delivered = 0
        self.consumer_errors = 0

    def add_consumer(self, name: str, consumer: Consumer) -> None:
        with self._lock:
            self._consumers.append((name, consumer))

    def put(self, output: RuleOutput) -> None:
        self._queue.put(output)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wardlink-kinesis-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=timeout_s)
            self._thread = None

    def idle(self) -> bool:
        """True when nothing is queued (a batch may still be in delivery)."""
        return self._queue.unfinished_tasks == 0

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            deadline = time.monotonic() + self._linger_s
            stopping = False
            while len(batch) < self._max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    self._queue.task_done()
                    break
                batch.append(item)
            try:
                self._deliver([self._record(o) for o in batch])
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stopping:
                return

    def _record(self, output: RuleOutput) -> dict[str, Any]:
        self.records_in += 1
        sequence = f"{next(self._seq):056d}"
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": output.partition_key,
                "sequenceNumber": sequence,
                "data": base64.b64encode(output.data).decode(),
                "approximateArrivalTimestamp": time.time(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"shardId-000000000000:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::000000000000:role/wardlink-local",
            "awsRegion": self._region,
            "eventSourceARN": self._arn,
        }

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            consumers = list(self._consumers)
        for name, consumer in consumers:
            pending = records
            for attempt in range(self._redeliveries + 1):
                try:
                    result = consumer({"Records": pending})
                except Exception:
                    self.consumer_errors += 1
                    log.exception("consumer %s failed on a batch of %d", name, len(pending))
                    break
                failed_from = _first_failure(result)
                if failed_from is None:
                    break
                pending = [r for r in pending if r["kinesis"]["sequenceNumber"] >= failed_from]
                if attempt == self._redeliveries:
                    log.error(
                        "consumer %s kept failing from %s; dropping %d records",
                        name,
                        failed_from,
                        len(pending),
                    )
                else:
                    time.sleep(min(2.0, 0.1 * 2**attempt))
        self.batches_delivered += 1


def _first_failure(result: Any) -> str | None:
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures") or []
    identifiers = [str(f.get("itemIdentifier")) for f in failures if f.get("itemIdentifier")]
    return min(identifiers) if identifiers else None


class MqttBridge:
    """Subscribes to ``wardlink/v1/+/+`` on a broker and feeds a ``KinesisFeed``."""

    def __init__(self, url: str, feed: KinesisFeed, topic_filter: str = TOPIC_FILTER) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise BridgeError(f"unsupported broker URL {url!r}: use mqtt://host:port")
        self._host = parts.hostname
        self._port = parts.port or 1883
        self._feed = feed
        self._topic_filter = topic_filter
        self._client: mqtt5.Client | None = None
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self.messages_in = 0
        self.messages_ignored = 0
        #: the local stand-in for the gateway-audit log group (newest last, bounded)
        self.audit_events: deque[dict[str, Any]] = deque(maxlen=1000)

    def start(self, timeout_s: float = 10.0) -> None:
        options = mqtt5.ClientOptions(host_name=self._host, port=self._port)
        options.connect_options = mqtt5.ConnectPacket(
            client_id=f"wardlink-local-bridge-{uuid.uuid4().hex[:8]}", keep_alive_interval_sec=30
        )
        options.session_behavior = mqtt5.ClientSessionBehaviorType.CLEAN
        options.on_publish_callback_fn = self._on_publish
        options.on_lifecycle_event_connection_success_fn = lambda _: self._connected.set()
        options.on_lifecycle_event_disconnection_fn = lambda _: self._connected.clear()
        options.on_lifecycle_event_stopped_fn = lambda _: self._stopped.set()
        options.min_reconnect_delay_ms = 200
        options.max_reconnect_delay_ms = 5000
        client = mqtt5.Client(options)
        client.start()
        self._client = client
        if not self._connected.wait(timeout_s):
            self.stop()
            raise BridgeError(f"no connection to mqtt://{self._host}:{self._port}")
        future: Future[Any] = client.subscribe(
            mqtt5.SubscribePacket(
                subscriptions=[
                    mqtt5.Subscription(topic_filter=self._topic_filter, qos=mqtt5.QoS.AT_LEAST_ONCE)
                ]
            )
        )
        suback = future.result(timeout_s)
        codes = list(getattr(suback, "reason_codes", []))
        if not codes or int(codes[0]) > 1:
            self.stop()
            raise BridgeError(f"subscription to {self._topic_filter} refused: {codes}")

    def stop(self, timeout_s: float = 5.0) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.stop()
            self._stopped.wait(timeout_s)

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        audit = audit_event(str(packet.topic), bytes(packet.payload or b""))
        if audit is not None:
            self.audit_events.append(audit)
            log.info("gateway audit event", extra={"audit": audit})
            return
        output = apply_topic_rule(str(packet.topic), bytes(packet.payload or b""))
        if output is None:
            self.messages_ignored += 1
            return
        self.messages_in += 1
        self._feed.put(output)
