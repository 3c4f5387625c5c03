"""The exceptions report (issue 10 item 11): every exception at the booth in a facility-local period.

Rows come from the audit log, the one record every exception writes
(:mod:`attendant.core.exceptions`): each event whose action starts with
``exception.`` (kind = the rest: ``lost_ticket``, ``free_exit``,
``manual_vend``, ``backdate``, and any kind added later, with no change
here), plus the older exception-like events that predate that convention:

- ``session.exit_iou`` -> kind ``iou`` (a vehicle let go unpaid; amount = the IOU),
- ``ticket.reprint`` -> kind ``reprint`` (a second copy of a live credential),
- ``spot.out_of_service`` -> kind ``bay_out_of_service``.

Each row: when it happened (the operation's time, ``effective_at``: UTC, and
facility time; ``recorded_at`` when it was written), the lane, the actor,
the kind, the reason code and text, the amount (integer minor units, or
None), the ticket number when there is one. Totals by kind and by actor
(count, amount). Periods as the other reports (:func:`attendant.core.reports.period_bounds`:
a facility-local day, ISO week or calendar month), selected by the
operation's time as the revenue reports are (a back-dated exit is reported
on the day it claims; its ``recorded_at`` says when it was done).

Read-only, one read transaction; the rows are ordered by time.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import or_, select

from attendant.core.exceptions import ACTION_PREFIX, kind_of
from attendant.core.money import format_money, to_major_str
from db.models import AuditEvent

AE = AuditEvent.__table__

LEGACY_KINDS = {"session.exit_iou": "iou", "ticket.reprint": "reprint", "spot.out_of_service": "bay_out_of_service"}
"""Exception-like audit actions recorded before the ``exception.<kind>`` convention, and the kind they report as."""

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    """One exception: ``at`` aware UTC (``local`` in facility time); ``amount`` minor units or None."""

    event_id: int
    at: datetime
    recorded_at: datetime
    local: datetime
    kind: str
    actor: str
    lane: str | None
    reason_code: str | None
    reason_text: str | None
    amount: int | None
    ticket_no: int | None
    entity: str
    entity_id: int | None


@dataclass(frozen=True, slots=True)
class ExceptionsReport:
    """The exceptions of one facility over facility-local days ``first`` .. ``after`` (exclusive)."""

    facility: str
    currency: str
    period: str
    first: date
    after: date
    rows: tuple[ExceptionRow, ...]
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (count, amount)
    by_actor: dict[str, tuple[int, int]] = field(default_factory=dict)  # actor -> (count, amount)

    def to_json_dict(self) -> dict:
        """JSON shape: money as decimal strings in major units, times ISO 8601 (UTC and ``at_local``)."""
        def money(v):
            return None if v is None else to_major_str(v, self.currency)

        return {
            "facility": self.facility, "currency": self.currency, "period": self.period,
            "from": self.first.isoformat(), "to": self.after.isoformat(), "count": len(self.rows),
            "amount": money(sum(r.amount or 0 for r in self.rows)),
            "exceptions": [
                {"id": r.event_id, "at": r.at.isoformat(), "at_local": r.local.isoformat(),
                 "recorded_at": r.recorded_at.isoformat(), "kind": r.kind,
                 "actor": r.actor, "lane": r.lane, "reason_code": r.reason_code, "reason_text": r.reason_text,
                 "amount": money(r.amount), "ticket_no": r.ticket_no, "entity": r.entity, "entity_id": r.entity_id}
                for r in self.rows],
            "by_kind": {k: {"count": c, "amount": money(a)} for k, (c, a) in self.by_kind.items()},
            "by_actor": {k: {"count": c, "amount": money(a)} for k, (c, a) in self.by_actor.items()},
        }


def _row(event, tz) -> ExceptionRow:
    details = event.details or {}
    kind = kind_of(event.action) or LEGACY_KINDS[event.action]
    if event.action in LEGACY_KINDS:
        code, text = None, details.get("reason")
        if event.action == "ticket.reprint":
            text = "first copy (the first print failed)" if details.get("first_copy") else None
        amount = details.get("iou_amount") if event.action == "session.exit_iou" else None
    else:
        code, text, amount = details.get("reason_code"), details.get("reason_text"), details.get("amount_cents")
    ticket = details.get("ticket_no")
    return ExceptionRow(event.id, event.effective_at, event.at, event.effective_at.astimezone(tz), kind, event.actor,
                        details.get("lane"), code,
                        text, amount if isinstance(amount, int) else None, ticket if isinstance(ticket, int) else None,
                        event.entity, event.entity_id)


def exceptions_report(service, period: str, day: date | None = None) -> ExceptionsReport:
    """The exceptions of ``service``'s facility in the ``period`` (daily, weekly, monthly) containing
    facility-local ``day`` (default today). Raises ValueError (unknown period) and
    :class:`~attendant.core.errors.InputError` (a day outside the calendar the reports accept)."""
    from attendant.core.reports import period_bounds

    day = day or service.local(service.clock()).date()
    first, after = period_bounds(period, day)
    start, _ = service.day_bounds(first)
    end, _ = service.day_bounds(after)
    with service.engine.connect().execution_options(readonly=True) as conn:
        events = conn.execute(
            select(AE.c.id, AE.c.at, AE.c.effective_at, AE.c.actor, AE.c.action, AE.c.entity, AE.c.entity_id,
                   AE.c.details)
            .where(AE.c.facility_id == service.facility.id, AE.c.effective_at >= start, AE.c.effective_at < end,
                   or_(AE.c.action.startswith(ACTION_PREFIX), AE.c.action.in_(list(LEGACY_KINDS))))
            .order_by(AE.c.effective_at, AE.c.id)
        ).all()
    rows = tuple(_row(e, service.tz) for e in events)
    by_kind: dict[str, tuple[int, int]] = {}
    by_actor: dict[str, tuple[int, int]] = {}
    for r in rows:
        for table, key in ((by_kind, r.kind), (by_actor, r.actor)):
            count, amount = table.get(key, (0, 0))
            table[key] = (count + 1, amount + (r.amount or 0))
    return ExceptionsReport(service.facility.code, service.facility.currency, period, first, after, rows,
                            dict(sorted(by_kind.items())), dict(sorted(by_actor.items())))


CSV_HEADER = ("section", "at_local", "kind", "lane", "actor", "reason_code", "reason_text", "ticket_no", "count",
              "amount", "currency")


def render_exceptions(report: ExceptionsReport, fmt: str) -> str:
    """``report`` as ``table`` (plain text columns), ``csv`` (one row per exception, then the totals: section
    ``exception``, ``by_kind``, ``by_actor``; amounts in major units) or ``json``. Raises ValueError."""
    if fmt == "json":
        return json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n"
    cur = report.currency

    def major(v):
        return "" if v is None else to_major_str(v, cur)

    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for r in report.rows:
            writer.writerow(("exception", r.local.isoformat(timespec="seconds"), r.kind, r.lane or "", r.actor,
                             r.reason_code or "", r.reason_text or "", r.ticket_no or "", 1, major(r.amount), cur))
        for section, table in (("by_kind", report.by_kind), ("by_actor", report.by_actor)):
            for key, (count, amount) in table.items():
                writer.writerow((section, "", key if section == "by_kind" else "", "",
                                 key if section == "by_actor" else "", "", "", "", count, major(amount), cur))
        return out.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r} (table, csv or json)")
    last = report.after.toordinal() - 1
    title = (f"Exceptions — {report.facility} — {report.first.isoformat()}"
             + ("" if report.after.toordinal() - report.first.toordinal() == 1
                else f" to {date.fromordinal(last).isoformat()}"))
    lines = [title, ""]
    if not report.rows:
        lines.append("No exceptions in this period.")
    else:
        lines.append(f"{'Time':<17} {'Kind':<18} {'Lane':<5} {'Actor':<14} {'Amount':>10}  Reason")
        for r in report.rows:
            reason = " ".join(x for x in (r.reason_code, r.reason_text) if x) or "-"
            amount = format_money(r.amount, cur) if r.amount is not None else ""
            ticket = f"  ticket {r.ticket_no:08d}" if r.ticket_no else ""
            lines.append(f"{r.local:%a %d %b %H:%M} {r.kind[:18]:<18} {(r.lane or '-')[:5]:<5} {r.actor[:14]:<14} "
                         f"{amount:>10}  {reason}{ticket}")
    for heading, table in (("By kind", report.by_kind), ("By actor", report.by_actor)):
        if table:
            lines += ["", heading]
            lines += [f"  {key:<30} {count:>5}  {format_money(amount, cur):>12}" for key, (count, amount) in
                      table.items()]
    return "\n".join(lines) + "\n"
