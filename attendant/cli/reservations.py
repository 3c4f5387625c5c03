"""``attendant reservation`` (book, list, show, cancel, check in, sweep, pools) and ``attendant strategy``.

Every command calls the booth services (:mod:`attendant.core.reservations`,
:meth:`attendant.core.services.ParkingService.set_strategy`), the same calls
the console makes. Times typed without an offset are facility time; ``--json``
prints money as decimal strings in major units and times ISO 8601 (UTC, plus
``*_local`` in facility time). Bad input or a refused operation prints one
line on stderr and exits 2, changing nothing (an overbooking names the first
instant it conflicts).
"""


from datetime import date
from typing import Annotated

import typer

from attendant.cli.common import (
    JsonOpt,
    PrinterOpt,
    parse_when,
    print_json,
    state,
    typer_app,
)
from attendant.core.errors import InputError

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

reservation_app = typer_app(help="Reservations: book a bay for a window, check in, cancel, sweep no-shows.",
                            no_args_is_help=True)
commands.add_typer(reservation_app, name="reservation")
strategy_app = typer_app(help="The allocation strategy of the facility (every booth).", no_args_is_help=True)
commands.add_typer(strategy_app, name="strategy")


def _line(service, r) -> str:
    window = f"{service.local(r.start_at):%a %d %b %H:%M}-{service.local(r.end_at):%H:%M}"
    where = r.spot or (f"zone {r.zone}" if r.zone else r.spot_type)
    held = f" held {r.held_spot}" if r.held_spot and r.status == "booked" else ""
    from attendant.core.money import format_money

    return (f"{r.code or r.id}  {r.status:<10}  {window}  {r.vehicle_class} {where}{held}  "
            f"{r.plate or '(no plate)'}  price {format_money(r.price, r.currency)} prepaid "
            f"{format_money(r.amount_prepaid, r.currency)}")


def _show(service, r, json_: bool) -> None:
    if json_:
        print_json(r.to_json_dict(service.tz))
    else:
        typer.echo(_line(service, r))


@reservation_app.command("create")
def create(
    ctx: typer.Context,
    vehicle: Annotated[str, typer.Option("--vehicle", help="motorcycle, car, van, truck or bus.")],
    from_: Annotated[str, typer.Option("--from", help="Start of the window, ISO 8601 (no offset: facility time).")],
    to: Annotated[str, typer.Option("--to", help="End of the window, ISO 8601 (no offset: facility time).")],
    plate: Annotated[str | None, typer.Option(help="Plate, so the camera checks the vehicle in.")] = None,
    spot_type: Annotated[str | None, typer.Option("--spot-type", help="Spot type to book (default: the "
                                                                         "vehicle's usual bay).")] = None,
    zone: Annotated[str | None, typer.Option(help="Book in this zone (its pool).")] = None,
    spot: Annotated[str | None, typer.Option(help="Book this bay, e.g. L1-B04.")] = None,
    holder: Annotated[str | None, typer.Option(help="Holder's name (kept encrypted).")] = None,
    contact: Annotated[str | None, typer.Option(help="Holder's phone or e-mail (kept encrypted).")] = None,
    ev: Annotated[bool, typer.Option("--ev", help="An EV that needs a charging bay.")] = False,
    accessible: Annotated[bool, typer.Option("--accessible", help="Blue badge: an accessible bay.")] = False,
    prepay: Annotated[str | None, typer.Option(help="Take the window's price now: cash, card, upi, ewallet "
                                                       "or mobile.")] = None,
    key: Annotated[str | None, typer.Option("--idempotency-key", help="A retried booking with the same key "
                                                                        "returns the first.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Book a window. Prints the signed reservation code (the QR payload)."""
    from attendant.core.reservations import ReservationRequest

    cli = state(ctx)
    service = cli.service()
    request = ReservationRequest(
        vehicle, parse_when(from_, service.tz, "--from"), parse_when(to, service.tz, "--to"), plate=plate,
        spot_type=spot_type, zone=zone, spot=spot, holder_name=holder, holder_contact=contact, ev=ev,
        accessible=accessible, prepay=prepay, idempotency_key=key)
    _show(service, service.book(request, actor=cli.login()), json_)


@reservation_app.command("list")
def list_(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option("--date", help="Facility day YYYY-MM-DD (default: every day).")] = None,
    status: Annotated[str | None, typer.Option(help="booked, checked_in, completed, cancelled, no_show or "
                                                       "expired.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Reservations by start of window."""
    cli = state(ctx)
    service = cli.service()
    when = None
    if day is not None:
        try:
            when = date.fromisoformat(day.strip())
        except ValueError:
            raise InputError(f"--date: not a date: {day[:20]!r} (YYYY-MM-DD)") from None
    rows = service.reservations(day=when, status=status)
    if json_:
        print_json({"reservations": [r.to_json_dict(service.tz) for r in rows]})
        return
    for r in rows:
        typer.echo(_line(service, r))
    if not rows:
        typer.echo("No reservations.")


@reservation_app.command("show")
def show(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The reservation code (or its number).")],
    json_: JsonOpt = False,
) -> None:
    """One reservation, with its holder's details."""
    service = state(ctx).service()
    r = service.reservation(code)
    if json_:
        print_json(r.to_json_dict(service.tz))
        return
    typer.echo(_line(service, r))
    if r.holder_name or r.holder_contact:
        typer.echo(f"Holder: {r.holder_name or ''}  {r.holder_contact or ''}".rstrip())
    if r.reason:
        typer.echo(f"Reason: {r.reason}")


@reservation_app.command("cancel")
def cancel(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The reservation code (or its number).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
    json_: JsonOpt = False,
) -> None:
    """Cancel a booked reservation: the hold released, the prepayment refunded by the plan's rule."""
    cli = state(ctx)
    service = cli.service()
    _show(service, service.cancel_reservation(code, reason=reason, actor=cli.login()), json_)


@reservation_app.command("check-in")
def check_in(
    ctx: typer.Context,
    code_or_plate: Annotated[str, typer.Argument(metavar="CODE|PLATE", help="The reservation code or the plate.")],
    lane: Annotated[str | None, typer.Option(help="Entry lane code (default: the first entry lane).")] = None,
    printer: PrinterOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Admit the vehicle of a reservation at an entry lane: its held bay, a ticket, the gate."""
    from attendant.booth.shapes import entry_json
    from attendant.core.requests import EntryRequest
    from attendant.core.tickets import looks_like_reservation_code

    cli = state(ctx)
    booth = cli.booth(printer)
    service = booth.service
    r = service.reservation(code_or_plate) if looks_like_reservation_code(code_or_plate) \
        else service.booked_for_plate(code_or_plate)
    if r.status != "booked":
        raise InputError(f"reservation {r.code} is {r.status.replace('_', ' ')}, not waiting for its vehicle")
    request = EntryRequest(r.plate, r.vehicle_class, ev=r.spot_type == "ev", accessible=r.spot_type == "accessible",
                           lane=lane, reservation=r.code)
    outcome = booth.enter(request, actor=cli.login())
    e = outcome.entry
    if json_:
        print_json(entry_json(outcome, service))
    else:
        typer.echo(f"Reservation {r.code} checked in: ticket {e.ticket_no}  bay {e.spot_label}  "
                   f"{service.local(e.entry_at):%H:%M}")
        typer.echo(f"Gate: {outcome.gate}" + (f"  PRINTER: {outcome.print_error}" if outcome.print_error else ""))


@reservation_app.command("sweep")
def sweep(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Hold the bays whose hold has begun; mark no-shows (fee kept, rest refunded) and free their bays.
    The console runs the same every minute."""
    cli = state(ctx)
    service = cli.service()
    result = service.sweep(actor=cli.login())
    if json_:
        from attendant.core.money import to_major_str

        print_json({**result, "refunded": to_major_str(result["refunded"], service.facility.currency)})
    else:
        typer.echo(f"Held {result['held']} bays; no-shows {len(result['no_show'])}; expired "
                   f"{len(result['expired'])}")
        for code in result["no_show"] + result["expired"]:
            typer.echo(f"  {code}")


@reservation_app.command("report")
def report(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option("--date", help="Facility day YYYY-MM-DD (default: today).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Reservations of a day: booked, checked in, cancelled, no-shows; prepaid, no-show and overstay revenue;
    the reservable pools' use by hour."""
    from attendant.core.money import format_money, to_major_str

    service = state(ctx).service()
    when = service.local(service.clock()).date()
    if day is not None:
        try:
            when = date.fromisoformat(day.strip())
        except ValueError:
            raise InputError(f"--date: not a date: {day[:20]!r} (YYYY-MM-DD)") from None
    data = service.reservation_report(when)
    cur = data["currency"]
    if json_:
        print_json({**data, **{k: to_major_str(data[k], cur) for k in ("prepaid", "no_show_fees", "overstay")}})
        return
    c = data["counts"]
    typer.echo(f"Reservations {data['date']}: {c['total']} starting that day  booked {c['booked']}  checked in "
               f"{c['checked_in']}  completed {c['completed']}  cancelled {c['cancelled']}  no-show {c['no_show']}"
               f"  expired {c['expired']}")
    typer.echo(f"Prepaid (net of refunds) {format_money(data['prepaid'], cur)}  no-show fees "
               f"{format_money(data['no_show_fees'], cur)}  overstay {format_money(data['overstay'], cur)}")
    for p in data["pools"]:
        busy = [h for h in p["hours"] if h["reserved"]]
        typer.echo(f"Pool {p['spot_type']}{' zone ' + p['zone'] if p['zone'] else ''} ({p['capacity']} bays): "
                   + ("  ".join(f"{h['hour']} {h['reserved']}" for h in busy) or "no reservation that day"))


@reservation_app.command("pool")
def pool(
    ctx: typer.Context,
    spot_type: Annotated[str, typer.Argument(help="The spot type, e.g. regular.")],
    bays: Annotated[int | None, typer.Option(help="Reservable bays (a number).", min=0)] = None,
    share: Annotated[int | None, typer.Option(help="Reservable share of that type's bays, percent.",
                                                 min=0, max=100)] = None,
    zone: Annotated[str | None, typer.Option(help="Only in this zone.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Set how many bays of a type reservations may book (supervisors)."""
    cli = state(ctx)
    result = cli.service().set_pool(spot_type, bays=bays, share_pct=share, zone=zone, actor=cli.login())
    if json_:
        print_json(result)
    else:
        typer.echo(f"Pool {result['spot_type']}{' zone ' + result['zone'] if result['zone'] else ''}: "
                   f"{result['capacity']} bays reservable")


@reservation_app.command("pools")
def pools(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """The reservable pools and their capacity."""
    rows = state(ctx).service().pools()
    if json_:
        print_json({"pools": rows})
        return
    for p in rows:
        typer.echo(f"{p['spot_type']:<10} {p['zone'] or '(all zones)':<12} {p['capacity']} bays")
    if not rows:
        typer.echo("No reservable pool: set one with `attendant reservation pool TYPE --bays N`.")


@strategy_app.command("set")
def strategy_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="nearest, best_fit or spread.")],
    json_: JsonOpt = False,
) -> None:
    """Switch the allocation strategy for every booth of the facility (supervisors; audited)."""
    cli = state(ctx)
    service = cli.service()
    service.set_strategy(name.strip().lower().replace("-", "_"), actor=cli.login())
    chosen = service.strategy.value
    if json_:
        print_json({"strategy": chosen})
    else:
        typer.echo(f"Allocation strategy: {chosen}")


@strategy_app.command("show")
def strategy_show(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """The facility's allocation strategy."""
    chosen = state(ctx).service().strategy.value
    if json_:
        print_json({"strategy": chosen})
    else:
        typer.echo(f"Allocation strategy: {chosen}")
