"""CLI commands for users and shifts: ``attendant user ...`` and ``attendant shift ...``.

Every command logs in through the global ``--user``/``--pin`` options
(:meth:`attendant.cli.common.Context.login`) and calls the booth's desks
(:attr:`~attendant.booth.Booth.staff`, :attr:`~attendant.booth.Booth.shifts`); the services check the role: an attendant asking
for a supervisor action gets one line on stderr and exit status 2, and
nothing changes. Amounts are typed in major units (``100.00``); ``--json``
prints money as decimal strings in major units and times in ISO 8601.

Commands::

    user add USERNAME --role R --pin PIN [--name N] [--json]
    user list [--json]
    user unlock USERNAME
    user passwd USERNAME --pin NEW
    user role USERNAME ROLE
    user deactivate USERNAME
    shift open --float AMOUNT [--terminal T] [--json]
    shift drop AMOUNT [--note T] [--json]          (also paid-in, paid-out)
    shift close --count "50.00x2,20.00x3,1.00x7,0.50x4" [--card AMOUNT] [--other METHOD=AMOUNT ...]
                [--shift ID] [--reason TEXT] [--print] [--printer URL] [--json]
    shift policy [--blind/--no-blind] [--reason-above AMOUNT] [--json]
    shift report [--shift ID] [--print] [--printer URL] [--json]
"""


from typing import Annotated, Optional

import typer

from attendant.cli.common import (
    JsonOpt,
    PrinterOpt,
    parse_money,
    print_json,
    state,
    typer_app,
)
from attendant.core.errors import InputError
from attendant.core.money import format_money

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

user_app = typer_app(help="Users and roles (PIN login).", no_args_is_help=True)
shift_app = typer_app(help="Shifts: float, cash drops, count-up and the shift report.", no_args_is_help=True)
commands.add_typer(user_app, name="user")
commands.add_typer(shift_app, name="shift")

PrintOpt = Annotated[bool, typer.Option("--print", help="Print the report on the booth's ESC/POS printer.")]


# --------------------------------------------------------------------------- users
@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name: letters, digits, '.', '_' or '-'.")],
    role: Annotated[str, typer.Option("--role", help="attendant, supervisor or admin.")],
    pin: Annotated[str, typer.Option("--pin", help="The new user's PIN: 6 to 12 digits.")],
    name: Annotated[Optional[str], typer.Option("--name", help="Display name (default: the user name).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a user (admin only; the very first user, an admin, needs no login)."""
    cli = state(ctx)
    user = cli.booth().staff.add(cli.login(), username, name, role, pin)
    if json_:
        print_json(user.to_json_dict())
    else:
        typer.echo(f"Created {user.role.value} {user.username} ({user.display_name})")


@user_app.command("list")
def user_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List users, their roles and whether they are locked."""
    rows = state(ctx).booth().staff.users()
    if json_:
        print_json({"users": [u.to_json_dict() for u in rows]})
        return
    if not rows:
        typer.echo("No users yet: create an admin with `attendant user add NAME --role admin --pin PIN`")
        return
    typer.echo(f"{'User':<16} {'Role':<10} {'Name':<24} State")
    for u in rows:
        if not u.active:
            state_text = "deactivated"
        elif u.locked_at():
            from attendant.core.clock import utc_now

            now = utc_now()
            state_text = "LOCKED " + ", ".join(f"at {where} until {until.isoformat(timespec='minutes')}"
                                               for where, until in u.locked_sources if until > now)
        else:
            state_text = "active"
        typer.echo(f"{u.username:<16} {u.role.value:<10} {u.display_name[:24]:<24} {state_text}")


@user_app.command("unlock")
def user_unlock(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    source: Annotated[Optional[str], typer.Option(help="Only this source (as `user list` shows it; "
                                                       "default: every source).")] = None,
) -> None:
    """Clear a user's locks after wrong PINs, from every source or one (supervisor or admin)."""
    cli = state(ctx)
    user = cli.booth().staff.unlock(cli.login(), username, source=source)
    typer.echo(f"Unlocked {user.username}" + (f" at {source}" if source else ""))


@user_app.command("passwd")
def user_passwd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    pin: Annotated[str, typer.Option("--pin", help="The new PIN: 6 to 12 digits.")],
) -> None:
    """Set a user's PIN (your own, or as a supervisor someone else's)."""
    cli = state(ctx)
    user = cli.booth().staff.change_pin(cli.login(), username, pin)
    typer.echo(f"PIN changed for {user.username}")


@user_app.command("role")
def user_role(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Argument(help="attendant, supervisor or admin.")],
) -> None:
    """Change a user's role (admin)."""
    cli = state(ctx)
    user = cli.booth().staff.set_role(cli.login(), username, role)
    typer.echo(f"{user.username} is now {user.role.value}")


@user_app.command("deactivate")
def user_deactivate(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Deactivate a user: kept for history, can no longer log in (admin)."""
    cli = state(ctx)
    user = cli.booth().staff.deactivate(cli.login(), username)
    typer.echo(f"Deactivated {user.username}")


# --------------------------------------------------------------------------- shifts
@shift_app.command("open")
def shift_open(
    ctx: typer.Context,
    float_: Annotated[str, typer.Option("--float", help="Cash in the drawer at the start, e.g. 100.00.")],
    terminal: Annotated[Optional[str], typer.Option("--terminal", help="Booth or till name.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Open your shift with a float."""
    cli = state(ctx)
    booth = cli.booth()
    facility = booth.facility
    amount = parse_money(float_, facility.currency, "--float")
    view = booth.shifts.open(cli.login(), amount, terminal=terminal)
    if json_:
        print_json(view.to_json_dict())
    else:
        typer.echo(f"Shift #{view.id} open for {view.display_name}, float {format_money(amount, facility.currency)}")


def _movement(ctx: typer.Context, kind: str, amount_text: str, note: str | None, json_: bool) -> None:
    cli = state(ctx)
    booth = cli.booth()
    facility = booth.facility
    amount = parse_money(amount_text, facility.currency, "amount")
    mv = booth.shifts.move(cli.login(), kind, amount, note)
    if json_:
        print_json(mv.to_json_dict())
    else:
        cur = facility.currency
        label = kind.replace("_", " ").capitalize()
        typer.echo(
            f"{label} {format_money(mv.amount, cur)} on shift #{mv.shift_id}; "
            f"drawer now {format_money(mv.drawer, cur)}"
        )


#: The drawer movements recorded by ``shift drop|paid-in|paid-out``: (command, kind, amount help, note help, summary).
MOVEMENTS = (
    ("drop", "drop", "Cash taken from the drawer to the safe, e.g. 50.00.", "Bag number or remark.",
     "Record a cash drop (cash from the drawer to the safe)."),
    ("paid-in", "paid_in", "Cash put into the drawer, e.g. 20.00.", "Why.",
     "Record cash paid into the drawer (not a parking fee)."),
    ("paid-out", "paid_out", "Cash paid out of the drawer, e.g. 5.00.", "Why.",
     "Record cash paid out of the drawer (not a refund)."),
)


def _movement_command(kind: str, amount_help: str, note_help: str, summary: str):
    def command(
        ctx: typer.Context,
        amount: Annotated[str, typer.Argument(help=amount_help)],
        note: Annotated[Optional[str], typer.Option("--note", help=note_help)] = None,
        json_: JsonOpt = False,
    ) -> None:
        _movement(ctx, kind, amount, note, json_)

    command.__doc__ = summary
    return command


for _name, _kind, _amount_help, _note_help, _summary in MOVEMENTS:
    shift_app.command(_name)(_movement_command(_kind, _amount_help, _note_help, _summary))


def _output_report(cli, report, *, print_: bool, printer: str | None, json_: bool) -> None:
    print_error = None
    if print_:
        print_error = cli.booth(printer).print_text(report.lines())
    if json_:
        data = report.to_json_dict()
        if print_:
            data.update(printed=print_error is None, print_error=print_error)
        print_json(data)
    else:
        for line in report.lines():
            typer.echo(line)
        if print_error:
            typer.echo(f"PRINTER: {print_error}")


@shift_app.command("close")
def shift_close(
    ctx: typer.Context,
    count: Annotated[
        str, typer.Option("--count", help='Drawer count by denomination, e.g. "50.00x2,20.00x3,1.00x7,0.50x4".')
    ],
    card: Annotated[
        Optional[str], typer.Option("--card", help="Card terminal batch total (default: expected).")
    ] = None,
    other: Annotated[
        Optional[list[str]], typer.Option("--other", help="Counted total of another method: METHOD=AMOUNT.")
    ] = None,
    shift_id: Annotated[Optional[int], typer.Option("--shift", help="Close this shift (supervisor).", min=1, max=2_147_483_647)] = None,
    reason: Annotated[Optional[str], typer.Option(
        "--reason", help="Why the count is over or short (required above the facility's threshold).")] = None,
    print_: PrintOpt = False,
    printer: PrinterOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Close a shift with its count-up; shows the report with over/short per payment method."""
    from attendant.core.shifts import parse_cash_count

    cli = state(ctx)
    booth = cli.booth()
    cur = booth.facility.currency
    actor = cli.login()
    cash_count = parse_cash_count(count, cur)
    counted: dict[str, int] = {}
    if card is not None:
        counted["card"] = parse_money(card, cur, "--card")
    for item in other or ():
        method, sep, value = item.partition("=")
        if not sep or not method.strip():
            raise InputError(f"--other {item!r}: expected METHOD=AMOUNT, e.g. upi=12.40")
        counted[method.strip().lower()] = parse_money(value, cur, f"--other {method.strip()}")
    report = booth.shifts.close(actor, cash_count=cash_count, counted_other=counted or None, shift_id=shift_id,
                                reason=reason)
    _output_report(cli, report, print_=print_, printer=printer, json_=json_)


@shift_app.command("report")
def shift_report_cmd(
    ctx: typer.Context,
    shift_id: Annotated[
        Optional[int], typer.Option("--shift", help="Shift number (default: your current or last).", min=1,
                                    max=2_147_483_647)
    ] = None,
    print_: PrintOpt = False,
    printer: PrinterOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show (and print) a shift report: float, takings, drops, count-up, over/short."""
    cli = state(ctx)
    booth = cli.booth()
    actor = cli.login()
    if shift_id is None:
        if getattr(actor, "user_id", None) is None:
            raise InputError("give --shift ID, or log in with --user and --pin for your own shift")
        shift_id = booth.shifts.last_id(actor)
        if shift_id is None:
            raise InputError(f"{actor} has no shift at this facility yet")
    report = booth.shifts.report(shift_id, actor=actor)
    _output_report(cli, report, print_=print_, printer=printer, json_=json_)


@shift_app.command("policy")
def shift_policy(
    ctx: typer.Context,
    blind: Annotated[Optional[bool], typer.Option(
        "--blind/--no-blind", help="Blind count-up: the console hides the expected amounts until the count "
        "is entered (default on).")] = None,
    reason_above: Annotated[Optional[str], typer.Option(
        "--reason-above", help="An over/short larger than this needs a reason at close, e.g. 5.00.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Show the count-up policy, or change it (supervisors; audited)."""
    cli = state(ctx)
    booth = cli.booth()
    cur = booth.facility.currency
    if blind is not None or reason_above is not None:
        amount = parse_money(reason_above, cur, "--reason-above") if reason_above is not None else None
        policy = booth.shifts.set_policy(cli.login(), blind=blind, reason_above=amount)
    else:
        policy = booth.shifts.policy()
    if json_:
        print_json(policy.to_json_dict(cur))
    else:
        typer.echo(("Blind count-up: the expected amounts are shown once the count is entered"
                    if policy.blind else "Open count-up: the expected amounts are shown while counting")
                   + f"; an over/short above {format_money(policy.reason_above, cur)} needs a reason")
