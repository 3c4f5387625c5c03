"""The one source of "now" for the domain: an aware datetime in UTC.

Services take a ``clock`` callable (tests pass a fixed one); this is the
default. Storage is UTC everywhere (BRIEF.md "Rules that hold everywhere");
facility time is derived with the facility's IANA zone where rates, reports
and tickets need it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current wall-clock time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime, what: str = "time") -> datetime:
    """``moment`` converted to UTC.

    :raises InputError: ``moment`` has no time zone (a naive time is
        ambiguous: facility time or UTC?).
    """
    if moment.tzinfo is None:
        from attendant.core.errors import InputError

        raise InputError(f"a {what} without a zone is ambiguous: give an offset, e.g. 2026-11-21T09:30:00+00:00")
    return moment.astimezone(UTC)
