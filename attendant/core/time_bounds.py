"""Bounded time: the window of times a facility accepts, and wall-clock times that do not exist or occur twice.

Issue 9 item 3 ("Bounded time"). A request may claim a time other than now
(the CLI's ``--at``: replays, corrections), and that claim is checked in one
place, the booth services (:meth:`attendant.core.store.FacilityStore._check_at`),
so the console, the CLI and the API get the same rule:

- **The window** (per facility, columns ``facility.at_before_s``,
  ``at_ahead_s``, ``at_widen_s``, migration ``0013_time_bounds``; defaults
  one day, one minute, 366 days): a time is accepted from the oldest open
  session's entry minus ``before`` (``now - before`` when nothing is open,
  and never later than that) up to ``now + ahead``. Outside it the request is
  refused with :class:`TimeOutOfWindow`, whose message names the window in
  facility time, and nothing is written.
- **Widening**: a supervisor (or the installation's own automata, such as the
  demo replay) may back-date further with a reason (``--allow-backdate
  REASON``), down to ``now - widen`` at most; the reason goes into the audit
  event of the operation. The upper bound is never widened: a time in the
  future would trap the car (its exit would come "before" its entry).
- **The calendar**: whatever the window, a time outside :data:`EARLIEST` ..
  :data:`LATEST` (years 2000 to 2099) is refused, so no computation downstream
  ever meets the edges of Python's calendar (``9999-12-31`` plus a day).
- **Wall-clock times** (:func:`resolve_local`): a facility time that does not
  exist (the spring-forward gap, e.g. 01:30 on 29 Mar 2026 in
  Europe/London) is refused, as is one that occurs twice (fall-back, 01:30 on
  25 Oct 2026) unless an offset says which (``2026-10-25T01:30+01:00`` is the
  first, ``+00:00`` the second). Nothing is silently moved by an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from attendant.core.errors import InputError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No time before this is accepted anywhere (the business's calendar, far from Python's ``datetime.min``)."""
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""No time at or after this is accepted anywhere (far from ``datetime.max``: a day added never overflows)."""

DEFAULT_BEFORE = timedelta(days=1)
DEFAULT_AHEAD = timedelta(minutes=1)
DEFAULT_WIDEN = timedelta(days=366)
MAX_SETTING = timedelta(days=100 * 366)
"""The largest value any of the three settings may take (a century)."""


class TimeOutOfWindow(InputError):
    """A claimed time outside the window the facility accepts; ``earliest``/``latest`` are aware UTC."""

    def __init__(self, message: str, earliest: datetime, latest: datetime) -> None:
        super().__init__(message)
        self.earliest = earliest
        self.latest = latest


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A facility's settings: how far before the oldest open entry (``before``), after now (``ahead``),
    and how far before now a supervisor may widen to (``widen``)."""

    before: timedelta = DEFAULT_BEFORE
    ahead: timedelta = DEFAULT_AHEAD
    widen: timedelta = DEFAULT_WIDEN

    def __post_init__(self) -> None:
        for name in ("before", "ahead", "widen"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < timedelta(0) or value > MAX_SETTING:
                raise InputError(f"time window {name}: must be between 0 and {MAX_SETTING.days} days")

    @classmethod
    def from_seconds(cls, before: int, ahead: int, widen: int) -> TimeWindow:
        """From the stored columns (seconds); out-of-range stored values are clamped to the limits."""
        def clamp(seconds) -> timedelta:
            return min(max(timedelta(seconds=int(seconds or 0)), timedelta(0)), MAX_SETTING)

        return cls(clamp(before), clamp(ahead), clamp(widen))

    def as_seconds(self) -> dict[str, int]:
        """The columns' values: ``{"at_before_s": ..., "at_ahead_s": ..., "at_widen_s": ...}``."""
        return {"at_before_s": int(self.before.total_seconds()), "at_ahead_s": int(self.ahead.total_seconds()),
                "at_widen_s": int(self.widen.total_seconds())}


def _clamp(moment: datetime) -> datetime:
    return min(max(moment, EARLIEST), LATEST)


def bounds(now: datetime, oldest_open: datetime | None, window: TimeWindow, *,
           widened: bool = False) -> tuple[datetime, datetime]:
    """``(earliest, latest)``, aware UTC, of the times a request may give at ``now``.

    ``oldest_open`` is the entry of the oldest open session (None: none). With
    ``widened`` (a supervisor's reason) the earliest is ``now - widen`` when
    that is earlier. Both lie within :data:`EARLIEST` .. :data:`LATEST`.
    """
    now = now.astimezone(UTC)
    anchor = now if oldest_open is None else min(oldest_open.astimezone(UTC), now)
    try:
        earliest = anchor - window.before
    except OverflowError:
        earliest = EARLIEST
    if widened:
        try:
            earliest = min(earliest, now - window.widen)
        except OverflowError:
            earliest = EARLIEST
    return _clamp(earliest), _clamp(now + window.ahead)


def _shown(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M")


def check(at: datetime, earliest: datetime, latest: datetime, tz: tzinfo, *, widened: bool = False,
          what: str = "the time") -> datetime:
    """``at`` in UTC if ``earliest <= at <= latest``; else :class:`TimeOutOfWindow` naming the window in
    facility time ``tz`` (and how to widen it, unless it already was)."""
    try:
        at = at.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-05:00: past the end of the calendar in UTC
        raise TimeOutOfWindow(f"{what} {at.isoformat()} is outside the years {EARLIEST.year} to {LATEST.year - 1}",
                              earliest, latest) from None
    if earliest <= at <= latest:
        return at
    zone = getattr(tz, "key", None) or str(tz)
    if EARLIEST <= at < LATEST:
        said = _shown(at, tz)
    else:
        said = at.isoformat(timespec="minutes")
    message = (f"{what} {said} is outside the window this facility accepts: from {_shown(earliest, tz)} to "
               f"{_shown(latest, tz)} ({zone})")
    if at < earliest and not widened:
        message += "; a supervisor can back-date further with a reason (--allow-backdate REASON)"
    elif at < earliest:
        message += " even with a supervisor's reason (the facility's widening limit)"
    raise TimeOutOfWindow(message, earliest, latest)


def in_calendar(moment: datetime, what: str = "date") -> datetime:
    """``moment`` if it lies in :data:`EARLIEST` .. :data:`LATEST` (aware; naive read as UTC), else
    :class:`InputError` naming the range."""
    probe = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        inside = EARLIEST <= probe < LATEST
    except OverflowError:  # an offset that takes it past the calendar's ends
        inside = False
    if not inside:
        raise InputError(f"{what} {moment.isoformat()} is outside the years {EARLIEST.year} to {LATEST.year - 1}")
    return moment


def resolve_local(naive: datetime, tz: tzinfo, what: str = "time") -> datetime:
    """A wall-clock time without an offset, read in facility zone ``tz``, as an aware datetime.

    Rule: a time in the spring-forward gap does not exist and is refused; a
    time in the fall-back hour occurs twice and is refused unless an offset
    says which. Both messages say what to type instead. Raises
    :class:`InputError`; a naive ``naive`` is required.
    """
    if naive.tzinfo is not None:
        return naive
    in_calendar(naive, what)
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    zone = getattr(tz, "key", None) or str(tz)
    wall = naive.strftime("%H:%M")
    day = naive.strftime("%d %b %Y")
    roundtrip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None, fold=0)
    if roundtrip != naive.replace(fold=0):  # the wall clock jumped over this time
        before, after = first.utcoffset(), second.utcoffset()
        raise InputError(
            f"{what} {wall} on {day} does not exist in {zone}: the clocks went forward "
            f"(UTC{_offset(before)} to UTC{_offset(after)}); give a time outside the gap or an offset")
    if first.utcoffset() != second.utcoffset():
        one, two = _offset(first.utcoffset()), _offset(second.utcoffset())
        iso = naive.isoformat(timespec="minutes")
        raise InputError(
            f"{what} {wall} on {day} happens twice in {zone} (the clocks went back): add the offset, "
            f"{iso}{one} for the first or {iso}{two} for the second")
    return first


def _offset(delta: timedelta | None) -> str:
    total = int((delta or timedelta(0)).total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """``"90s"``, ``"15m"``, ``"36h"``, ``"7d"`` (ASCII digits and one unit) as a timedelta within
    0 .. :data:`MAX_SETTING`; raises :class:`InputError`."""
    import re

    match = re.fullmatch(r"([0-9]{1,9})([smhd])", (text or "").strip())
    if not match:
        raise InputError(f"{what}: not a duration {text!r} (e.g. 90s, 15m, 36h, 7d)")
    value = timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]: int(match[1])})
    if value > MAX_SETTING:
        raise InputError(f"{what}: at most {MAX_SETTING.days} days")
    return value


def get_window(engine, facility_code: str | None = None) -> TimeWindow:
    """The window settings of the facility ``facility_code`` (default: the first)."""
    from sqlalchemy import select

    from attendant.core.facilities import get_facility
    from db.models import Facility

    F = Facility.__table__
    facility = get_facility(engine, facility_code)
    with engine.connect().execution_options(readonly=True) as conn:
        row = conn.execute(select(F.c.at_before_s, F.c.at_ahead_s, F.c.at_widen_s)
                           .where(F.c.id == facility.id)).one()
    return TimeWindow.from_seconds(*row)


def set_window(engine, window: TimeWindow, *, actor, facility_code: str | None = None) -> TimeWindow:
    """Store ``window`` as the facility's settings: admins only, one transaction with an audit event
    (``facility.time_window``, the old and new values in seconds). Raises
    :class:`~attendant.core.auth.PermissionDenied` / :class:`~attendant.core.auth.LoginRequired`."""
    from sqlalchemy import update

    from attendant.core import audit
    from attendant.core.auth import Role, authorize
    from attendant.core.facilities import get_facility
    from db.models import Facility

    who = authorize(engine, actor, Role.ADMIN, "changing the facility's time window")
    facility = get_facility(engine, facility_code)
    old = get_window(engine, facility.code)
    with engine.begin() as conn:
        conn.execute(update(Facility.__table__).where(Facility.__table__.c.id == facility.id)
                     .values(**window.as_seconds()))
        audit.record(conn, facility_id=facility.id, actor=who.name, action="facility.time_window",
                     entity="facility", entity_id=facility.id,
                     details={"old": old.as_seconds(), "new": window.as_seconds()})
    return window


def get_replay(engine, facility_code: str | None = None) -> bool:
    """Whether the facility ``facility_code`` replays history (``facility.at_replay``, 0017_lostvend):
    attendant-level actors may then back-date within the window without a supervisor."""
    from sqlalchemy import select

    from attendant.core.facilities import get_facility
    from db.models import Facility

    F = Facility.__table__
    facility = get_facility(engine, facility_code)
    with engine.connect().execution_options(readonly=True) as conn:
        return bool(conn.execute(select(F.c.at_replay).where(F.c.id == facility.id)).scalar_one())


def set_replay(engine, replay: bool, *, actor, facility_code: str | None = None) -> bool:
    """Turn the facility's replay mode on or off: admins only, one transaction with an audit event
    (``facility.replay_mode``, old and new). Raises :class:`~attendant.core.auth.PermissionDenied` /
    :class:`~attendant.core.auth.LoginRequired`."""
    from sqlalchemy import update

    from attendant.core import audit
    from attendant.core.auth import Role, authorize
    from attendant.core.facilities import get_facility
    from db.models import Facility

    who = authorize(engine, actor, Role.ADMIN, "changing the facility's replay mode")
    facility = get_facility(engine, facility_code)
    old = get_replay(engine, facility.code)
    with engine.begin() as conn:
        conn.execute(update(Facility.__table__).where(Facility.__table__.c.id == facility.id)
                     .values(at_replay=bool(replay)))
        audit.record(conn, facility_id=facility.id, actor=who.name, action="facility.replay_mode",
                     entity="facility", entity_id=facility.id, details={"old": old, "new": bool(replay)})
    return bool(replay)
