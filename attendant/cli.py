"""The ``attendant`` command line (typer): the console and scriptable operations.

With no subcommand it opens the console on the configured facility. Every
subcommand goes through the same services as the console
(:class:`attendant.booth.Booth`). ``--json`` output is a stable contract for
scripts: money as decimal strings in major units, times ISO 8601.

Errors: one line on stderr and exit status 2 for bad input or a refused
operation (nothing changed); exit status 1 for an unexpected failure, whose
traceback goes to ``attendant-errors.log`` in the data folder, not the screen.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import logging
import os
import sys
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import typer

from attendant.core.errors import AttendantError, InputError
from attendant.core.money import parse_major, to_major_str

app = typer.Typer(
    name="attendant",
    help="The attendant console: run a parking facility from its booth.",
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
report_app = typer.Typer(
    help="Reports (revenue, traffic, occupancy) for a facility-local day, week or month.", no_args_is_help=True
)
app.add_typer(report_app, name="report")

log = logging.getLogger("attendant")


@dataclass
class Context:
    """What the global options chose; opened lazily so ``--help`` touches nothing."""

    db: str | None = None
    config_path: Path | None = None
    facility: str | None = None
    actor: str = "cli"
    user: str | None = None
    pin: str | None = None
    _engine: object = None
    _service: object = None
    _booths: dict = field(default_factory=dict)

    def engine(self):
        if self._engine is None:
            from db.engine import make_engine

            self._engine = make_engine(self.db)
        return self._engine

    def service(self):
        if self._service is None:
            from attendant.core.services import ParkingService
            from attendant.core.tickets import TicketSigner
            from attendant.paths import load_or_create_secret

            self._service = ParkingService(
                self.engine(), TicketSigner(load_or_create_secret()), facility_code=self.facility
            )
        return self._service

    def login(self):
        """The :class:`~attendant.core.auth.Actor` this command runs as.

        With ``--user``/``--pin`` (env ATTENDANT_USER / ATTENDANT_PIN): PIN login.
        Without: the setup actor while no user exists, otherwise an
        attendant-level actor named by ``--actor`` (supervisor actions are refused).
        """
        from attendant.core import users

        if self.user:
            if not self.pin:
                raise InputError("--user needs --pin (or ATTENDANT_PIN)")
            return users.authenticate(self.engine(), self.user, self.pin)
        if not users.any_users(self.engine()):
            from attendant.core.auth import Actor, Role

            users.setup_actor(self.engine())  # refuses once a user exists
            return Actor(self.actor, Role.ADMIN)  # setup mode, audited under the --actor name
        return self.actor

    def console_config(self):
        from hardware.config import default_config, load_config

        if self.config_path is not None:
            return load_config(self.config_path)
        from attendant.paths import config_dir

        installed = config_dir() / "console.toml"
        return load_config(installed) if installed.exists() else default_config()

    def booth(self, printer: str | None = None):
        if printer not in self._booths:
            from attendant.booth import Booth

            self._booths[printer] = Booth(self.service(), self.console_config(), printer_url=printer)
        return self._booths[printer]


def _ctx(ctx: typer.Context) -> Context:
    return ctx.ensure_object(Context)


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit with ``code``."""
    typer.echo(f"attendant: {message}", err=True)
    raise typer.Exit(code)


def parse_when(text: str | None, tz: ZoneInfo) -> datetime | None:
    """ISO 8601 time; a time without an offset is facility time. Raises InputError."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-21T09:30 or 2026-11-21T09:30:00Z)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def _print_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy database URL (env ATTENDANT_DB).")] = None,
    config: Annotated[
        Optional[Path], typer.Option("--config", help="Console config TOML: lanes and their devices.")
    ] = None,
    facility: Annotated[Optional[str], typer.Option("--facility", help="Facility code (default: the first).")] = None,
    actor: Annotated[
        Optional[str], typer.Option("--actor", help="Name recorded in the audit log (default: cli:USER).")
    ] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Log in as this user (env ATTENDANT_USER).")] = None,
    pin: Annotated[Optional[str], typer.Option("--pin", help="The user's PIN (env ATTENDANT_PIN).")] = None,
) -> None:
    """Open the console, or run one operation."""
    try:
        login_name = getpass.getuser()
    except Exception:  # no login name (containers)
        login_name = "unknown"
    ctx.obj = Context(
        db=db,
        config_path=config,
        facility=facility,
        actor=actor or os.environ.get("ATTENDANT_ACTOR") or f"cli:{login_name}",
        user=user or os.environ.get("ATTENDANT_USER"),
        pin=pin or os.environ.get("ATTENDANT_PIN"),
    )
    if ctx.invoked_subcommand is None:
        from attendant.tui.app import run_console

        state = ctx.obj
        run_console(state.engine(), state.console_config(), facility_code=facility)


@app.command()
def demo(
    ctx: typer.Context,
    speed: Annotated[float, typer.Option(help="Replay speed: 1 is real time, 60 is an hour a minute.")] = 30.0,
    replay: Annotated[bool, typer.Option(help="Replay the real Charlotte Street traffic.")] = True,
    theme: Annotated[Optional[str], typer.Option(help="dark, light or high-contrast.")] = None,
) -> None:
    """Open the console on the demo facility (Charlotte Street CP) with stand-in devices."""
    from attendant.demo import demo_config, ensure_demo_db
    from attendant.tui.app import run_console

    state = _ctx(ctx)
    engine = ensure_demo_db(state.db, actor=state.actor)
    run_console(engine, demo_config(), facility_code="CHS", replay_speed=speed if replay else None, theme=theme)


@app.command()
def init(
    ctx: typer.Context,
    layout: Annotated[Optional[Path], typer.Option(help="Layout TOML of the facility to create.")] = None,
    demo_: Annotated[bool, typer.Option("--demo", help="Create the demo facility (Charlotte Street CP).")] = False,
    rates: Annotated[Optional[Path], typer.Option(help="Rate plan TOML (default: the layout's rate_plan).")] = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a facility from a layout file (non-interactive)."""
    from attendant.core.facilities import create_facility, list_facilities
    from attendant.core.layout import load_layout
    from attendant.core.rates import load_rate_plan
    from attendant.demo import demo_layout_path

    state = _ctx(ctx)
    if bool(layout) == bool(demo_):
        fail("give exactly one of --layout FILE or --demo")
    layout_obj = load_layout(demo_layout_path() if demo_ else layout)
    plan = load_rate_plan(rates) if rates else None
    engine = state.engine()
    if demo_ and any(f.code == layout_obj.code for f in list_facilities(engine)):
        info = next(f for f in list_facilities(engine) if f.code == layout_obj.code)
        created = False
    else:
        info = create_facility(engine, layout_obj, actor=state.login(), rate_plan=plan)
        created = True
    if json_:
        _print_json({"facility": info.code, "name": info.name, "spots": info.capacity, "created": created})
    else:
        verb = "Created" if created else "Already present:"
        typer.echo(f"{verb} {info.name} ({info.code}): {info.capacity} spots, time zone {info.timezone}")


@app.command()
def enter(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="Licence plate, e.g. 'AB12 CDE'.")],
    vehicle: Annotated[str, typer.Option("--vehicle", help="motorcycle, car, van, truck or bus.")] = "car",
    ev: Annotated[bool, typer.Option("--ev", help="Electric vehicle asking for a charging bay.")] = False,
    accessible: Annotated[bool, typer.Option("--accessible", help="Blue badge: accessible bay.")] = False,
    lane: Annotated[Optional[str], typer.Option(help="Entry lane code (default: the first entry lane).")] = None,
    spot: Annotated[Optional[str], typer.Option(help="Put the vehicle in this bay (e.g. L1-B04).")] = None,
    printer: Annotated[Optional[str], typer.Option(help="Printer URL overriding the lane's printer.")] = None,
    at: Annotated[Optional[str], typer.Option(help="Entry time, ISO 8601 (no offset: facility time).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Admit a vehicle: bay, session, printed ticket, gate vend."""
    state = _ctx(ctx)
    service = state.service()
    when = parse_when(at, service.tz)
    outcome = state.booth(printer).process_entry(
        plate, vehicle, actor=state.login(), lane=lane, ev=ev, accessible=accessible, spot_label=spot, at=when
    )
    e = outcome.entry
    if json_:
        data = e.to_json_dict()
        data.update(
            entry_at_local=service.local(e.entry_at).isoformat(),
            printed=outcome.printed,
            print_error=outcome.print_error,
            gate=outcome.gate,
        )
        _print_json(data)
    else:
        local = service.local(e.entry_at).strftime("%a %d %b %Y %H:%M")
        typer.echo(f"Ticket {e.ticket_no}  {e.plate or '(no plate)'}  {e.vehicle_class}  bay {e.spot_label}  {local}")
        typer.echo(f"Code {e.code}")
        typer.echo(f"Gate: {outcome.gate}" + (f"  PRINTER: {outcome.print_error}" if outcome.print_error else ""))


PAY_METHODS = ("cash", "card", "upi", "ewallet", "mobile", "pass", "account")


def _parse_tenders(items: list[str], tendered: str | None, currency: str):
    """``--pay`` items ``METHOD`` or ``METHOD=AMOUNT`` into tenders (cash gets ``--tendered``)."""
    from attendant.booth import Tender

    tenders = []
    for item in items:
        method, _, amount = item.partition("=")
        method = method.strip().lower()
        if method not in PAY_METHODS:
            raise InputError(f"unknown payment method {method!r} (one of: {', '.join(PAY_METHODS)})")
        tenders.append(Tender(method, parse_major(amount, currency) if amount else None))
    if tendered is not None:
        cash = [i for i, t in enumerate(tenders) if t.method == "cash"]
        if not cash:
            fail("--tendered goes with --pay cash")
        t = tenders[cash[-1]]
        tenders[cash[-1]] = Tender(t.method, t.amount, parse_major(tendered, currency), t.reference)
    return tenders


def _exit_json(outcome, currency: str) -> dict:
    r = outcome.exit
    money = lambda v: to_major_str(v, currency)  # noqa: E731
    return {
        "session_id": r.session_id,
        "ticket_no": r.ticket_no,
        "plate": r.plate,
        "spot": r.spot_label,
        "entry_at": r.entry_at.isoformat(),
        "exit_at": r.exit_at.isoformat(),
        "duration_minutes": int((r.exit_at - r.entry_at).total_seconds() // 60),
        "currency": currency,
        "amount_due": money(r.fee.amount),
        "lines": [{"label": ln.label, "minutes": ln.minutes, "amount": money(ln.amount)} for ln in r.fee.lines],
        "method": r.method,
        "paid": money(r.paid),
        "tendered": money(r.tendered) if r.tendered is not None else None,
        "change": money(r.change or 0),
        "payments": [
            {"id": p.id, "method": p.method, "status": p.status, "amount": money(p.amount),
             "reference": p.reference, "message": p.message}
            for p in r.payments
        ],
        "iou": money(r.iou_amount),
        "gate": outcome.gate,
        "printed": outcome.printed,
        "print_error": outcome.print_error,
    }


@app.command("exit")
def exit_(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The ticket code (scanned QR) of the session.")],
    pay: Annotated[
        Optional[list[str]],
        typer.Option("--pay", help="cash, card, upi, ewallet, mobile, pass, account; METHOD=AMOUNT to split."),
    ] = None,
    tendered: Annotated[Optional[str], typer.Option(help="Cash handed over, in major units (e.g. 20.00).")] = None,
    validation: Annotated[
        Optional[list[str]], typer.Option("--validation", help="Merchant validation code to apply first.")
    ] = None,
    pass_code: Annotated[Optional[str], typer.Option("--pass", help="Pass code (default: the plate's pass).")] = None,
    account: Annotated[Optional[str], typer.Option(help="Account to invoice, with --pay account.")] = None,
    iou: Annotated[
        Optional[str], typer.Option("--iou", help="Let the vehicle go with an IOU for what is due; the reason.")
    ] = None,
    lane: Annotated[Optional[str], typer.Option(help="Exit lane code (default: the first exit lane).")] = None,
    printer: Annotated[Optional[str], typer.Option(help="Printer URL overriding the lane's printer.")] = None,
    at: Annotated[Optional[str], typer.Option(help="Exit time, ISO 8601 (no offset: facility time).")] = None,
    idempotency_key: Annotated[
        Optional[str], typer.Option(help="Retry key: a repeated call with the same key charges once.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Take payment and let a vehicle out: fee, payment(s), change, receipt, gate vend.

    With --iou REASON a failed or missing payment still opens the gate and
    records an IOU against the session and the plate (never trap a car).
    """
    from attendant.booth import Tender

    state = _ctx(ctx)
    service = state.service()
    currency = service.facility.currency
    when = parse_when(at, service.tz)
    items = list(pay or ([] if iou or validation else ["card"]))
    tenders = _parse_tenders(items, tendered, currency)
    if pass_code or account:
        tenders = [
            Tender(t.method, t.amount, t.tendered, pass_code if t.method == "pass" else account
                   if t.method == "account" else t.reference)
            for t in tenders
        ]
    outcome = state.booth(printer).process_exit(
        code,
        actor=state.login(),
        tenders=tenders,
        validations=tuple(validation or ()),
        iou_reason=iou,
        lane=lane,
        at=when,
        idempotency_key=idempotency_key,
    )
    r = outcome.exit
    if json_:
        _print_json(_exit_json(outcome, currency))
        return
    from attendant.booth import duration_text
    from attendant.core.money import format_money

    typer.echo(f"Ticket {r.ticket_no}  {r.plate or '(no plate)'}  stay {duration_text(r.entry_at, r.exit_at)}")
    for ln in r.fee.lines:
        typer.echo(f"  {ln.label:<44} {format_money(ln.amount, currency):>10}")
    typer.echo(f"  {'Total':<44} {format_money(r.fee.amount, currency):>10}")
    for p in r.payments:
        typer.echo(f"  {p.method} {p.status} {format_money(p.amount, currency)}" + (f"  {p.message}" if p.message
                                                                                     else ""))
    if r.change:
        typer.echo(f"Change {format_money(r.change, currency)}")
    if r.iou_amount:
        typer.echo(f"IOU recorded: {format_money(r.iou_amount, currency)} against {r.plate or 'the ticket'}")
    typer.echo(f"Gate: {outcome.gate}" + (f"  PRINTER: {outcome.print_error}" if outcome.print_error else ""))


@app.command()
def reprint(
    ctx: typer.Context,
    ticket_no: Annotated[str, typer.Argument(help="Ticket number, e.g. 00000042.")],
    lane: Annotated[Optional[str], typer.Option(help="Entry lane whose printer to use.")] = None,
    printer: Annotated[Optional[str], typer.Option(help="Printer URL overriding the lane's printer.")] = None,
) -> None:
    """Reprint a ticket (damaged ticket, jam): same signed code, same single session."""
    state = _ctx(ctx)
    error = state.booth(printer).reprint(ticket_no, lane=lane)
    if error:
        fail(f"ticket {ticket_no} not printed: {error}")
    typer.echo(f"Ticket {ticket_no} reprinted")


@app.command()
def find(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="Plate of a vehicle inside (lost ticket, ticketless entry).")],
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Find the open session of a plate: its ticket, code, bay and entry time."""
    service = _ctx(ctx).service()
    view = service.find_by_plate(plate)
    if json_:
        _print_json({"ticket_no": view.ticket_no, "code": view.code, "plate": view.plate, "spot": view.spot_label,
                     "entry_at": view.entry_at.isoformat(), "vehicle_class": view.vehicle_class})
    else:
        local = service.local(view.entry_at).strftime("%a %d %b %H:%M")
        typer.echo(f"{view.plate}: ticket {view.ticket_no}, bay {view.spot_label}, entered {local}")
        typer.echo(f"Code {view.code}")


@app.command()
def status(ctx: typer.Context, json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Occupancy, availability by level and spot type, and today's revenue."""
    from attendant.core.money import format_money

    service = _ctx(ctx).service()
    f = service.facility
    occupied, capacity = service.occupancy()
    levels = service.availability()
    revenue = service.revenue()
    today = service.local(service.clock()).date()
    if json_:
        _print_json(
            {
                "facility": f.code,
                "name": f.name,
                "timezone": f.timezone,
                "currency": f.currency,
                "date": today.isoformat(),
                "capacity": capacity,
                "occupied": occupied,
                "available": sum(level.available for level in levels),
                "levels": [
                    {
                        "code": level.code,
                        "name": level.name,
                        "capacity": level.capacity,
                        "available": level.available,
                        "by_type": {t: {"available": a, "capacity": c} for t, (a, c) in level.by_type.items()},
                    }
                    for level in levels
                ],
                "revenue_today": to_major_str(revenue, f.currency),
            }
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{f.name} ({f.code}) — {occupied}/{capacity} occupied — today {format_money(revenue, f.currency)}")
    types = sorted({t for level in levels for t in level.by_type})
    table.add_column("Level")
    table.add_column("Free", justify="right")
    for t in types:
        table.add_column(t, justify="right")
    for level in levels:
        cells = [f"{level.by_type[t][0]}/{level.by_type[t][1]}" if t in level.by_type else "-" for t in types]
        table.add_row(f"{level.code} {level.name}", f"{level.available}/{level.capacity}", *cells)
    Console().print(table)


def _report(ctx: typer.Context, period: str, date_: Optional[str], format_: str) -> None:
    """Print the ``period`` report containing ``date_`` (facility-local, default today) as table, csv or json."""
    from attendant.core.reports import period_report

    service = _ctx(ctx).service()
    if format_ not in ("table", "csv", "json"):
        fail(f"unknown format {format_!r} (table, csv or json)")
    try:
        day = date.fromisoformat(date_) if date_ else None
    except ValueError:
        fail(f"not a date: {date_!r} (YYYY-MM-DD)")
    report = period_report(service, period, day)
    if format_ == "json":
        _print_json(report.to_json_dict())
    elif format_ == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["date", "facility", "section", "key", "count", "amount", "currency"])
        for row in report.rows():
            writer.writerow(row)
        typer.echo(out.getvalue(), nl=False)
    else:
        from rich.console import Console

        Console().print(report.to_rich())


_FORMAT_HELP = "table, csv or json."


@report_app.command("daily")
def report_daily(
    ctx: typer.Context,
    date_: Annotated[Optional[str], typer.Option("--date", help="Facility-local date YYYY-MM-DD (default today).")] = None,
    format_: Annotated[str, typer.Option("--format", help=_FORMAT_HELP)] = "table",
) -> None:
    """Revenue, traffic and occupancy for one facility-local day."""
    _report(ctx, "daily", date_, format_)


@report_app.command("weekly")
def report_weekly(
    ctx: typer.Context,
    date_: Annotated[
        Optional[str], typer.Option("--date", help="Any facility-local date in the ISO week (Mon-Sun), default today.")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help=_FORMAT_HELP)] = "table",
) -> None:
    """Revenue, traffic and occupancy for one ISO week (Monday to Sunday), day by day."""
    _report(ctx, "weekly", date_, format_)


@report_app.command("monthly")
def report_monthly(
    ctx: typer.Context,
    month: Annotated[Optional[str], typer.Option("--month", help="YYYY-MM (default this month).")] = None,
    date_: Annotated[Optional[str], typer.Option("--date", help="Any facility-local date in the month.")] = None,
    format_: Annotated[str, typer.Option("--format", help=_FORMAT_HELP)] = "table",
) -> None:
    """Revenue, traffic and occupancy for one calendar month, day by day."""
    if month is not None:
        if date_ is not None:
            fail("give --month or --date, not both")
        try:
            date_ = date.fromisoformat(f"{month}-01").isoformat()
        except ValueError:
            fail(f"not a month: {month!r} (YYYY-MM)")
    _report(ctx, "monthly", date_, format_)


def _register_extras() -> None:
    import importlib

    for name in ("cli_rates", "cli_payments", "cli_staff", "cli_devices", "cli_spots"):
        try:
            module = importlib.import_module(f"attendant.{name}")
        except ModuleNotFoundError as exc:  # a front-end module still being written
            if exc.name != f"attendant.{name}":
                raise
            continue
        module.register(app)


_register_extras()


def main() -> None:
    """Console-script entry point: runs the app with one-line errors and no tracebacks."""
    try:
        code = app(standalone_mode=False)
    except AttendantError as exc:
        typer.echo(f"attendant: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("attendant: aborted", err=True)
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument...
        typer.echo(f"attendant: {exc.format_message()}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # an unexpected failure: keep the traceback off the screen
        _log_unexpected(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _log_unexpected(exc: Exception) -> None:
    """Write the traceback to the error log and print one line; exits 1."""
    try:
        from attendant.paths import data_dir

        log_path = data_dir() / "attendant-errors.log"
        with log_path.open("a") as handle:
            handle.write(f"--- {datetime.now().isoformat()} {' '.join(sys.argv)}\n{traceback.format_exc()}\n")
        where = f" (details in {log_path})"
    except OSError:
        where = ""
    typer.echo(f"attendant: unexpected error: {exc}{where}", err=True)
    sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
