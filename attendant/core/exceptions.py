"""Exceptions at the booth (issue "Every exception at the booth"): one reason shape, one audit shape.

Every exception (lost ticket, manual vend, free exit, void, manual entry,
move, anti-passback reset, count adjustment, ...) is a service operation that
records exactly one audit event named ``exception.<kind>`` (:func:`action`)
whose details carry the same keys (:func:`details`):

``reason_code``
    one of the facility's reason codes (:data:`DEFAULT_REASON_CODES` unless
    the facility configures its own), upper case;
``reason_text``
    the attendant's free text (required for ``OTHER``), or None;
``amount_cents``
    the money the exception moved or waived, integer minor units, or None;
``lane``
    the lane code it happened at, or None (CLI without a lane, back office);
plus whatever the kind adds (``ticket_no``, ``plate``, ``from_spot``, ...).

The exceptions report reads every event whose action starts with
:data:`ACTION_PREFIX`, so a new kind needs no change to the report.
Pure domain code: no database access of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from attendant.core.errors import InputError

ACTION_PREFIX = "exception."
"""Audit actions of exceptions start with this; the rest is the kind (``exception.free_exit``)."""

DEFAULT_REASON_CODES: Mapping[str, str] = {
    "LOST_TICKET": "driver lost the ticket",
    "GATE_FAULT": "barrier or lane equipment fault",
    "EQUIPMENT": "other equipment failure (printer, scanner, camera, pay station)",
    "ISSUED_IN_ERROR": "ticket or session created in error",
    "NO_SESSION": "vehicle found inside without a session",
    "EMERGENCY": "emergency or police vehicle",
    "STAFF": "staff, contractor or delivery vehicle",
    "GOODWILL": "customer complaint or goodwill gesture",
    "MEDICAL": "driver or passenger medical need",
    "BAY_ISSUE": "bay blocked, wrong bay or bay out of service",
    "COUNT_CORRECTION": "occupancy count correction",
    "OTHER": "other (free text required)",
}
"""Reason codes offered when a facility configures none: code -> what it means (shown in pickers)."""

REASONS_NEEDING_TEXT = frozenset({"OTHER"})
"""Codes whose reason is only the free text: a bare ``OTHER`` is refused."""

MAX_TEXT = 200
"""Longest free text kept (characters); longer text is refused, not cut."""


@dataclass(frozen=True)
class Reason:
    """Why an exception was made: a reason code and optional free text."""

    code: str
    text: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.text}" if self.text else self.code


def parse_reason(value: str | None, *, codes: Mapping[str, str] | None = None) -> Reason:
    """Read a reason as typed on the CLI or in a dialog: ``CODE`` or ``CODE: free text``.

    The code is matched case-insensitively against ``codes`` (default
    :data:`DEFAULT_REASON_CODES`); ``OTHER`` needs free text. Raises
    :class:`InputError` naming the codes for an empty value, an unknown
    code, a missing text or a text over :data:`MAX_TEXT` characters.
    """
    codes = DEFAULT_REASON_CODES if codes is None else codes
    raw = (value or "").strip()
    if not raw:
        raise InputError(f"a reason is required (one of: {', '.join(codes)}; add text as 'CODE: text')")
    code, _, text = raw.partition(":")
    code = code.strip().upper().replace("-", "_").replace(" ", "_")
    text = text.strip() or None
    if code not in codes:
        raise InputError(f"unknown reason code {code!r} (one of: {', '.join(codes)}; add text as 'CODE: text')")
    if code in REASONS_NEEDING_TEXT and not text:
        raise InputError(f"reason {code} needs a text: '{code}: what happened'")
    if text is not None and len(text) > MAX_TEXT:
        raise InputError(f"the reason text is {len(text)} characters long (at most {MAX_TEXT})")
    return Reason(code, text)


def action(kind: str) -> str:
    """The audit action of an exception of ``kind`` (``"free_exit"`` -> ``"exception.free_exit"``)."""
    return ACTION_PREFIX + kind


def kind_of(audit_action: str) -> str | None:
    """The exception kind of an audit action, or None when the action is not an exception."""
    return audit_action[len(ACTION_PREFIX):] if audit_action.startswith(ACTION_PREFIX) else None


def details(reason: Reason, *, amount_cents: int | None = None, lane: str | None = None, **extra) -> dict:
    """The audit details of one exception (the keys in this module's docstring, then ``extra``)."""
    if amount_cents is not None and not isinstance(amount_cents, int):
        raise TypeError("amount_cents is integer minor units")
    return {"reason_code": reason.code, "reason_text": reason.text, "amount_cents": amount_cents, "lane": lane,
            **extra}
