"""What keeps the UI's memory small, checked without timing: bounded compact history,
one serialized frame shared by every live browser, argon2 loaded only when used,
uvicorn without its command line.

The figures themselves are ``benchmarks/bench_ui.py``'s.
"""

from __future__ import annotations

import json
import subprocess
import sys

from wardlink.ui.heap import release_free_heap, small_tls_buffers
from wardlink.ui.site_view import HISTORY, TELEMETRY_TOPIC, History, SiteView


def test_history_is_a_bounded_ring_oldest_first() -> None:
    history = History(size=3)
    for i in range(5):
        history.append(float(i), i * 10.0)
    assert len(history) == 3
    assert history.values() == [20.0, 30.0, 40.0]
    assert history.points() == [(2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]


def test_every_listener_gets_the_same_frame_and_history_stays_bounded() -> None:
    view = SiteView()
    first, second = view.listen(), view.listen()
    for i in range(HISTORY + 30):
        item = {
            "device_id": "bed-1",
            "mdc_name": "MDC_PULS_OXIM_SAT_O2",
            "value": 90 + i % 5,
            "unit": "%",
            "measured_at": "2026-12-06T06:00:00+00:00",
        }
        view.ingest(TELEMETRY_TOPIC, json.dumps({"items": [item]}).encode())
    metric = view.devices["bed-1"].metrics["MDC_PULS_OXIM_SAT_O2"]
    assert len(metric.history) == HISTORY
    frame = first.get_nowait()
    assert frame is second.get_nowait()  # serialized once
    assert frame.startswith(b"data: {") and frame.endswith(b"\n\n")
    assert json.loads(frame[6:])["metric"] == "MDC_PULS_OXIM_SAT_O2"


def test_the_ui_loads_neither_argon2_nor_uvicorns_command_line_at_start() -> None:
    code = (
        "import sys, wardlink.ui.component;"
        "print(*[m in sys.modules for m in ('argon2', 'ctypes', 'click', 'uvicorn.main')]);"
        "import uvicorn;"  # uvicorn used as documented still has all of itself
        "print(callable(uvicorn.run), uvicorn.Server is wardlink.ui.component.Server)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"] * 4 + ["True", "True"]


def test_heap_helpers_run_here() -> None:
    from asyncio import sslproto

    release_free_heap()  # glibc here; a no-op elsewhere
    before = sslproto.SSLProtocol.max_size
    try:
        small_tls_buffers()
        assert sslproto.SSLProtocol.max_size == 32 * 1024
    finally:
        sslproto.SSLProtocol.max_size = before  # the rest of this test process as it was
