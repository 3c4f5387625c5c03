"""Facility wall-clock time for rate plans: day types, times of day, local instants.

Rates are written in the facility's time (BRIEF.md, "Rules that hold
everywhere": rate bands and "daily" use the facility's IANA timezone via
:mod:`zoneinfo`, DST included), while stays are stored and measured in UTC.
This module is the bridge: a time of day is an ``int`` of minutes after local
midnight (``0..1440``), a day type is one of the tokens ``mon`` … ``sun``,
``weekday``, ``weekend``, ``holiday`` (``docs/rates.md``, *Values*), and
:func:`at_local` turns "minute M of local date D" into a UTC instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday tokens, Monday first (``date.weekday()`` order)."""
DAY_TYPES = (*DAY_NAMES, "weekday", "weekend", "holiday")
"""Every day token a plan may name, in the order plans are written back (:func:`sorted_days`)."""
DAY_TITLES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ORDER = {name: i for i, name in enumerate(DAY_TYPES)}


def day_tags(day: date, holiday: bool) -> frozenset[str]:
    """The day tokens a local date answers to: its weekday, ``weekday``/``weekend``, and ``holiday`` if one.

    A public holiday keeps its weekday tokens (a holiday Monday is also
    ``mon`` and ``weekday``), so plans list the holiday tariff first.
    """
    wd = day.weekday()
    tags = {DAY_NAMES[wd], "weekday" if wd < 5 else "weekend"}
    if holiday:
        tags.add("holiday")
    return frozenset(tags)


def sorted_days(days: Iterable[str]) -> list[str]:
    """Day tokens in :data:`DAY_TYPES` order (``["mon", "sat", "holiday"]``), as stored."""
    return sorted(days, key=_ORDER.__getitem__)


def at_local(tz: tzinfo, day: date, minute: int) -> datetime:
    """The UTC instant of wall-clock ``minute`` (minutes after midnight, may exceed 1440) on local ``day``.

    A wall time that does not exist (spring forward) or exists twice (fall
    back) resolves with ``fold=0``, the :mod:`zoneinfo` default.
    """
    extra, minute = divmod(minute, 1440)
    local = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def clock_text(minute: int) -> str:
    """A time of day as written in a plan: ``1080`` -> ``"18:00"`` (``1440`` -> ``"24:00"``)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def day_label(day: date) -> str:
    """A date as breakdown lines name it: ``Sat 24 Oct``."""
    return f"{DAY_TITLES[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
