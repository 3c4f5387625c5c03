"""CLI commands for rate plans: ``attendant quote``, ``attendant rates check`` and ``rates activate``.

``quote`` and ``rates check`` read a TOML plan file (format: ``docs/rates.md``)
and use the fee engine in :mod:`attendant.core.rates`; they touch no
database. ``rates activate`` makes a plan the facility's new version.

Errors (a bad plan, a bad time, an unknown vehicle class) print one line on
stderr and exit with status 2, without a traceback.
"""


import json
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Annotated, Optional

import typer

from attendant.cli.common import parse_when, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

rates_app = typer_app(help="Rate plans (tariffs).", no_args_is_help=True)
commands.add_typer(rates_app, name="rates")


def _print_fee(fee, plan, entry_at: datetime, exit_at: datetime, tz: tzinfo) -> None:
    from rich.console import Console
    from rich.table import Table

    from attendant.core.money import format_money
    from attendant.core.rates import format_minutes

    console = Console()
    title = plan.name + (f" ({plan.version})" if plan.version else "")
    stay = exit_at.astimezone(timezone.utc) - entry_at.astimezone(timezone.utc)
    minutes = int(stay.total_seconds() // 60)
    table = Table(title=title, caption=None, show_footer=True)
    table.add_column("Item", footer="Total")
    table.add_column("Minutes", justify="right", footer=str(minutes))
    table.add_column("Amount", justify="right", footer=format_money(fee.amount, fee.currency))
    for line in fee.lines:
        table.add_row(line.label, str(line.minutes), format_money(line.amount, fee.currency))
    console.print(
        f"Entry {entry_at.astimezone(tz).isoformat(timespec='minutes')}  "
        f"Exit {exit_at.astimezone(tz).isoformat(timespec='minutes')}  "
        f"Stay {format_minutes(minutes)}",
        highlight=False,
    )
    console.print(table)


@commands.command("quote")
def quote(
    rates: Annotated[Path, typer.Option("--rates", metavar="FILE", help="Rate plan TOML file.")],
    vehicle: Annotated[
        str, typer.Option("--vehicle", metavar="CLASS", help="Vehicle class: motorcycle, car, van, truck, bus.")
    ],
    entry: Annotated[
        str,
        typer.Option(
            "--entry",
            metavar="ISO",
            help="Entry time, ISO 8601; without an offset it is facility time (the plan's timezone, else UTC).",
        ),
    ],
    exit_: Annotated[str, typer.Option("--exit", metavar="ISO", help="Exit time, ISO 8601 (as --entry).")],
    spot_type: Annotated[
        str,
        typer.Option(
            "--spot-type", metavar="T", help="Spot type: motorcycle, compact, regular, large, accessible, ev."
        ),
    ] = "regular",
    lost: Annotated[bool, typer.Option("--lost", help="Charge the lost-ticket fee.")] = False,
    occupancy: Annotated[
        Optional[float],  # noqa: UP045 - typer reads the annotation at run time
        typer.Option("--occupancy", metavar="FRACTION", help="Occupancy at entry (0..1), for surge pricing."),
    ] = None,
    zone: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at run time
        typer.Option("--zone", metavar="NAME", help="The bay's zone (from the layout), for tariffs with zones."),
    ] = None,
    concession: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer reads the annotation at run time
        typer.Option("--concession", metavar="NAME",
                     help="A concession held (e.g. disabled_badge); repeat for several."),
    ] = None,
    previous_stay: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at run time
        typer.Option("--previous-stay", metavar="ENTRY_ISO/EXIT_ISO",
                     help="The plate's stay before this one, for the plan's re-entry rule."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fee as JSON.")] = False,
) -> None:
    """Quote the fee for a stay, with its breakdown."""
    from attendant.core.errors import InputError
    from attendant.core.rates import compute_fee, load_rate_plan

    plan = load_rate_plan(rates)
    tz = plan.zone or timezone.utc
    entry_at = parse_when(entry, tz, "--entry")
    exit_at = parse_when(exit_, tz, "--exit")
    earlier = None
    if previous_stay is not None:
        before_in, sep, before_out = previous_stay.partition("/")
        if not sep or not before_in.strip() or not before_out.strip():
            raise InputError(f"--previous-stay {previous_stay!r}: write ENTRY/EXIT, e.g. "
                             "2026-06-01T09:00/2026-06-01T10:10")
        earlier = (parse_when(before_in.strip(), tz, "--previous-stay entry"),
                   parse_when(before_out.strip(), tz, "--previous-stay exit"))
    fee = compute_fee(plan, entry_at, exit_at, vehicle_class=vehicle, spot_type=spot_type, tz=tz, lost=lost,
                      occupancy=occupancy, zone=zone, concessions=concession or (), previous_stay=earlier)
    if as_json:
        typer.echo(json.dumps(fee.to_json_dict(), ensure_ascii=False))
    else:
        _print_fee(fee, plan, entry_at, exit_at, tz)


@rates_app.command("check")
def check(file: Annotated[Path, typer.Argument(metavar="FILE", help="Rate plan TOML file.")]) -> None:
    """Validate a rate plan file: prints OK and a summary, or the error (exit 2)."""
    from attendant.core.rates import load_rate_plan

    plan = load_rate_plan(file)
    version = f", version {plan.version}" if plan.version else ""
    typer.echo(f"OK: {plan.describe()} ({plan.name}{version})")


@rates_app.command("activate")
def activate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Rate plan TOML to make the facility's active plan.")],
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make FILE the facility's active rate plan (a new version; supervisors only).

    Vehicles already inside keep the version they entered under.
    """
    from attendant.core.facilities import activate_rate_plan
    from attendant.core.rates import load_rate_plan

    cli = state(ctx)
    plan = load_rate_plan(file)
    service = cli.service()
    version = activate_rate_plan(cli.engine(), service.facility.id, plan, source=str(file), actor=cli.login())
    if json_:
        typer.echo(json.dumps({"facility": service.facility.code, "version": version, "name": plan.name}))
    else:
        typer.echo(f"{service.facility.code}: rate plan version {version} active: {plan.describe()}")
