"""Erasing a device's telemetry (right to be forgotten), on the InfluxDB store.

An erasure names a device and, for one episode of use, a time range. InfluxDB
deletes by predicate on tags and time:

* 2.x (Timestream for InfluxDB): ``POST /api/v2/delete`` with ``start``, ``stop``
  and the predicate ``device_id="..."`` (InfluxQL on 2.x is read-only);
* 1.x (Debian's server, the local cloud): InfluxQL ``DELETE WHERE``.

Both remove the points from queries at once; the bytes leave the disk only when
the storage engine compacts the affected shards (docs/cloud.md says how long).
Timestream for LiveAnalytics has no delete at all: there, records expire with
the table's retention.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Literal

from wardlink.cloudapi.telemetry.influxdb import InfluxDBError, InfluxHTTP, query_results
from wardlink.model.identity import DEVICE_ID_PATTERN

_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rfc3339(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("erasure times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class InfluxDBEraser:
    """Deletes series by predicate through the API of the server's major version."""

    def __init__(
        self,
        http: InfluxHTTP,
        *,
        api: Literal["v1", "v2"],
        database: str | None = None,
        org: str | None = None,
        bucket: str | None = None,
    ) -> None:
        if api == "v1" and not database:
            raise ValueError("the v1 API deletes from a database: name it")
        if api == "v2" and not (org and bucket):
            raise ValueError("the v2 API deletes from an org's bucket: name both")
        self._http = http
        self._api = api
        self._database = database
        self._org = org
        self._bucket = bucket

    def erase_device(
        self, device_id: str, *, start: datetime | None = None, stop: datetime | None = None
    ) -> None:
        """Delete every point of ``device_id`` in ``[start, stop)`` (default: all of them)."""
        if not _DEVICE_ID.match(device_id):
            raise ValueError(f"not a device id: {device_id!r}")
        begin = start or _EPOCH
        end = stop or datetime.now(UTC) + timedelta(days=1)
        if end <= begin:
            raise ValueError("stop must be after start")
        if self._api == "v2":
            self._delete_v2(device_id, begin, end)
        else:
            self._delete_v1(device_id, begin, end)

    def _delete_v2(self, device_id: str, begin: datetime, end: datetime) -> None:
        assert self._org is not None and self._bucket is not None
        body = {
            "start": _rfc3339(begin),
            "stop": _rfc3339(end),
            "predicate": f'device_id="{device_id}"',
        }
        response = self._http.request(
            "POST",
            "/api/v2/delete",
            params={"org": self._org, "bucket": self._bucket},
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        if response.status != 204:
            text = response.data.decode(errors="replace")[:500]
            raise InfluxDBError(f"InfluxDB refused the delete: {response.status} {text}")

    def _delete_v1(self, device_id: str, begin: datetime, end: datetime) -> None:
        assert self._database is not None
        statement = (
            f"DELETE WHERE \"device_id\" = '{device_id}' "
            f"AND time >= '{_rfc3339(begin)}' AND time < '{_rfc3339(end)}'"
        )
        response = self._http.request(
            "POST", "/query", params={"db": self._database, "q": statement}
        )
        query_results(response)
