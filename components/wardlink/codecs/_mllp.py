"""MLLP, the Minimal Lower Layer Protocol that carries HL7 v2 over a byte stream.

HL7 v2.x Implementation Guide, Appendix C ("Lower Layer Protocols", MLLP release 2):
a message is framed as ``<VT> message <FS><CR>``, i.e. 0x0B, the HL7 text, then
0x1C 0x0D. Neither 0x0B nor 0x1C may appear inside an HL7 message, which is what
makes resynchronisation simple: a start byte always begins a new block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

START_BLOCK: Final = b"\x0b"
END_BLOCK: Final = b"\x1c\x0d"
MAX_MESSAGE: Final = 4 * 1024 * 1024  # far above any PCD-01 report; bounds memory


def wrap(message: bytes) -> bytes:
    """Frame one HL7 message for MLLP."""
    return START_BLOCK + message + END_BLOCK


@dataclass(frozen=True)
class Framed:
    """A complete message, or the bytes the framer had to throw away."""

    message: bytes | None = None
    discarded: int = 0
    reason: str = ""


class MllpFramer:
    """Incremental MLLP deframer: bytes in, whole messages (and discards) out."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._in_block = False
        self._scanned = 0  # bytes of the open block already searched for its end
        self._max = max_message

    def reset(self) -> None:
        self._buf.clear()
        self._in_block = False
        self._scanned = 0

    def feed(self, data: bytes) -> list[Framed]:
        out: list[Framed] = []
        self._buf += data
        buf = self._buf
        pos = 0
        while pos < len(buf):
            if not self._in_block:
                start = buf.find(START_BLOCK, pos)
                if start == -1:
                    out.append(
                        Framed(discarded=len(buf) - pos, reason="bytes outside an MLLP block")
                    )
                    pos = len(buf)
                    break
                if start > pos:
                    out.append(Framed(discarded=start - pos, reason="bytes outside an MLLP block"))
                pos = start + 1
                self._in_block = True
                continue
            scan = pos + max(0, self._scanned - 1)  # -1: an FS may wait for its CR
            end = buf.find(END_BLOCK, scan)
            restart = buf.find(START_BLOCK, scan, end if end != -1 else len(buf))
            if restart != -1:
                # A new block began before this one ended: the sender gave up on it.
                out.append(Framed(discarded=restart - pos + 1, reason="MLLP block cut short"))
                pos = restart + 1
                self._scanned = 0
                continue
            if end == -1:
                self._scanned = len(buf) - pos
                if self._scanned > self._max:
                    out.append(Framed(discarded=self._scanned + 1, reason="MLLP block too long"))
                    pos = len(buf)
                    self._in_block = False
                    self._scanned = 0
                break
            out.append(Framed(message=bytes(buf[pos:end])))
            pos = end + len(END_BLOCK)
            self._in_block = False
            self._scanned = 0
        del buf[:pos]
        return out
