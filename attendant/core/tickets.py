"""Signed ticket codes (the QR payload) and ticket numbers (the Code 128 payload).

A code reads ``CHS-00000042-7K3Q2M5ZJ4XW9P8D``: facility code, zero-padded
ticket number, and the first 80 bits of HMAC-SHA256(secret, "CHS:42") in
RFC 4648 base32. Every character is in the QR alphanumeric set, so the QR
stays small. The secret is per installation and kept outside the database
(:func:`attendant.paths.load_or_create_secret`), so a forged or altered code
is refused (BRIEF.md, "Rules that hold everywhere").

Merchant validations and passes carry short codes of their own, ``V-ABCD-EF23``
and ``P-ABCD-EF23`` (letters and digits without I, O, 0 and 1, read aloud over
an intercom). This module is the one place these formats are written down:
the scanners' routing, the entry form's wedge detection and the back office
that issues validations and passes all use it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from attendant.core.errors import TicketInvalid

TICKET_NO_DIGITS = 8
_TICKET = r"[A-Z0-9]{2,8}-[0-9]{8}-[A-Z2-7]{16}"  # ASCII digits only: \d would take any script\'s
_CODE = re.compile(r"^([A-Z0-9]{2,8})-([0-9]{8})-([A-Z2-7]{16})$")
#: Validation (``V-``) and pass (``P-``) codes.
CREDENTIAL_PREFIXES = {"V": "validation", "P": "pass"}
_CREDENTIAL = r"[VP]-[A-Z0-9]{4}-[A-Z0-9]{4}"
_CREDENTIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1
#: A whole scanned code of any kind (upper case).
SCANNED_CODE = re.compile(rf"^(?:{_TICKET}|{_CREDENTIAL})$")


def new_credential_code(kind: str) -> str:
    """A fresh random code for a ``validation`` (``V-XXXX-XXXX``) or a ``pass`` (``P-XXXX-XXXX``)."""
    prefix = next(p for p, k in CREDENTIAL_PREFIXES.items() if k == kind)
    body = "".join(secrets.choice(_CREDENTIAL_ALPHABET) for _ in range(8))
    return f"{prefix}-{body[:4]}-{body[4:]}"


def credential_kind(text: str) -> str | None:
    """``"validation"`` or ``"pass"`` for text shaped like their codes (by prefix), else None."""
    head = text.strip().upper()[:2]
    return CREDENTIAL_PREFIXES.get(head[0]) if len(head) == 2 and head[1] == "-" else None


def looks_like_ticket_code(text: str) -> bool:
    """True when ``text`` has the shape of a ticket code (signature not checked)."""
    return _CODE.match(text.strip().upper()) is not None


def scan_prefix(facility_code: str) -> re.Pattern[str]:
    """The start of a code no plate can be, matched at the end of typed text (upper case):
    ``CHS-00000042-`` (a ticket of facility CHS), ``V-ABCD-`` (validation), ``P-ABCD-`` (pass)."""
    return re.compile(rf"(?:{re.escape(facility_code.upper())}-[0-9]{{{TICKET_NO_DIGITS}}}-|[VP]-[A-Z0-9]{{4}}-)$")


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

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - the signer lives as long as the booth; a code checks once
    def verify(self, code: str) -> TicketRef:
        """Check ``code``; returns what it names or raises :class:`TicketInvalid`.

        Surrounding white space and lower case (as some scanners send) are accepted.
        A genuine code's answer is remembered (an exit looks a code up several times).
        """
        text = code.strip()[:64].upper()
        match = _CODE.match(text)
        if not match:
            raise TicketInvalid(f"not a ticket code: {code.strip()[:40]!r}")
        facility_code, digits, signature = match.groups()
        expected = self._signature(facility_code, int(digits))
        if not hmac.compare_digest(expected, signature):
            raise TicketInvalid(f"ticket code {text[:22]}… is not genuine (signature check failed)")
        return TicketRef(facility_code=facility_code, ticket_no=int(digits))
