"""The booth's operations from the command line: init, demo, enter, exit, reprint, find, status.

Each command builds a typed request (:mod:`attendant.core.requests`) and
hands it to the booth (:class:`attendant.booth.Booth`), the same call the
console makes, so both write the same rows. ``--json`` output: money as
decimal strings in major units, times ISO 8601.
"""


from pathlib import Path
from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, PrinterOpt, fail, print_json, state, typer_app
from attendant.core.payment_methods import EXIT_METHODS

BackdateOpt = Annotated[Optional[str], typer.Option(
    "--allow-backdate", metavar="REASON",
    help="Accept an --at earlier than the facility's window (supervisors; the reason is audited).")]

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

@commands.command()
def demo(
    ctx: typer.Context,
    speed: Annotated[float, typer.Option(help="Replay speed: 1 is real time, 60 is an hour a minute.", min=0.01,
                                         max=10_000)] = 30.0,
    replay: Annotated[bool, typer.Option(help="Replay the real Charlotte Street traffic.")] = True,
    theme: Annotated[Optional[str], typer.Option(help="dark, light or high-contrast.")] = None,
    fresh: Annotated[Optional[bool], typer.Option("--fresh/--keep", help="Start the demo database afresh (deletes "
                                                  "its sessions and users) or keep it; default: ask when it holds "
                                                  "an earlier run, keep when nobody can answer.")] = None,
) -> None:
    """Open the console on the demo facility (Charlotte Street CP) with stand-in devices."""
    import sys

    from attendant.demo_files import DEMO_FACILITY, demo_db_contents, demo_db_path
    from attendant.tui.app import run_console

    cli = state(ctx)
    if cli.db is None:
        path = demo_db_path()
        sessions, users_there = demo_db_contents(path)
        if fresh is None and (sessions or users_there):
            held = f"{sessions} sessions and {users_there} users" if users_there else f"{sessions} sessions"
            fresh = sys.stdin.isatty() and typer.confirm(
                f"The demo database {path} holds {held} from an earlier run. Start afresh (deletes them)?",
                default=False)
        where = f"{path} ({'new' if fresh or not path.exists() else 'kept; --fresh starts over'})"
    else:
        where = cli.db
    typer.echo(f"attendant: demo database {where}", err=True)

    def source():  # in the console's opening thread, after its first paint (issue 12 item 10)
        from attendant.demo import demo_config, ensure_demo_db

        return ensure_demo_db(cli.db, actor=cli.os_account, fresh=bool(fresh)), demo_config()

    no_logins = ("the demo runs without logins (no users in its database; users made with `attendant user add` "
                 f"live in the site's database). For a demo with logins: `attendant --db sqlite:///{demo_db_path()} "
                 "user add NAME --role admin ...`")
    for note in run_console(source, facility_code=DEMO_FACILITY, replay_speed=speed if replay else None, theme=theme,
                            setup_note=no_logins, title=DEMO_FACILITY):
        typer.echo(f"attendant: {note}", err=True)


@commands.command()
def init(
    ctx: typer.Context,
    layout: Annotated[Optional[Path], typer.Option(help="Layout TOML of the facility to create.")] = None,
    demo_: Annotated[bool, typer.Option("--demo", help="Create the demo facility (Charlotte Street CP).")] = False,
    rates: Annotated[Optional[Path], typer.Option(help="Rate plan TOML (default: the layout's rate_plan).")] = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a facility from a layout file (non-interactive); the site's secrets (ticket keys,
    personal-data keys) are made if this booth has none."""
    from attendant.core.facilities import create_facility, list_facilities
    from attendant.core.layout import load_layout
    from attendant.core.rates import load_rate_plan
    from attendant.demo import demo_layout_path
    from attendant.keyfiles import ensure_site_secrets, in_service

    cli = state(ctx)
    if bool(layout) == bool(demo_):
        fail("give exactly one of --layout FILE or --demo")
    layout_obj = load_layout(demo_layout_path() if demo_ else layout)
    plan = load_rate_plan(rates) if rates else None
    engine = cli.engine()
    new_site = not in_service(engine)
    existing = {f.code: f for f in list_facilities(engine)}
    if demo_ and layout_obj.code in existing:
        info, created = existing[layout_obj.code], False
    else:
        info, created = create_facility(engine, layout_obj, actor=cli.login(), rate_plan=plan), True
    ensure_site_secrets(new_site=new_site)  # after the facility: a refused init makes no secret either
    if json_:
        print_json({"facility": info.code, "name": info.name, "spots": info.capacity, "created": created})
    else:
        verb = "Created" if created else "Already present:"
        typer.echo(f"{verb} {info.name} ({info.code}): {info.capacity} spots, time zone {info.timezone}")


@commands.command()
def enter(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="Licence plate, e.g. 'AB12 CDE'.")],
    vehicle: Annotated[str, typer.Option("--vehicle", help="motorcycle, car, van, truck or bus.")] = "car",
    ev: Annotated[bool, typer.Option("--ev", help="Electric vehicle asking for a charging bay.")] = False,
    accessible: Annotated[bool, typer.Option("--accessible", help="Blue badge: accessible bay.")] = False,
    lane: Annotated[Optional[str], typer.Option(help="Entry lane code (default: the first entry lane).")] = None,
    spot: Annotated[Optional[str], typer.Option(help="Put the vehicle in this bay (e.g. L1-B04).")] = None,
    printer: PrinterOpt = None,
    at: Annotated[Optional[str], typer.Option(help="Entry time, ISO 8601 (no offset: facility time); within the "
                                                   "facility's window (see time-window).")] = None,
    allow_backdate: BackdateOpt = None,
    reason: Annotated[Optional[str], typer.Option(
        "--reason", metavar="REASON",
        help="With --at before now: a supervisor's reason to back-date, CODE or 'CODE: text' (attendant reasons).",
    )] = None,
    reservation: Annotated[Optional[str], typer.Option(
        "--reservation", metavar="CODE", help="Check in this reservation (its held bay); without it a booked "
                                              "reservation of the plate is checked in by itself.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Admit a vehicle: bay, session, printed ticket, gate vend (checking in its reservation, if any).
    Back-dating (--at before now) needs a supervisor and --reason (or --allow-backdate REASON), unless the
    facility replays history."""
    from attendant.booth.shapes import entry_json, entry_request

    cli = state(ctx)
    booth = cli.booth(printer)
    service = booth.service
    if reason is not None:
        service.parse_reason(reason)  # a reason not in the booth's codes is refused before anything
    request = entry_request(booth, plate=plate, vehicle=vehicle, ev=ev, accessible=accessible, lane=lane, spot=spot,
                            at=at, backdate_reason=allow_backdate or reason, reservation=reservation)
    outcome = booth.enter(request, actor=cli.login())
    offline_notice(booth, outcome)
    e = outcome.entry
    if json_:
        print_json(entry_json(outcome, service))
    else:
        local = service.local(e.entry_at).strftime("%a %d %b %Y %H:%M")
        typer.echo(f"Ticket {e.ticket_no}  {e.plate or '(no plate)'}  {e.vehicle_class}  bay {e.spot_label}  {local}")
        typer.echo(f"Code {e.code}")
        if e.reservation is not None:
            r = e.reservation
            typer.echo(f"Reservation found: {r.code}  {service.local(r.start_at):%H:%M}-"
                       f"{service.local(r.end_at):%H:%M}  checked in")
        typer.echo(f"Gate: {outcome.gate}" + (f"  PRINTER: {outcome.print_error}" if outcome.print_error else ""))
        if e.flag:
            typer.echo(f"FLAG: {e.flag}")


from attendant.booth.shapes import exit_json, parse_tenders  # noqa: E402,F401 - their home since the HTTP API


def offline_notice(booth, outcome) -> None:
    """On stderr: the operation was journaled because the database is away (the command still succeeds)."""
    if getattr(outcome, "journaled", False):
        state_now = booth.offline.state()
        typer.echo(f"attendant: OFFLINE: the database cannot be reached ({state_now.reason}); journaled, "
                   f"{state_now.waiting} events waiting for `attendant sync`", err=True)


@commands.command("exit")
def exit_(
    ctx: typer.Context,
    code: Annotated[Optional[str], typer.Argument(
        help="The ticket code (scanned QR) of the session (not with --lost PLATE).")] = None,
    pay: Annotated[
        Optional[list[str]],
        typer.Option("--pay", help=f"{', '.join(s.value for s in EXIT_METHODS)}; METHOD=AMOUNT to split."),
    ] = None,
    tendered: Annotated[Optional[str], typer.Option(help="Cash handed over, in major units (e.g. 20.00).")] = None,
    confirm_amount: Annotated[bool, typer.Option(
        "--confirm-amount", help="Confirm a tendered amount far above the amount due (else refused).")] = False,
    validation: Annotated[
        Optional[list[str]], typer.Option("--validation", help="Merchant validation code to apply first.")
    ] = None,
    pass_code: Annotated[Optional[str], typer.Option("--pass", help="Pass code (default: the plate's pass).")] = None,
    account: Annotated[Optional[str], typer.Option(help="Account to invoice, with --pay account.")] = None,
    iou: Annotated[
        Optional[str], typer.Option("--iou", help="Let the vehicle go with an IOU for what is due; the reason.")
    ] = None,
    lane: Annotated[Optional[str], typer.Option(help="Exit lane code (default: the first exit lane).")] = None,
    printer: PrinterOpt = None,
    at: Annotated[Optional[str], typer.Option(help="Exit time, ISO 8601 (no offset: facility time); within the "
                                                   "facility's window (see time-window).")] = None,
    allow_backdate: BackdateOpt = None,
    idempotency_key: Annotated[
        Optional[str], typer.Option(help="Retry key: a repeated call with the same key charges once.")
    ] = None,
    lost: Annotated[Optional[str], typer.Option(
        "--lost", metavar="PLATE",
        help="Lost ticket: find the vehicle by PLATE and charge the rate plan's lost-ticket fee "
             "(no vehicle found: the fee for an unknown stay).")] = None,
    vehicle: Annotated[str, typer.Option(
        "--vehicle", help="Vehicle class of a lost-ticket vehicle not found inside.")] = "car",
    free: Annotated[bool, typer.Option(
        "--free", help="Free exit: waive the balance (a supervisor; needs --reason).")] = False,
    reason: Annotated[Optional[str], typer.Option(
        "--reason", metavar="REASON",
        help="Reason of the exception: CODE or 'CODE: text' (the booth's reason codes: `attendant "
             "reasons`); with --at, a supervisor's reason to back-date.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Take payment and let a vehicle out: fee, payment(s), change, receipt, gate vend.

    With --iou REASON a failed or missing payment still opens the gate and
    records an IOU against the session and the plate (never trap a car).
    With --lost PLATE the driver has no ticket: the session is found by plate
    and priced by the plan's lost-ticket rule. With --free --reason R (a
    supervisor) the balance is waived. Back-dating (--at before now) needs a
    supervisor and --reason (or --allow-backdate REASON), unless the facility
    replays history (time-window --replay).
    """
    from attendant.booth import duration_text
    from attendant.booth.shapes import exit_request, take_exit
    from attendant.core.money import format_money

    cli = state(ctx)
    if (code is None) == (lost is None):
        fail("give the ticket CODE, or --lost PLATE for a driver without a ticket")
    booth = cli.booth(printer)
    currency = booth.facility.currency
    backdate = allow_backdate or (reason if at is not None else None)
    request = exit_request(booth, code=code or "-", pay=pay, tendered=tendered,
                           validations=validation, pass_code=pass_code, account=account, iou=iou, lane=lane, at=at,
                           idempotency_key=idempotency_key, backdate_reason=backdate,
                           confirm_amount=confirm_amount, free=free, reason=reason)
    outcome, found_by = take_exit(booth, request, actor=cli.login(), lost=lost, vehicle=vehicle)
    offline_notice(booth, outcome)
    # a balance still due raises PaymentError (the payments taken stay)
    data = exit_json(outcome, currency, lost=lost, found_by=found_by, free_reason=reason if free else None)
    r = outcome.exit
    if json_:
        print_json(data)
        return
    if found_by is not None:
        typer.echo(f"Lost ticket: {'found by plate' if found_by == 'plate' else 'no vehicle found: unknown stay'}")
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


@commands.command()
def reprint(
    ctx: typer.Context,
    ticket_no: Annotated[str, typer.Argument(help="Ticket number, e.g. 00000042.")],
    lane: Annotated[Optional[str], typer.Option(help="Entry lane whose printer to use.")] = None,
    printer: PrinterOpt = None,
) -> None:
    """Reprint a ticket (damaged ticket, jam): same signed code, same single session."""
    cli = state(ctx)
    error = cli.booth(printer).reprint(ticket_no, lane=lane, actor=cli.login())
    if error:
        fail(f"ticket {ticket_no} not printed: {error}")
    typer.echo(f"Ticket {ticket_no} reprinted")


@commands.command()
def find(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="Plate of a vehicle inside (lost ticket, ticketless entry).")],
    json_: JsonOpt = False,
) -> None:
    """Find the open session of a plate: its ticket, code, bay and entry time."""
    service = state(ctx).service()
    view = service.find_by_plate(plate)
    if json_:
        from attendant.booth.shapes import session_json

        print_json(session_json(view, service))
    else:
        local = service.local(view.entry_at).strftime("%a %d %b %H:%M")
        typer.echo(f"{view.plate}: ticket {view.ticket_no}, bay {view.spot_label}, entered {local}")
        typer.echo(f"Code {view.code}")


@commands.command()
def status(
    ctx: typer.Context,
    json_: JsonOpt = False,
    all_: Annotated[bool, typer.Option("--all", help="Every facility in the database (as --facility all).")] = False,
) -> None:
    """Occupancy, availability by level and spot type, and today's revenue (of one facility, or --all)."""
    from attendant.core.money import format_money

    cli = state(ctx)
    if all_ or cli.all_facilities:
        every = [_status_of(views) for views in cli.facility_views()]
        if json_:
            totals: dict[str, int] = {}
            for one in every:
                totals[one["currency"]] = totals.get(one["currency"], 0) + one.pop("_revenue")
            from attendant.core.money import to_major_str

            print_json({"facilities": every,
                        "capacity": sum(one["capacity"] for one in every),
                        "occupied": sum(one["occupied"] for one in every),
                        "available": sum(one["available"] for one in every),
                        "revenue_today": {cur: to_major_str(amount, cur) for cur, amount in sorted(totals.items())}})
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(every)} facilities")
        for column, justify in (("Facility", "left"), ("Occupied", "right"), ("Free", "right"),
                                ("Today", "right"), ("Date", "left")):
            table.add_column(column, justify=justify)
        for one in every:
            table.add_row(f"{one['facility']} {one['name']}", f"{one['occupied']}/{one['capacity']}",
                          str(one["available"]), format_money(one.pop("_revenue"), one["currency"]), one["date"])
        Console().print(table)
        return
    views = cli.views()
    one = _status_of(views)
    revenue = one.pop("_revenue")
    if json_:
        print_json(one)
        return
    from rich.console import Console
    from rich.table import Table

    levels = one["levels"]
    table = Table(title=f"{one['name']} ({one['facility']}) — {one['occupied']}/{one['capacity']} occupied — "
                        f"today {format_money(revenue, one['currency'])}")
    types = sorted({t for level in levels for t in level["by_type"]})
    table.add_column("Level")
    table.add_column("Free", justify="right")
    for t in types:
        table.add_column(t, justify="right")
    for level in levels:
        by_type = level["by_type"]
        cells = [f"{by_type[t]['available']}/{by_type[t]['capacity']}" if t in by_type else "-" for t in types]
        table.add_row(f"{level['code']} {level['name']}", f"{level['available']}/{level['capacity']}", *cells)
    Console().print(table)
    if one["lanes"]:  # the lanes the open consoles drive, as they last published them
        lanes = Table(title="Lanes")
        for column in ("Lane", "Booth", "Gate", "Devices", "Queue", "Reprints"):
            lanes.add_column(column)
        for lane in one["lanes"]:
            trouble = ", ".join(f"{kind} {st}" for kind, st in lane["devices"].items() if st != "ok") or "ok"
            gate = (lane["gate"] or "-") + (f" ({lane['gate_reason']})" if lane["gate_reason"] else "")
            lanes.add_row(f"{lane['lane']} {lane['direction']}", lane["booth"], gate, trouble,
                          str(len(lane["queue"])), str(lane["reprints"]))
        Console().print(lanes)


def _status_of(views) -> dict:
    """One facility's status as ``status --json`` prints it (:func:`attendant.booth.shapes.status_json`)."""
    from attendant.booth.shapes import status_json

    return status_json(views)
