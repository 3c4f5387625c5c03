"""Signed ticket codes (the QR payload) and ticket numbers (the Code 128 payload).

A code reads ``CHS-00000042-7K3Q2M5ZJ4XW9P8D``: facility code, zero-padded
ticket number, and the first 80 bits of HMAC-SHA256(secret, "CHS:42") in
RFC 4648 base32. Every character is in the QR alphanumeric set, so the QR
stays small. The secret is per installation and kept outside the database
(:func:`attendant.paths.load_or_create_secret`), so a forged or altered code
is refused (BRIEF.md, "Rules that hold everywhere").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from attendant.core.errors import TicketInvalid

TICKET_NO_DIGITS = 8
_CODE = re.compile(r"^([A-Z0-9]{2,8})-(\d{8})-([A-Z2-7]{16})$")


def format_ticket_no(number: int) -> str:
    """Printed ticket number: ``42 -> "00000042"`` (also the Code 128 payload)."""
    return f"{number:0{TICKET_NO_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class TicketRef:
    """What a verified code names."""

    facility_code: str
    ticket_no: int


class TicketSigner:
    """Signs and verifies ticket codes with a per-installation secret (bytes, >= 16)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("ticket secret must be at least 16 bytes")
        self._secret = secret

    def _signature(self, facility_code: str, ticket_no: int) -> str:
        digest = hmac.new(self._secret, f"{facility_code}:{ticket_no}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:10]).decode()

    def sign(self, facility_code: str, ticket_no: int) -> str:
        """The code for ticket ``ticket_no`` of facility ``facility_code``."""
        return f"{facility_code}-{format_ticket_no(ticket_no)}-{self._signature(facility_code, ticket_no)}"

    def verify(self, code: str) -> TicketRef:
        """Check ``code``; returns what it names or raises :class:`TicketInvalid`.

        Surrounding white space and lower case (as some scanners send) are accepted.
        """
        text = code.strip().upper()
        match = _CODE.match(text)
        if not match:
            raise TicketInvalid(f"not a ticket code: {code.strip()[:40]!r}")
        facility_code, digits, signature = match.groups()
        expected = self._signature(facility_code, int(digits))
        if not hmac.compare_digest(expected, signature):
            raise TicketInvalid(f"ticket code {text[:22]}… is not genuine (signature check failed)")
        return TicketRef(facility_code=facility_code, ticket_no=int(digits))
