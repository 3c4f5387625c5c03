"""Reports over a facility-local day (BRIEF.md feature 11).

The day runs from local midnight to local midnight in the facility's zone, so
a DST day is 23 or 25 hours long. Revenue counts completed payments by the
time they were taken; traffic counts entries and exits by their times.
Amounts are integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select

from attendant.core.money import format_money, to_major_str
from db.models import ParkingSession, Payment

PS, PAY = ParkingSession.__table__, Payment.__table__


@dataclass(frozen=True, slots=True)
class DailyReport:
    """One day's revenue and traffic for one facility."""

    facility: str
    facility_name: str
    day: date
    currency: str
    entries: int
    exits: int
    revenue: int
    payments: int
    by_method: dict[str, tuple[int, int]]  # method -> (count, amount)
    by_vehicle_class: dict[str, tuple[int, int]]  # class -> (exits, amount)
    by_lane: dict[str, tuple[int, int]]  # exit lane -> (exits, amount)
    average_stay_minutes: int | None
    open_sessions: int

    def to_json_dict(self) -> dict:
        money = lambda v: to_major_str(v, self.currency)  # noqa: E731
        group = lambda d: {k: {"count": c, "amount": money(a)} for k, (c, a) in d.items()}  # noqa: E731
        return {
            "facility": self.facility,
            "date": self.day.isoformat(),
            "currency": self.currency,
            "entries": self.entries,
            "exits": self.exits,
            "payments": self.payments,
            "revenue": money(self.revenue),
            "by_method": group(self.by_method),
            "by_vehicle_class": group(self.by_vehicle_class),
            "by_lane": group(self.by_lane),
            "average_stay_minutes": self.average_stay_minutes,
            "open_sessions": self.open_sessions,
        }

    def rows(self):
        """CSV rows: date, facility, section, key, count, amount, currency."""
        d, f, cur = self.day.isoformat(), self.facility, self.currency
        yield (d, f, "total", "revenue", self.payments, to_major_str(self.revenue, cur), cur)
        yield (d, f, "traffic", "entries", self.entries, "", cur)
        yield (d, f, "traffic", "exits", self.exits, "", cur)
        for section, data in (("method", self.by_method), ("vehicle_class", self.by_vehicle_class),
                              ("lane", self.by_lane)):
            for key, (count, amount) in data.items():
                yield (d, f, section, key, count, to_major_str(amount, cur), cur)

    def to_rich(self):
        from rich.table import Table

        table = Table(title=f"{self.facility_name} — {self.day:%a %d %b %Y}")
        table.add_column("Section")
        table.add_column("Key")
        table.add_column("Count", justify="right")
        table.add_column("Amount", justify="right")
        table.add_row("total", "revenue", str(self.payments), format_money(self.revenue, self.currency))
        table.add_row("traffic", "entries", str(self.entries), "")
        table.add_row("traffic", "exits", str(self.exits), "")
        for section, data in (("method", self.by_method), ("class", self.by_vehicle_class), ("lane", self.by_lane)):
            for key, (count, amount) in data.items():
                table.add_row(section, key, str(count), format_money(amount, self.currency))
        if self.average_stay_minutes is not None:
            table.add_row("stay", "average minutes", str(self.average_stay_minutes), "")
        return table


def daily_report(service, day: date | None = None) -> DailyReport:
    """Build the report for facility-local ``day`` (default: today) of ``service``'s facility."""
    facility = service.facility
    day = day or service.local(service.clock()).date()
    start, end = service.day_bounds(day)
    fid = facility.id
    with service.engine.connect().execution_options(readonly=True) as conn:
        entries = conn.execute(
            select(func.count()).where(PS.c.facility_id == fid, PS.c.entry_at >= start, PS.c.entry_at < end)
        ).scalar_one()
        exited = and_(PS.c.facility_id == fid, PS.c.exit_at >= start, PS.c.exit_at < end)
        exits = conn.execute(select(func.count()).where(exited)).scalar_one()
        paid = and_(  # refunds are negative rows; refunded originals still count (they net out)
            PAY.c.facility_id == fid,
            PAY.c.status.in_(("completed", "refunded")),
            PAY.c.created_at >= start,
            PAY.c.created_at < end,
        )
        by_method = {
            m: (c, a)
            for m, c, a in conn.execute(
                select(PAY.c.method, func.count(), func.sum(PAY.c.amount)).where(paid).group_by(PAY.c.method)
            )
        }
        by_class = {
            k: (c, a or 0)
            for k, c, a in conn.execute(
                select(PS.c.vehicle_class, func.count(), func.sum(PS.c.amount_paid)).where(exited).group_by(
                    PS.c.vehicle_class
                )
            )
        }
        by_lane = {
            (k or "-"): (c, a or 0)
            for k, c, a in conn.execute(
                select(PS.c.exit_lane, func.count(), func.sum(PS.c.amount_paid)).where(exited).group_by(PS.c.exit_lane)
            )
        }
        stays = conn.execute(select(PS.c.entry_at, PS.c.exit_at).where(exited)).all()
        open_sessions = conn.execute(
            select(func.count()).where(PS.c.facility_id == fid, PS.c.status == "open")
        ).scalar_one()
    average = None
    if stays:
        average = int(sum((b - a).total_seconds() for a, b in stays)) // len(stays) // 60
    return DailyReport(
        facility=facility.code,
        facility_name=facility.name,
        day=day,
        currency=facility.currency,
        entries=entries,
        exits=exits,
        revenue=sum(a for _c, a in by_method.values()),
        payments=sum(c for c, _a in by_method.values()),
        by_method=dict(sorted(by_method.items())),
        by_vehicle_class=dict(sorted(by_class.items())),
        by_lane=dict(sorted(by_lane.items())),
        average_stay_minutes=average,
        open_sessions=open_sessions,
    )
