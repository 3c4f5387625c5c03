"""Printer status: Epson ESC/POS ``DLE EOT n`` ("transmit real-time status").

The printer answers each request with one byte, at once (even when offline or
its buffer is full). In every reply bits 0 and 7 are fixed to 0 and bits 1
and 4 are fixed to 1 (0b0xx1xx10), so a byte that breaks the pattern (a stray
byte, XON/XOFF, noise) is not a status reply. python-escpos 3.1 agrees: its
``RT_MASK_PAPER`` (0x12) is exactly the fixed bits.

The decoding is this module's table, not escpos's ``is_online`` /
``paper_status``: those do not check the fixed bits, read "no reply" as
"paper adequate", and have no n=2 (cover, paper end stop, error). The
request/reply I/O belongs to the transports (:mod:`hardware.printers.transports`).
"""

from __future__ import annotations

from collections.abc import Mapping

from hardware.base import DeviceState, DeviceStatus
from hardware.printers.library import escpos_library

__all__ = [
    "BLOCKING_STATES",
    "STATUS_OFFLINE_CAUSE",
    "STATUS_PAPER",
    "STATUS_PRINTER",
    "STATUS_QUERIES",
    "STATUS_REPLY_TIMEOUT",
    "decode_status",
    "is_status_reply",
    "status_request",
]

STATUS_PRINTER = 1  # n=1 printer status
STATUS_OFFLINE_CAUSE = 2  # n=2 offline cause
STATUS_PAPER = 4  # n=4 roll paper sensor
STATUS_QUERIES = (STATUS_PRINTER, STATUS_OFFLINE_CAUSE, STATUS_PAPER)
_FIXED_MASK, _FIXED_BITS = 0b1001_0011, 0b0001_0010  # bits 7, 4, 1, 0 must read 0, 1, 1, 0
_PRINTER_OFFLINE = 0x08  # n=1 bit 3 (python-escpos RT_MASK_ONLINE)
_CAUSE_COVER_OPEN = 0x04  # n=2 bit 2
_CAUSE_PAPER_END_STOP = 0x20  # n=2 bit 5: printing stopped at a paper end
_CAUSE_ERROR = 0x40  # n=2 bit 6
_PAPER_NEAR_END = 0x0C  # n=4 bits 2-3 (the reference sets both; either counts)
_PAPER_END = 0x60  # n=4 bits 5-6 (the reference sets both; either counts)

#: How long a job waits for one status reply (seconds); also capped at a
#: quarter of the job timeout so the job itself keeps most of its time.
STATUS_REPLY_TIMEOUT = 0.5

#: States in which a printer refuses a job before a byte of it is sent.
BLOCKING_STATES = (DeviceState.PAPER_OUT, DeviceState.COVER_OPEN, DeviceState.FAULTED, DeviceState.OFFLINE)


def status_request(n: int) -> bytes:
    """``DLE EOT n`` (``10 04 n``, python-escpos ``RT_STATUS``), the request for status ``n`` (1, 2 or 4)."""
    return bytes(escpos_library().constants.RT_STATUS) + bytes([n])


def is_status_reply(reply: bytes | None) -> bool:
    """True for one byte with the fixed bits of a status reply (0b0xx1xx10)."""
    return reply is not None and len(reply) == 1 and reply[0] & _FIXED_MASK == _FIXED_BITS


def decode_status(replies: Mapping[int, bytes | None], *, name: str = "printer") -> DeviceStatus:
    """Turn the replies to ``DLE EOT`` 1, 2 and 4 into a :class:`DeviceStatus`.

    ``replies`` maps n (1, 2, 4) to the bytes read back (None or ``b""``: no
    answer). Rules (Epson ESC/POS reference, DLE EOT):

    - no answer to n=1: ``unknown`` (the printer does not report status);
    - any reply that is not one byte with the fixed bits (0b0xx1xx10): ``unknown``
      (a malformed reply is never read as a fault);
    - n=2 bit 2 (cover open): ``cover_open``; n=2 bit 5 (stopped at paper end)
      or n=4 bits 5-6 (paper end sensor): ``paper_out``; n=2 bit 6 (error):
      ``faulted``; n=1 bit 3 (offline) with no cause: ``offline``;
      n=4 bits 2-3 (near-end sensor): ``paper_low``; otherwise ``ok``;
      first match wins in that order. A missing n=2 or n=4 reply is skipped.

    Never raises; ``name`` goes into the message.
    """
    printer = replies.get(STATUS_PRINTER)
    if not printer:
        return DeviceStatus(DeviceState.UNKNOWN, f"Printer {name} did not answer the status request")
    values: dict[int, int] = {}
    for n in STATUS_QUERIES:
        reply = replies.get(n)
        if not reply:
            continue
        if not is_status_reply(reply):
            return DeviceStatus(
                DeviceState.UNKNOWN,
                f"Printer {name} sent an unexpected status reply {bytes(reply).hex(' ')} to DLE EOT {n}",
            )
        values[n] = reply[0]
    status, cause, paper = values[STATUS_PRINTER], values.get(STATUS_OFFLINE_CAUSE, 0), values.get(STATUS_PAPER, 0)
    if cause & _CAUSE_COVER_OPEN:
        return DeviceStatus(DeviceState.COVER_OPEN, f"Printer {name} has its cover open")
    if cause & _CAUSE_PAPER_END_STOP or paper & _PAPER_END:
        return DeviceStatus(DeviceState.PAPER_OUT, f"Printer {name} is out of paper")
    if cause & _CAUSE_ERROR:
        return DeviceStatus(DeviceState.FAULTED, f"Printer {name} reports an error (see its error light)")
    if status & _PRINTER_OFFLINE:
        return DeviceStatus(DeviceState.OFFLINE, f"Printer {name} reports that it is offline")
    if paper & _PAPER_NEAR_END:
        return DeviceStatus(DeviceState.PAPER_LOW, f"Printer {name} is running low on paper")
    return DeviceStatus(DeviceState.OK, f"Printer {name} is online with paper")
