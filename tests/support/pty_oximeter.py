"""A Nonin oximeter on a pty for tests that run whole components: it streams whoever listens."""

from __future__ import annotations

import contextlib
import os
import threading
import tty

from wardlink.codecs.nonin2 import encode_packet


class Oximeter:
    """Sends a Nonin format-2 packet every 50 ms to the pty at ``path`` until closed."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        beat = 0
        while not self._stop.wait(0.05):
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self.master, encode_packet(60 + beat % 30, 95 + beat % 4))
            beat += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
