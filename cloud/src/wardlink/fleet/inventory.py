"""The device inventory: a manufacturer's units, validated and loaded into the Devices table.

A gateway registers a device only when it first sees it, so before this module the
cloud knew nothing of a unit still on a shelf. The inventory (JSONL or CSV, one unit
a row: ``serial_number``, ``model``, ``category``, ``firmware_version``, ``site_id``
and optional extra attributes) is loaded as one Devices-table item per unit, keyed
``inventory#<serial_number>`` (``#`` never occurs in a gateway's device uid, so the
two kinds cannot collide).

Where the unit is: a gateway's registration carries the serial number when the
site's PHI policy lets it through (``identifiers.device_serial: keep``); both the
inventory item and every registration with that serial are then in the
``by_serial`` index, and one Query joins them (``locate``). With the default
policy (``drop``, or a keyed pseudonym) no registration carries the real serial,
and the unit stays "not located": the inventory is never matched on a guess.

Inventory items carry no ``gateway_id`` and no ``firmware_sk`` and name their site
``assigned_site_id``, so they stay out of the gateway, model and site indexes the
gateway-facing API serves (a gateway never sees the inventory; the API's device
shape stays true). They are in support's fleet-search indexes (``by_category_firmware``,
``by_model_prefix``: ``wardlink.cloudapi.repositories.fleet``), which only the
support route reads.

The load is idempotent: each chunk of 100 units is read first (keys and a hash of the
inventory fields only); a unit that is absent is put with a parallel BatchWriteItem
(unprocessed items retried with backoff), a unit whose fields changed is updated
field by field (an UpdateItem never clobbers attributes others added), and an
unchanged one is left alone, so a re-run writes nothing. The very first load into a
table skips the reads: a marker item (``inventory#``, an empty serial no unit can have)
is written before any unit, so while it is absent no inventory item can exist and a
plain put cannot overwrite anything; every later load, or a re-run after a crash,
compares.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wardlink.cloudapi.repositories.fleet import index_attributes
from wardlink.contract.models import FIRMWARE_PATTERN, SITE_ID_PATTERN

INVENTORY_PREFIX = "inventory#"
RECORD_KIND = "inventory"
SERIAL_INDEX = "by_serial"
REQUIRED_COLUMNS = ("serial_number", "model", "category", "firmware_version", "site_id")
SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
CATEGORY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
EXTRA_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_EXTRA_ATTRIBUTES = 20
MAX_EXTRA_LENGTH = 256
READ_CHUNK = 100  # BatchGetItem's limit
WRITE_CHUNK = 25  # BatchWriteItem's limit
MAX_ATTEMPTS = 8
_EXTRA_NAME = re.compile(EXTRA_NAME_PATTERN)
MARKER_UID = INVENTORY_PREFIX  # "inventory#": written before the first unit ever is


def inventory_uid(serial_number: str) -> str:
    """The Devices-table key of a unit's inventory record."""
    return f"{INVENTORY_PREFIX}{serial_number}"


class InventoryRecord(BaseModel):
    """One unit of the manufacturer's inventory; unknown columns become ``attributes``."""

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=True)

    serial_number: str = Field(pattern=SERIAL_PATTERN)
    model: str = Field(min_length=1, max_length=128)
    category: str = Field(pattern=CATEGORY_PATTERN)
    firmware_version: str = Field(pattern=FIRMWARE_PATTERN)
    site_id: str = Field(pattern=SITE_ID_PATTERN)

    @model_validator(mode="after")
    def _check_extras(self) -> InventoryRecord:
        extras = self.model_extra or {}
        if len(extras) > MAX_EXTRA_ATTRIBUTES:
            raise ValueError(f"at most {MAX_EXTRA_ATTRIBUTES} extra attributes")
        for name, value in extras.items():
            if not isinstance(name, str) or not _EXTRA_NAME.fullmatch(name):
                raise ValueError(f"extra attribute name {name!r} is not lower_snake_case")
            if value is not None and not isinstance(value, str | int | float | bool):
                raise ValueError(f"extra attribute {name!r} must be text, a number or a boolean")
            if isinstance(value, str) and len(value) > MAX_EXTRA_LENGTH:
                raise ValueError(f"extra attribute {name!r} is longer than {MAX_EXTRA_LENGTH}")
        return self

    @property
    def attributes(self) -> dict[str, str]:
        """Extra columns as text (empty CSV cells and nulls left out)."""
        return {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in sorted((self.model_extra or {}).items())
            if v is not None and v != ""
        }

    def fields(self) -> dict[str, Any]:
        """The attributes the inventory owns on its item (everything else is others')."""
        values: dict[str, Any] = {
            "record": RECORD_KIND,
            "serial_number": self.serial_number,
            "model": self.model,
            "category": self.category,
            "firmware_version": self.firmware_version,
            "assigned_site_id": self.site_id,
            "attributes": self.attributes,
            # support's fleet search (by_category_firmware, by_model_prefix)
            **index_attributes(
                inventory_uid(self.serial_number), self.model, self.firmware_version
            ),
        }
        canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
        values["inventory_hash"] = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        return values

    def item(self) -> dict[str, Any]:
        """The whole DynamoDB item (typed JSON) for a unit not in the table yet."""
        return {"device_uid": {"S": inventory_uid(self.serial_number)}, **_typed(self.fields())}


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[key] = {"M": {k: {"S": v} for k, v in value.items()}}
        else:
            out[key] = {"S": value}
    return out


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One data row of the input: its line number, parsed fields (or why not), raw text."""

    line: int
    fields: dict[str, Any] | None
    raw: str
    error: str | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    serial_number: str | None
    error: str
    raw: str


@dataclass
class InventoryFile:
    """The rows of one inventory file, and how to write rows back in its own format."""

    path: Path
    format: str  # "jsonl" | "csv"
    rows: list[Row]
    header: list[str] = field(default_factory=list)

    def retry_text(self, rows: Iterable[Row | RowError]) -> str:
        """The given rows as a file of the same format, to fix and load again."""
        raws = [r.raw for r in rows]
        if self.format == "csv":
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(self.header)
            return buffer.getvalue() + "".join(raw + "\n" for raw in raws)
        return "".join(raw + "\n" for raw in raws)


def read_inventory(path: Path) -> InventoryFile:
    """Parse a JSONL or CSV inventory (by extension; ``.csv`` is CSV, anything else JSONL)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return _read_csv(path, text)
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            rows.append(Row(number, None, line, f"not JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            rows.append(Row(number, None, line, "not a JSON object"))
            continue
        rows.append(Row(number, value, line))
    return InventoryFile(path, "jsonl", rows)


def _read_csv(path: Path, text: str) -> InventoryFile:
    lines = text.splitlines()
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return InventoryFile(path, "csv", [], [])
    rows: list[Row] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    for cells in reader:
        number = reader.line_num
        raw = lines[number - 1] if number - 1 < len(lines) else ",".join(cells)
        if not any(c.strip() for c in cells):
            continue
        if missing:
            rows.append(Row(number, None, raw, f"the header lacks {', '.join(missing)}"))
        elif len(cells) != len(header):
            rows.append(Row(number, None, raw, f"{len(cells)} cells, the header has {len(header)}"))
        else:
            rows.append(Row(number, dict(zip(header, cells, strict=True)), raw))
    return InventoryFile(path, "csv", rows, header)


# -- validation ---------------------------------------------------------------------------


@dataclass
class Validated:
    records: list[tuple[Row, InventoryRecord]]
    errors: list[RowError]


def validate_rows(rows: Sequence[Row]) -> Validated:
    """Schema and duplicates: a serial number seen earlier in the file is an error."""
    records: list[tuple[Row, InventoryRecord]] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    validate = InventoryRecord.model_validate
    for row in rows:
        serial = row.fields.get("serial_number") if row.fields else None
        serial_text = serial.strip() if isinstance(serial, str) else None
        if row.fields is None:
            errors.append(RowError(row.line, None, row.error or "unreadable", row.raw))
            continue
        try:
            record = validate(row.fields)
        except ValidationError as exc:
            errors.append(RowError(row.line, serial_text, _explain(exc), row.raw))
            continue
        seen = first_line.setdefault(record.serial_number, row.line)
        if seen != row.line:
            errors.append(
                RowError(row.line, record.serial_number, f"duplicate of line {seen}", row.raw)
            )
            continue
        records.append((row, record))
    return Validated(records, errors)


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "row"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


# -- loading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    line: int
    serial_number: str
    outcome: str  # created | updated | unchanged | failed
    error: str | None = None


@dataclass
class LoadReport:
    outcomes: list[Outcome] = field(default_factory=list)
    invalid: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.outcome == "failed"]

    def summary(self) -> dict[str, Any]:
        rows = len(self.outcomes) + len(self.invalid)
        return {
            "rows": rows,
            "created": self.count("created"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "invalid": len(self.invalid),
            "failed": self.count("failed"),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(rows / self.seconds) if self.seconds > 0 else None,
        }


class _Unprocessed(Exception):
    """DynamoDB kept returning unprocessed items after every retry."""


class InventoryLoader:
    """Loads validated records with parallel batches; safe to run again and again."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        workers: int = 8,
        max_attempts: int = MAX_ATTEMPTS,
        base_delay_s: float = 0.05,
    ) -> None:
        self._ddb = client
        self._table = table
        self._workers = max(1, workers)
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._first_load = False

    def load(
        self,
        records: Sequence[tuple[Row, InventoryRecord]],
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Outcome]:
        """One outcome per record, in input order; failures are outcomes, not exceptions."""
        chunks = [records[i : i + READ_CHUNK] for i in range(0, len(records), READ_CHUNK)]
        self._first_load = bool(records) and self._claim_first_load()
        outcomes: list[list[Outcome]] = [[] for _ in chunks]
        lock = threading.Lock()
        with ThreadPoolExecutor(self._workers, thread_name_prefix="inventory") as pool:
            futures = {pool.submit(self._load_chunk, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                index = futures[future]
                outcomes[index] = future.result()
                if on_progress is not None:
                    with lock:
                        on_progress(len(outcomes[index]))
        return [o for chunk in outcomes for o in chunk]

    def _claim_first_load(self) -> bool:
        """Write the marker; True if it was absent (no inventory item can exist yet)."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={"device_uid": {"S": MARKER_UID}, "record": {"S": "inventory-marker"}},
                ConditionExpression="attribute_not_exists(device_uid)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _load_chunk(self, chunk: Sequence[tuple[Row, InventoryRecord]]) -> list[Outcome]:
        try:
            existing = (
                {} if self._first_load else self._read_hashes([r.serial_number for _, r in chunk])
            )
        except (ClientError, BotoCoreError, _Unprocessed) as exc:
            return [_failed(row, rec, exc) for row, rec in chunk]
        results: dict[int, Outcome] = {}
        new: list[tuple[Row, InventoryRecord, dict[str, Any]]] = []
        for row, record in chunk:
            fields = record.fields()
            have = existing.get(record.serial_number)
            if have is None:
                new.append((row, record, fields))
            elif have == fields["inventory_hash"]:
                results[row.line] = Outcome(row.line, record.serial_number, "unchanged")
            else:
                results[row.line] = self._update(row, record, fields)
        for start in range(0, len(new), WRITE_CHUNK):
            group = new[start : start + WRITE_CHUNK]
            try:
                self._put(group)
            except (ClientError, BotoCoreError, _Unprocessed) as exc:
                for row, record, _ in group:
                    results[row.line] = _failed(row, record, exc)
                continue
            for row, record, _ in group:
                results[row.line] = Outcome(row.line, record.serial_number, "created")
        return [results[row.line] for row, _ in chunk]

    def _read_hashes(self, serials: Sequence[str]) -> dict[str, str]:
        keys = [{"device_uid": {"S": inventory_uid(s)}} for s in serials]
        request: dict[str, Any] = {
            self._table: {
                "Keys": keys,
                "ProjectionExpression": "serial_number, inventory_hash",
            }
        }
        found: dict[str, str] = {}
        for attempt in range(self._max_attempts):
            response = self._ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                serial = item.get("serial_number", {}).get("S")
                if serial is not None:
                    found[serial] = item.get("inventory_hash", {}).get("S", "")
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            self._backoff(attempt)
        raise _Unprocessed("DynamoDB left keys unread after every retry")

    def _put(self, group: Sequence[tuple[Row, InventoryRecord, dict[str, Any]]]) -> None:
        pending = [{"PutRequest": {"Item": record.item()}} for _, record, _ in group]
        request: dict[str, Any] = {self._table: pending}
        for attempt in range(self._max_attempts):
            response = self._ddb.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                return
            self._backoff(attempt)
        raise _Unprocessed("DynamoDB left items unwritten after every retry")

    def _update(self, row: Row, record: InventoryRecord, fields: dict[str, Any]) -> Outcome:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        typed = _typed(fields)
        values = {f":f{i}": typed[name] for i, name in enumerate(fields)}
        values[":kind"] = {"S": RECORD_KIND}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"device_uid": {"S": inventory_uid(record.serial_number)}},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
                ConditionExpression="#kind = :kind",
                ExpressionAttributeNames={**names, "#kind": "record"},
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as exc:
            return _failed(row, record, exc)
        return Outcome(row.line, record.serial_number, "updated")

    def _backoff(self, attempt: int) -> None:
        time.sleep(self._base_delay_s * (2**attempt) * (0.5 + random.random()))


def _failed(row: Row, record: InventoryRecord, exc: Exception) -> Outcome:
    if isinstance(exc, ClientError):
        message = f"{exc.response['Error'].get('Code')}: {exc.response['Error'].get('Message')}"
    else:
        message = str(exc)
    return Outcome(row.line, record.serial_number, "failed", message)


def locate(
    client: Any, table: str, serial_number: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the inventory record, the registrations that carry this serial) via ``by_serial``."""
    from wardlink.cloudapi.repositories.items import from_item

    inventory: dict[str, Any] | None = None
    registered: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": SERIAL_INDEX,
        "KeyConditionExpression": "serial_number = :s",
        "ExpressionAttributeValues": {":s": {"S": serial_number}},
    }
    while True:
        response = client.query(**request)
        for item in response.get("Items", []):
            plain = from_item(item)
            if plain.get("record") == RECORD_KIND:
                inventory = plain
            else:
                registered.append(plain)
        if not response.get("LastEvaluatedKey"):
            return inventory, registered
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def iter_outcome_lines(report: LoadReport) -> Iterator[str]:
    for o in report.outcomes:
        if o.outcome != "failed":
            yield json.dumps(
                {"line": o.line, "serial_number": o.serial_number, "outcome": o.outcome}
            )
