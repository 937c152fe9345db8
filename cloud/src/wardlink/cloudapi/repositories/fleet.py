"""Fleet search for support: the Devices table by category, model prefix, firmware, site, gateway.

Support asks questions like "every glucose meter on firmware 1.2.0.4" or "every
model starting with 'glucose' on 1.2.x". The older ``/devices`` search needs the
exact model string and refuses firmware on its own; this one serves the shapes
support uses from indexes, and the rest by a Scan that it says it made:

* category with firmware (exact, component prefix or range): ``by_category_firmware``
  (``category``, ``fw_key``); inventory units carry a category, so do registrations
  whose gateway reports one;
* exact firmware, with or without a model prefix (case-insensitive):
  ``by_firmware_model`` (``fw_norm``, ``model_uid`` = ``{model_key}#{uid}``), where
  ``model_key`` is the lower-cased, whitespace-collapsed model;
* model prefix without firmware, or with a firmware prefix or range:
  ``by_model_prefix`` (``model_head``, ``model_sk`` = ``{model_key}#{firmware_key}#{uid}``),
  ``model_head`` being the key's first character; a firmware prefix or range is then
  a filter on the rows of that model prefix (slower for a broad prefix);
* gateway: ``by_gateway``; site: ``by_site``;
* anything else (connectivity or last seen alone, a firmware range alone): a Scan,
  reported as such.

Firmware versions are compared as versions, not text: ``firmware_key`` zero-pads
every numeric component (``1.10`` sorts after ``1.9``), so a range is a key
``BETWEEN`` and a prefix (``1.2`` = ``1.2.*``) a ``begins_with`` on whole components.
The derived attributes are written with every registration and inventory load
(``index_attributes``), so they cannot drift from the fields they come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from wardlink.cloudapi.errors import BadRequest
from wardlink.cloudapi.repositories.items import decode_token, encode_token, from_item, to_attr
from wardlink.contract.fleet import FleetDevice, FleetSearchPage
from wardlink.contract.models import UNKNOWN_FIRMWARE

CATEGORY_INDEX = "by_category_firmware"
MODEL_INDEX = "by_model_prefix"
FIRMWARE_MODEL_INDEX = "by_firmware_model"
GATEWAY_INDEX = "by_gateway"
SITE_INDEX = "by_site"
INVENTORY_PREFIX = "inventory#"
_DIGITS = 8
#: DynamoDB calls one search may make before it returns a partial page with a token.
MAX_QUERY_CALLS = 20
MAX_SCAN_CALLS = 4
SCAN_PAGE = 1000
_KEYS = {
    CATEGORY_INDEX: ("category", "fw_key"),
    MODEL_INDEX: ("model_head", "model_sk"),
    FIRMWARE_MODEL_INDEX: ("fw_norm", "model_uid"),
    GATEWAY_INDEX: ("gateway_id", "device_uid"),
    SITE_INDEX: ("site_id", "device_uid"),
}


def firmware_key(version: str | None) -> str:
    """``1.2.0.4`` -> ``00000001.00000002.00000000.00000004``: sorts as versions do."""
    parts = (version or UNKNOWN_FIRMWARE).strip().lower().split(".")
    return ".".join(p.zfill(_DIGITS) if p.isdigit() else p for p in parts)


def model_key(model: str) -> str:
    """Lower case, whitespace collapsed, ``#`` (the key separator) as a space."""
    return " ".join(model.replace("#", " ").lower().split())


def index_attributes(uid: str, model: str, firmware_version: str | None) -> dict[str, str]:
    """The derived attributes the fleet indexes read, for one Devices-table item."""
    key = model_key(model)
    fw = firmware_key(firmware_version)
    attributes = {
        "fw_key": f"{fw}#{uid}",
        "model_sk": f"{key}#{fw}#{uid}",
        "fw_norm": fw,
        "model_uid": f"{key}#{uid}",
    }
    if key:
        attributes["model_head"] = key[0]
    return attributes


@dataclass(frozen=True)
class FleetSearch:
    """What support asks for; any combination, at least nothing (a full scan, paged)."""

    category: str | None = None
    model: str | None = None
    firmware: str | None = None
    firmware_prefix: str | None = None
    firmware_from: str | None = None
    firmware_to: str | None = None
    site_id: str | None = None
    gateway_id: str | None = None
    status: str | None = None
    seen_after: str | None = None
    seen_before: str | None = None

    def __post_init__(self) -> None:
        ranged = self.firmware_from is not None or self.firmware_to is not None
        if sum((self.firmware is not None, self.firmware_prefix is not None, ranged)) > 1:
            raise BadRequest("give one of firmware, firmware_prefix or a firmware range")
        if self.model is not None and not model_key(self.model):
            raise BadRequest("model needs at least one character besides spaces and '#'")

    @property
    def index(self) -> str | None:
        """The index that serves this search, or None for a Scan."""
        if self.category:
            return CATEGORY_INDEX
        if self.firmware is not None:
            return FIRMWARE_MODEL_INDEX
        if self.model:
            return MODEL_INDEX
        if self.gateway_id:
            return GATEWAY_INDEX
        if self.site_id:
            return SITE_INDEX
        return None

    def firmware_condition(self, values: dict[str, Any], attribute: str = "fw_key") -> str | None:
        """A condition on ``fw_key`` (or ``#fwk``) for the firmware filter, if any."""
        if self.firmware is not None:
            values[":fwx"] = to_attr(firmware_key(self.firmware) + "#")
            return f"begins_with({attribute}, :fwx)"
        if self.firmware_prefix is not None:
            values[":fwp"] = to_attr(firmware_key(self.firmware_prefix.rstrip(".*")) + ".")
            return f"begins_with({attribute}, :fwp)"
        if self.firmware_from is not None and self.firmware_to is not None:
            values[":fwlo"] = to_attr(firmware_key(self.firmware_from) + "#")
            values[":fwhi"] = to_attr(firmware_key(self.firmware_to) + "$")  # '$' sorts after '#'
            return f"{attribute} BETWEEN :fwlo AND :fwhi"
        if self.firmware_from is not None:
            values[":fwlo"] = to_attr(firmware_key(self.firmware_from) + "#")
            return f"{attribute} >= :fwlo"
        if self.firmware_to is not None:
            values[":fwhi"] = to_attr(firmware_key(self.firmware_to) + "$")
            return f"{attribute} <= :fwhi"
        return None

    def key_condition(self, values: dict[str, Any]) -> tuple[str, bool]:
        """(key condition, whether the firmware filter is in it) for ``self.index``."""
        index = self.index
        if index == CATEGORY_INDEX:
            values[":pk"] = to_attr(self.category)
            firmware = self.firmware_condition(values)
            if firmware:
                return f"category = :pk AND {firmware}", True
            return "category = :pk", False
        if index == FIRMWARE_MODEL_INDEX:
            values[":pk"] = to_attr(firmware_key(self.firmware))
            if self.model is not None:
                values[":mp"] = to_attr(model_key(self.model))
                return "fw_norm = :pk AND begins_with(model_uid, :mp)", True
            return "fw_norm = :pk", True
        if index == MODEL_INDEX:
            assert self.model is not None
            prefix = model_key(self.model)
            values[":pk"] = to_attr(prefix[0])
            values[":mp"] = to_attr(prefix)
            return "model_head = :pk AND begins_with(model_sk, :mp)", False
        if index == GATEWAY_INDEX:
            values[":pk"] = to_attr(self.gateway_id)
            return "gateway_id = :pk", False
        values[":pk"] = to_attr(self.site_id)
        return "site_id = :pk", False

    def filter_expression(
        self, values: dict[str, Any], names: dict[str, str], firmware_in_key: bool
    ) -> str | None:
        """What the index key cannot say, as a FilterExpression (None: nothing left)."""
        index = self.index
        filters: list[str] = []

        def equal(attribute: str, value: str | None, placeholder: str) -> None:
            if value is not None:
                names[f"#{placeholder}"] = attribute
                values[f":{placeholder}"] = to_attr(value)
                filters.append(f"#{placeholder} = :{placeholder}")

        if index != CATEGORY_INDEX:
            equal("category", self.category, "cat")
        if index not in (GATEWAY_INDEX,):
            equal("gateway_id", self.gateway_id, "gw")
        if index not in (SITE_INDEX,):
            equal("site_id", self.site_id, "site")
        equal("status", self.status, "st")
        if self.model is not None and index not in (MODEL_INDEX, FIRMWARE_MODEL_INDEX):
            names["#msk"] = "model_sk"
            values[":mpf"] = to_attr(model_key(self.model))
            filters.append("begins_with(#msk, :mpf)")
        if not firmware_in_key:
            firmware = self.firmware_condition(values, "#fwk")
            if firmware:
                names["#fwk"] = "fw_key"
                filters.append(firmware)
        if self.seen_after is not None or self.seen_before is not None:
            names["#seen"] = "last_seen"
        if self.seen_after is not None:
            values[":after"] = to_attr(self.seen_after)
            filters.append("#seen >= :after")
        if self.seen_before is not None:
            values[":before"] = to_attr(self.seen_before)
            filters.append("#seen <= :before")
        if index is None:
            names["#uid"] = "device_uid"
            values[":marker"] = to_attr(INVENTORY_PREFIX)
            filters.append("#uid <> :marker")  # the inventory's load marker is no device
        return " AND ".join(filters) or None


class FleetSearchRepository:
    """Reads the Devices table for ``FleetSearch``; never writes."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def search(
        self, search: FleetSearch, limit: int, next_token: str | None = None
    ) -> FleetSearchPage:
        index = search.index
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        request: dict[str, Any] = {"TableName": self._table}
        firmware_in_key = False
        if index is not None:
            condition, firmware_in_key = search.key_condition(values)
            request["IndexName"] = index
            request["KeyConditionExpression"] = condition
        keys = ("device_uid", *_KEYS.get(index or "", ()))
        condition_filter = search.filter_expression(values, names, firmware_in_key)
        if condition_filter:
            request["FilterExpression"] = condition_filter
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        start = decode_token(next_token, set(keys))
        calls = MAX_QUERY_CALLS if index else MAX_SCAN_CALLS
        items: list[FleetDevice] = []
        while True:
            if start:
                request["ExclusiveStartKey"] = start
            need = limit - len(items)
            # with a filter, Limit counts items read, not matches: read generously
            request["Limit"] = SCAN_PAGE if condition_filter else need
            try:
                response = (self._ddb.query if index else self._ddb.scan)(**request)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ValidationException" and start:
                    raise BadRequest("next_token does not belong to this search") from exc
                raise
            calls -= 1
            page = response.get("Items", [])
            start = response.get("LastEvaluatedKey")
            if len(page) > need:  # more matched than fit: resume after the last one kept
                page = page[:need]
                start = {k: page[-1][k] for k in keys if k in page[-1]}
            items.extend(fleet_device(from_item(i)) for i in page)
            if len(items) >= limit or not start or calls <= 0:
                break
        note = None
        if index is None:
            note = (
                "no index serves these filters: the table was scanned "
                "(index by category, model prefix, gateway or site to avoid it)"
            )
        return FleetSearchPage(
            items=items,
            next_token=encode_token(start),
            index=index,
            scanned=index is None,
            note=note,
        )


def fleet_device(item: dict[str, Any]) -> FleetDevice:
    """A Devices-table item, gateway registration or inventory unit, as support sees it."""
    uid = str(item["device_uid"])
    inventory = uid.startswith(INVENTORY_PREFIX)
    return FleetDevice(
        device_uid=uid,
        source="inventory" if inventory else "gateway",
        gateway_id=item.get("gateway_id"),
        device_id=item.get("device_id"),
        serial_number=item.get("serial_number"),
        model=str(item.get("model", "")),
        manufacturer=item.get("manufacturer"),
        category=item.get("category"),
        firmware_version=item.get("firmware_version"),
        site_id=item.get("assigned_site_id") if inventory else item.get("site_id"),
        status=item.get("status"),
        last_seen=item.get("last_seen"),
    )
