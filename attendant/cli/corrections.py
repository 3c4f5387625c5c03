"""``attendant void|manual-entry|move|apb|count``: corrections at the booth (issue 10 items 4 and 5).

Thin over :class:`attendant.core.corrections.CorrectionOps` (the services check
roles and write one transaction with one ``exception.<kind>`` audit event).
``--reason`` is ``CODE`` or ``'CODE: text'`` from the reason list
(:data:`attendant.core.exceptions.DEFAULT_REASON_CODES`; ``attendant void
--help`` lists them). Bad input or a refused correction prints one line on
stderr and exits 2, changing nothing. ``count check`` exits 1 when it finds
disagreements (like ``diff``), 0 when bays, sessions and counts agree.
"""


from typing import Annotated

import typer

from attendant.cli.common import JsonOpt, parse_when, print_json, state, typer_app
from attendant.core.exceptions import DEFAULT_REASON_CODES

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

_CODES = ", ".join(DEFAULT_REASON_CODES)
ReasonOpt = Annotated[str, typer.Option("--reason", help=f"CODE or 'CODE: text'; codes: {_CODES}.")]
LaneOpt = Annotated[str | None, typer.Option("--lane", help="The lane it happened at (kept in the audit).")]

apb_app = typer_app(help="Anti-passback: let a plate held as 'already inside' enter again.", no_args_is_help=True)
commands.add_typer(apb_app, name="apb")
count_app = typer_app(help="Counts that stay true: compare bays, open sessions and lanes; adjust with a reason.",
                      no_args_is_help=True)
commands.add_typer(count_app, name="count")


def _show(service, done, json_: bool) -> None:
    if json_:
        print_json(done.to_json_dict(service.facility.currency))
        return
    what = {"void": "Voided", "move": "Moved", "apb_reset": "Anti-passback reset", "count_adjust": "Adjusted"}
    line = f"{what.get(done.kind, done.kind)}"
    if done.ticket_no:
        line += f" ticket {done.ticket_no}" + (f" ({done.plate})" if done.plate else "")
    if done.kind == "move":
        line += f": bay {done.from_spot} -> {done.spot}"
    elif done.adjustment:
        line += f": {done.adjustment.replace('_', ' ')}" + (f" {done.spot or done.from_spot}" if done.spot or
                                                             done.from_spot else "")
    elif done.from_spot:
        line += f", bay {done.from_spot} freed"
    if done.iou_id:
        line += f"; IOU {done.iou_id} for {service.describe_amount(done.amount_cents)}"
    typer.echo(line + f"  [{done.reason}]")


@commands.command("void")
def void(
    ctx: typer.Context,
    ticket: Annotated[str, typer.Argument(help="Ticket code, ticket number or plate of the open session.")],
    reason: ReasonOpt,
    lane: LaneOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Void a ticket issued in error (gate not passed, nothing paid): no stay, bay freed, nothing charged.

    Attendants within 5 minutes of issue; supervisors later.
    """
    cli = state(ctx)
    service = cli.service()
    _show(service, service.void_ticket(ticket, reason=reason, actor=cli.login(), lane=lane), json_)


@commands.command("manual-entry")
def manual_entry(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="Plate of the vehicle found inside without a session.")],
    bay: Annotated[str, typer.Option("--bay", help="The bay it is in (free, and it must fit).")],
    reason: ReasonOpt,
    vehicle: Annotated[str, typer.Option("--vehicle", help="motorcycle, car, van, truck or bus.")] = "car",
    at: Annotated[str | None, typer.Option(
        "--at", help="Claimed entry time, ISO 8601 (no offset: facility time); in the past: supervisors.")] = None,
    ev: Annotated[bool, typer.Option("--ev", help="Electric vehicle (may use an EV bay).")] = False,
    accessible: Annotated[bool, typer.Option("--accessible", help="Blue badge (may use an accessible bay).")] = False,
    lane: LaneOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Open a session for a vehicle found inside without one: its bay, the claimed entry time, a reason.

    A ticket number and code are issued (it leaves like any other); no gate opens.
    """
    cli = state(ctx)
    service = cli.service()
    when = parse_when(at, service.tz, "--at")
    e = service.manual_entry(plate, vehicle, bay=bay, reason=reason, actor=cli.login(), at=when, ev=ev,
                             accessible=accessible, lane=lane)
    if json_:
        print_json({**e.to_json_dict(), "session_id": e.session_id, "plate": e.plate,
                    "vehicle_class": e.vehicle_class, "action": "exception.manual_entry"})
    else:
        local = service.local(e.entry_at).strftime("%a %d %b %Y %H:%M")
        typer.echo(f"Manual entry: ticket {e.ticket_no}  {e.plate}  {e.vehicle_class}  bay {e.spot_label}  "
                   f"entered {local}")
        typer.echo(f"Code {e.code}")


@commands.command("move")
def move(
    ctx: typer.Context,
    ticket: Annotated[str, typer.Argument(help="Ticket code, ticket number or plate of the parked vehicle.")],
    to: Annotated[str, typer.Option("--to", help="The bay it moves to (free, and it must fit).")],
    reason: ReasonOpt,
    accessible: Annotated[bool | None, typer.Option(
        "--accessible/--not-accessible", help="Blue badge shown (default: it is now in an accessible bay).")] = None,
    lane: LaneOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Move a vehicle to another bay (override the slot assignment): old bay freed, new bay claimed.

    Attendants within the same bay type; a supervisor when the bay type changes.
    """
    cli = state(ctx)
    service = cli.service()
    _show(service, service.move_vehicle(ticket, to, reason=reason, actor=cli.login(), accessible=accessible,
                                        lane=lane), json_)


@apb_app.command("reset")
def apb_reset(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="The plate anti-passback holds as already inside.")],
    reason: ReasonOpt,
    lane: LaneOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Close the plate's stale open session (its exit was missed) so it may enter; what it owes becomes an IOU."""
    cli = state(ctx)
    service = cli.service()
    _show(service, service.reset_anti_passback(plate, reason=reason, actor=cli.login(), lane=lane), json_)


@count_app.command("check")
def count_check(
    ctx: typer.Context,
    older_than: Annotated[float | None, typer.Option(
        "--older-than", help="Hours after which an open session is stale (default 168: a week).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Compare bays, open sessions and lane counts; list every disagreement (exit status 1 if any)."""
    from datetime import timedelta

    from attendant.core.errors import InputError

    cli = state(ctx)
    service = cli.service()
    if older_than is not None and not (0 < older_than <= 24 * 3660):
        raise InputError("--older-than: hours from more than 0 to 87840")
    check = service.count_check(stale_after=timedelta(hours=older_than) if older_than else None)
    if json_:
        print_json(check.to_json_dict())
    else:
        typer.echo(f"Occupied bays {check.occupied_bays}, open sessions {check.open_sessions}; "
                   f"stale after {check.stale_after.total_seconds() / 3600:g} h")
        for lane in check.lanes:
            typer.echo(f"  lane {lane.lane} ({lane.direction}) today: {lane.sessions} sessions, {lane.openings} "
                       f"gate openings ({lane.openings_without_session} without a session)")
        if check.ok:
            typer.echo("Counts agree.")
        for d in check.disagreements:
            typer.echo(f"{d.kind}: {d.message}  -> attendant count adjust {' | '.join(d.fixes)} --reason R")
    if not check.ok:
        raise typer.Exit(1)


@count_app.command("adjust")
def count_adjust(
    ctx: typer.Context,
    reason: ReasonOpt,
    session: Annotated[int | None, typer.Option("--session", help="Session id from `count check`.")] = None,
    close: Annotated[bool, typer.Option("--close", help="With --session: its vehicle is gone; close it "
                                                        "(what it owes becomes an IOU).")] = False,
    occupy: Annotated[bool, typer.Option("--occupy", help="With --session: its vehicle is in its bay; mark "
                                                          "the bay occupied.")] = False,
    free_bay: Annotated[str | None, typer.Option("--free-bay", help="An occupied bay with no session: mark "
                                                                       "it available.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Resolve one disagreement `count check` listed, with a reason (supervisors)."""
    cli = state(ctx)
    service = cli.service()
    _show(service, service.count_adjust(reason=reason, actor=cli.login(), session_id=session, close=close,
                                        occupy=occupy, free_bay=free_bay), json_)
