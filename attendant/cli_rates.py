"""CLI commands for rate plans: ``attendant quote`` and ``attendant rates check``.

The main CLI (``attendant/cli.py``) calls :func:`register` on its typer app.
Both commands read a TOML plan file (format: ``docs/rates.md``) and use the
fee engine in :mod:`attendant.core.rates`; they touch no database.

Errors (a bad plan, a bad time, an unknown vehicle class) print one line on
stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from attendant.core.errors import AttendantError, InputError
from attendant.core.money import format_money
from attendant.core.rates import Fee, RatePlan, compute_fee, format_minutes, load_rate_plan

__all__ = ["register", "parse_time"]


def parse_time(text: str, tz: tzinfo, option: str) -> datetime:
    """Parse an ISO 8601 date-time; a naive one is wall-clock time in ``tz``.

    ``2026-10-24T23:00`` (facility time), ``2026-10-24T22:00Z`` or
    ``2026-10-24T23:00+01:00``. A naive wall time that occurs twice (DST
    fall-back) is read as the first occurrence (``fold=0``). Raises
    :class:`InputError` naming ``option``.
    """
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw)
    except (ValueError, IndexError):
        raise InputError(
            f"{option}: not an ISO 8601 date-time: {text!r} (e.g. 2026-10-24T23:00 or 2026-10-24T22:00Z)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def _fail(error: AttendantError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(2)


def _print_fee(fee: Fee, plan: RatePlan, entry_at: datetime, exit_at: datetime, tz: tzinfo) -> None:
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the fee as JSON.")] = False,
) -> None:
    """Quote the fee for a stay, with its breakdown."""
    try:
        plan = load_rate_plan(rates)
        tz = plan.zone or timezone.utc
        entry_at = parse_time(entry, tz, "--entry")
        exit_at = parse_time(exit_, tz, "--exit")
        fee = compute_fee(
            plan,
            entry_at,
            exit_at,
            vehicle_class=vehicle,
            spot_type=spot_type,
            tz=tz,
            lost=lost,
            occupancy=occupancy,
        )
    except AttendantError as error:
        raise _fail(error) from None
    if as_json:
        typer.echo(json.dumps(fee.to_json_dict(), ensure_ascii=False))
    else:
        _print_fee(fee, plan, entry_at, exit_at, tz)


def check(file: Annotated[Path, typer.Argument(metavar="FILE", help="Rate plan TOML file.")]) -> None:
    """Validate a rate plan file: prints OK and a summary, or the error (exit 2)."""
    try:
        plan = load_rate_plan(file)
    except AttendantError as error:
        raise _fail(error) from None
    version = f", version {plan.version}" if plan.version else ""
    typer.echo(f"OK: {plan.describe()} ({plan.name}{version})")


def activate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Rate plan TOML to make the facility's active plan.")],
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make FILE the facility's active rate plan (a new version; supervisors only).

    Vehicles already inside keep the version they entered under.
    """
    from attendant.core.facilities import activate_rate_plan

    state = ctx.obj  # errors (bad file, not a supervisor) reach attendant.cli.main: one line, exit 2
    plan = load_rate_plan(file)
    service = state.service()
    version = activate_rate_plan(state.engine(), service.facility.id, plan, source=str(file), actor=state.login())
    if json_:
        typer.echo(json.dumps({"facility": service.facility.code, "version": version, "name": plan.name}))
    else:
        typer.echo(f"{service.facility.code}: rate plan version {version} active: {plan.describe()}")


def register(app: typer.Typer) -> None:
    """Add ``quote`` and the ``rates`` group (``rates check``, ``rates activate``) to ``app``."""
    app.command("quote")(quote)
    rates_app = typer.Typer(help="Rate plans (tariffs).", no_args_is_help=True)
    rates_app.command("check")(check)
    rates_app.command("activate")(activate)
    app.add_typer(rates_app, name="rates")
