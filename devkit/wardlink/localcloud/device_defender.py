"""The local Device Defender audit API: recorded audits, served as AWS IoT serves them.

moto has no Device Defender, and an audit needs a real account's certificates, policies
and connections to find anything. So the local cloud answers the three read calls the
``audit`` handler makes from a recorded document
(``recorded/device_defender_audit.json``, in the shapes of DescribeAuditTask and
ListAuditFindings' documented responses), over the same REST-JSON protocol, so the
handler's boto3 ``iot`` client and its parsing are the ones that run in Lambda:

* ``GET /audit/tasks`` (ListAuditTasks): tasks whose start lies in
  ``[startTime, endTime]``, optionally of one ``taskType`` / ``taskStatus``, paged;
* ``GET /audit/tasks/{taskId}`` (DescribeAuditTask), 404 ResourceNotFoundException
  for an unknown task;
* ``POST /audit/findings`` (ListAuditFindings): by ``taskId`` (or ``checkName`` with
  ``startTime``/``endTime``, as the API requires), suppressed findings only when
  ``listSuppressedFindings`` is true, paged with ``maxResults``/``nextToken``.

The recording's times are moved so that its latest task started an hour before the
endpoint did, which keeps the handler's look-back window meaningful. Signatures are
not checked: the only caller is the in-process handler, behind the local API that
has already verified its caller. It listens on loopback only.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, unquote

from wardlink.localcloud.http_service import LoopbackHttpService

RECORDING = "device_defender_audit.json"
_TIME_FIELDS = ("taskStartTime", "findingTime")
DEFAULT_PAGE = 25
MAX_PAGE = 250


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def load_recording(shift_to: float | None = None) -> dict[str, Any]:
    """The recorded audits; with ``shift_to``, moved so the latest task starts then."""
    document: dict[str, Any] = json.loads(
        (files("wardlink.localcloud") / "recorded" / RECORDING).read_text(encoding="utf-8")
    )
    if shift_to is not None:
        delta = shift_to - max(t["taskStartTime"] for t in document["tasks"])
        for item in [*document["tasks"], *document["findings"]]:
            for name in _TIME_FIELDS:
                if name in item:
                    item[name] = round(item[name] + delta, 3)
    return document


class LocalDeviceDefender(LoopbackHttpService):
    """``start()`` returns the endpoint to give the ``iot`` client (``endpoint_url``)."""

    methods = ("GET", "POST")
    thread_name = "wardlink-local-defender"

    def __init__(self, recording: dict[str, Any] | None = None, host: str = "127.0.0.1") -> None:
        self._data = recording if recording is not None else load_recording(time.time() - 3600)
        super().__init__(host)

    # -- HTTP ------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        raw_path, _, raw_query = request.path.partition("?")
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        segments = [unquote(s) for s in raw_path.strip("/").split("/")]
        try:
            if request.command == "GET" and segments == ["audit", "tasks"]:
                answer = self._list_tasks(query)
            elif request.command == "GET" and segments[:2] == ["audit", "tasks"] \
                    and len(segments) == 3:  # fmt: skip
                answer = self._describe_task(segments[2])
            elif request.command == "POST" and segments == ["audit", "findings"]:
                answer = self._list_findings(json.loads(body or b"{}"))
            else:
                raise _Error(404, "ResourceNotFoundException",
                             f"the local Device Defender does not serve {request.command} "
                             f"{raw_path}")  # fmt: skip
            self._reply(request, 200, answer, None)
        except _Error as exc:
            self._reply(request, exc.status, {"message": str(exc)}, exc.code)
        except (ValueError, KeyError, TypeError) as exc:
            self._reply(request, 400, {"message": f"invalid request: {exc}"},
                        "InvalidRequestException")  # fmt: skip

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any],
               error_type: str | None) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        if error_type:
            request.send_header("x-amzn-ErrorType", error_type)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    # -- the operations ----------------------------------------------------------------

    def _list_tasks(self, query: dict[str, str]) -> dict[str, Any]:
        if "startTime" not in query or "endTime" not in query:
            raise _Error(400, "InvalidRequestException", "startTime and endTime are required")
        start, end = _instant(query["startTime"]), _instant(query["endTime"])
        tasks = [
            {"taskId": t["taskId"], "taskStatus": t["taskStatus"], "taskType": t["taskType"]}
            for t in self._data["tasks"]
            if start <= t["taskStartTime"] <= end
            and query.get("taskType") in (None, t["taskType"])
            and query.get("taskStatus") in (None, t["taskStatus"])
        ]
        return _page(tasks, "tasks", query.get("maxResults"), query.get("nextToken"))

    def _describe_task(self, task_id: str) -> dict[str, Any]:
        for task in self._data["tasks"]:
            if task["taskId"] == task_id:
                return {k: v for k, v in task.items() if k != "taskId"}
        raise _Error(404, "ResourceNotFoundException", f"task {task_id} not found")

    def _list_findings(self, request: dict[str, Any]) -> dict[str, Any]:
        task_id, check = request.get("taskId"), request.get("checkName")
        if task_id and ("startTime" in request or "endTime" in request):
            raise _Error(400, "InvalidRequestException", "taskId excludes startTime/endTime")
        if not task_id and not ("startTime" in request and "endTime" in request):
            raise _Error(400, "InvalidRequestException",
                         "give taskId, or startTime and endTime")  # fmt: skip
        with_suppressed = bool(request.get("listSuppressedFindings", False))
        found = [
            f for f in self._data["findings"]
            if (not task_id or f["taskId"] == task_id)
            and (not check or f["checkName"] == check)
            and (task_id or _instant(request["startTime"]) <= f["taskStartTime"]
                 <= _instant(request["endTime"]))
            and (with_suppressed or not f.get("isSuppressed", False))
        ]  # fmt: skip
        return _page(found, "findings", request.get("maxResults"), request.get("nextToken"))


def _instant(value: Any) -> float:
    """A timestamp as botocore sends it (ISO 8601 in a query, epoch seconds in JSON)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _page(items: list[Any], key: str, max_results: Any, token: Any) -> dict[str, Any]:
    size = int(max_results) if max_results is not None else DEFAULT_PAGE
    if not 1 <= size <= MAX_PAGE:
        raise _Error(400, "InvalidRequestException", f"maxResults must be 1..{MAX_PAGE}")
    offset = int(token) if token else 0
    if not 0 <= offset <= len(items):
        raise _Error(400, "InvalidRequestException", "nextToken is not one this API issued")
    answer: dict[str, Any] = {key: items[offset:offset + size]}
    if offset + size < len(items):
        answer["nextToken"] = str(offset + size)
    return answer
