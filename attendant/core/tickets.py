"""Signed ticket codes (the QR payload) and ticket numbers (the Code 128 payload).

A code reads ``CHS-00000042-7K3Q2M5ZJ4XW9P8D``: facility code, zero-padded
ticket number, and the first 80 bits of HMAC-SHA256(secret, "CHS:42") in
RFC 4648 base32. Every character is in the QR alphanumeric set, so the QR
stays small. The secret is per installation and kept outside the database
(:mod:`attendant.keyfiles`), so a forged or altered code is refused (BRIEF.md,
"Rules that hold everywhere"). Since key ids (``attendant secret rotate``) the
signature part is a key id letter and 75 bits of HMAC: ``CHS-00000042-B3Q2M5ZJ4XW9P8DK``.

A reservation's code reads ``R-CHS-00000042-B3Q2M5ZJ4XW9P8DK``: the same
key machinery (key id letter and 75 bits of HMAC-SHA256 with the ticket keys)
over ``"<id>:R/CHS:42"``, a message no ticket code can produce (``/`` is not
in a facility code), so a ticket's signature never verifies a reservation.

Merchant validations and passes carry short codes of their own, ``V-ABCD-EF23``
and ``P-ABCD-EF23`` (letters and digits without I, O, 0 and 1, read aloud over
an intercom). This module is the one place these formats are written down:
the scanners' routing, the entry form's wedge detection and the back office
that issues validations and passes all use it.
"""

from __future__ import annotations

import base64
import functools
import hmac
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from attendant.core.errors import TicketInvalid

TICKET_NO_DIGITS = 8
_TICKET = r"[A-Z0-9]{2,8}-[0-9]{8}-[A-Z2-7]{16}"  # ASCII digits only: \d would take any script\'s
_CODE = re.compile(r"^([A-Z0-9]{2,8})-([0-9]{8})-([A-Z2-7]{16})$")
_RESERVATION = re.compile(r"^R-([A-Z0-9]{2,8})-([0-9]{8})-([A-Z2-7]{16})$")
#: Validation (``V-``) and pass (``P-``) codes.
CREDENTIAL_PREFIXES = {"V": "validation", "P": "pass"}
_CREDENTIAL = r"[VP]-[A-Z0-9]{4}-[A-Z0-9]{4}"
_CREDENTIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1
#: A whole scanned code of any kind (upper case).
SCANNED_CODE = re.compile(rf"^(?:{_TICKET}|{_CREDENTIAL}|R-{_TICKET})$")


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
    ``CHS-00000042-`` (a ticket of facility CHS), ``R-CHS-00000042-`` (a reservation), ``V-ABCD-``
    (validation), ``P-ABCD-`` (pass)."""
    return re.compile(rf"(?:(?:R-)?{re.escape(facility_code.upper())}-[0-9]{{{TICKET_NO_DIGITS}}}-|"
                      rf"[VP]-[A-Z0-9]{{4}}-)$")


def looks_like_reservation_code(text: str) -> bool:
    """True when ``text`` has the shape of a reservation code, ``R-CHS-00000042-...`` (signature not checked)."""
    return _RESERVATION.match(text.strip().upper()) is not None


def format_ticket_no(number: int) -> str:
    """Printed ticket number: ``42 -> "00000042"`` (also the Code 128 payload)."""
    return f"{number:0{TICKET_NO_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class TicketRef:
    """What a verified code names."""

    facility_code: str
    ticket_no: int


class TicketSigner:
    """Signs and verifies ticket codes with the site's keys.

    ``secret``: one key (bytes, >= 16), or a mapping of key id (one base32
    letter, :data:`attendant.keyfiles.TICKET_KEY_IDS`) to key with ``current``
    naming the one new codes are signed with. A code's signature part is the
    key id followed by the first 75 bits of HMAC-SHA256(key, ``"<id>:CHS:42"``)
    in base32 (15 characters), so after ``attendant secret rotate`` the codes
    printed before still verify under their own key. Codes of the format before
    key ids (16 characters of HMAC-SHA256(key, ``"CHS:42"``), key ``A``) verify
    too.
    """

    def __init__(self, secret: bytes | dict[str, bytes], current: str | None = None) -> None:
        keys = {"A": secret} if isinstance(secret, (bytes, bytearray)) else dict(secret)
        if not keys or any(len(k) < 16 for k in keys.values()):
            raise ValueError("ticket secret must be at least 16 bytes")
        current = current or ("A" if "A" in keys else next(iter(keys)))
        if current not in keys:
            raise ValueError(f"no ticket key {current!r}")
        self._keys = {kid: bytes(key) for kid, key in keys.items()}
        self.current = current
        self._secret = self._keys[current]

    @classmethod
    def from_site(cls) -> TicketSigner:
        """The signer of this booth's ticket keys (:func:`attendant.keyfiles.load_ticket_keys`).

        :raises attendant.keyfiles.SecretMissing: no secret file (never made here: see that module).
        :raises attendant.keyfiles.SecretUnreadable: an empty, damaged or non-hex one.
        """
        from attendant.keyfiles import load_ticket_keys

        keys = load_ticket_keys()
        return cls(keys.keys, keys.current)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def _signature(self, facility_code: str, ticket_no: int, kid: str | None = None) -> str:
        if kid is None:  # the format before key ids
            digest = hmac.digest(self._keys["A"], f"{facility_code}:{ticket_no}".encode(), "sha256")
            return base64.b32encode(digest[:10]).decode()
        digest = hmac.digest(self._keys[kid], f"{kid}:{facility_code}:{ticket_no}".encode(), "sha256")
        return kid + base64.b32encode(digest[:10]).decode()[:15]

    def sign(self, facility_code: str, ticket_no: int, kid: str | None = None) -> str:
        """The code for ticket ``ticket_no`` of facility ``facility_code`` (under key ``kid``, default current)."""
        signature = self._signature(facility_code, ticket_no, kid or self.current)
        return f"{facility_code}-{format_ticket_no(ticket_no)}-{signature}"

    def codes_for(self, facility_code: str, ticket_no: int) -> Iterator[str]:
        """Every code this signer could have issued for the ticket, the current key's first (a reprint
        finds the one that was issued by its stored hash), then the format before key ids."""
        yield self.sign(facility_code, ticket_no)
        for kid in self._keys:
            if kid != self.current:
                yield self.sign(facility_code, ticket_no, kid)
        if "A" in self._keys:
            yield f"{facility_code}-{format_ticket_no(ticket_no)}-{self._signature(facility_code, ticket_no)}"

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
        number = int(digits)
        kid = signature[0]
        genuine = kid in self._keys and hmac.compare_digest(self._signature(facility_code, number, kid), signature)
        if not genuine and "A" in self._keys:
            genuine = hmac.compare_digest(self._signature(facility_code, number), signature)
        if not genuine:
            raise TicketInvalid(f"ticket code {text[:22]}… is not genuine (signature check failed)")
        return TicketRef(facility_code=facility_code, ticket_no=number)

    def sign_reservation(self, facility_code: str, number: int) -> str:
        """The code of reservation ``number`` of ``facility_code`` under the current key (module docstring)."""
        return f"R-{facility_code}-{format_ticket_no(number)}-{self._signature(f'R/{facility_code}', number, self.current)}"

    def verify_reservation(self, code: str) -> TicketRef:
        """Check a reservation code; returns its facility and reservation number (``ticket_no``).

        Surrounding white space and lower case are accepted. Raises :class:`TicketInvalid` for a malformed,
        forged or altered code.
        """
        text = code.strip()[:64].upper()
        match = _RESERVATION.match(text)
        if not match:
            raise TicketInvalid(f"not a reservation code: {code.strip()[:40]!r} (R-<facility>-<8 digits>-<16>)")
        facility_code, digits, signature = match.groups()
        number, kid = int(digits), signature[0]
        if not (kid in self._keys and hmac.compare_digest(
                self._signature(f"R/{facility_code}", number, kid), signature)):
            raise TicketInvalid(f"reservation code {text[:24]}… is not genuine (signature check failed)")
        return TicketRef(facility_code=facility_code, ticket_no=number)
