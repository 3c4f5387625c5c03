"""``attendant report daily|weekly|monthly``: revenue, traffic and occupancy (BRIEF.md feature 11).

Periods are facility-local: a day, an ISO week (Monday first), a calendar
month. ``--format`` table (Rich), csv or json; the console's reports screen
(ctrl+b) shows the same figures from the same report.
"""


from datetime import date
from typing import Annotated, Optional

import typer

from attendant.cli.common import fail, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

report_app = typer_app(
    help="Reports (revenue, traffic, occupancy) for a facility-local day, week or month.", no_args_is_help=True
)
commands.add_typer(report_app, name="report")

FormatOpt = Annotated[str, typer.Option("--format", help="table, csv or json.")]


def _report(ctx: typer.Context, period: str, date_: Optional[str], format_: str) -> None:
    """Print the ``period`` report containing ``date_`` (facility-local, default today) as table, csv or json."""
    from attendant.core.report_layout import FORMATS, render_report

    if format_ not in FORMATS:
        fail(f"unknown format {format_!r} (table, csv or json)")
    try:
        day = date.fromisoformat(date_) if date_ else None
    except ValueError:
        fail(f"not a date: {date_!r} (YYYY-MM-DD)")
    cli = state(ctx)
    if cli.all_facilities:  # every facility of the database, added up (same facility-local dates)
        from attendant.core.reports import combine_reports, period_report

        every = cli.facility_views()
        day = day or every[0].local(every[0].clock()).date()
        report = combine_reports([period_report(views, period, day) for views in every])
    else:
        report = cli.booth().report(period, day)
    typer.echo(render_report(report, format_, color=True), nl=False)  # typer drops the colour when piped


@report_app.command("daily")
def report_daily(
    ctx: typer.Context,
    date_: Annotated[Optional[str], typer.Option("--date", help="Facility-local date YYYY-MM-DD (default today).")] = None,
    format_: FormatOpt = "table",
) -> None:
    """Revenue, traffic and occupancy for one facility-local day."""
    _report(ctx, "daily", date_, format_)


@report_app.command("weekly")
def report_weekly(
    ctx: typer.Context,
    date_: Annotated[
        Optional[str], typer.Option("--date", help="Any facility-local date in the ISO week (Mon-Sun), default today.")
    ] = None,
    format_: FormatOpt = "table",
) -> None:
    """Revenue, traffic and occupancy for one ISO week (Monday to Sunday), day by day."""
    _report(ctx, "weekly", date_, format_)


@report_app.command("monthly")
def report_monthly(
    ctx: typer.Context,
    month: Annotated[Optional[str], typer.Option("--month", help="YYYY-MM (default this month).")] = None,
    date_: Annotated[Optional[str], typer.Option("--date", help="Any facility-local date in the month.")] = None,
    format_: FormatOpt = "table",
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


@report_app.command("exceptions")
def report_exceptions(
    ctx: typer.Context,
    date_: Annotated[Optional[str], typer.Option(
        "--date", help="Facility-local date YYYY-MM-DD (default today); with --week or --month, a day in it.",
    )] = None,
    week: Annotated[bool, typer.Option("--week", help="The ISO week (Mon-Sun) of --date.")] = False,
    month: Annotated[bool, typer.Option("--month", help="The calendar month of --date.")] = False,
    format_: FormatOpt = "table",
) -> None:
    """Every exception at the booth (lost tickets, free exits, manual vends, back-dating, IOUs, reprints,
    bays out of service...) with time, lane, actor, reason and amount; totals by kind and by actor."""
    from attendant.core.exceptions_report import (
        FORMATS,
        exceptions_report,
        render_exceptions,
    )

    if format_ not in FORMATS:
        fail(f"unknown format {format_!r} (table, csv or json)")
    if week and month:
        fail("give --week or --month, not both")
    try:
        day = date.fromisoformat(date_) if date_ else None
    except ValueError:
        fail(f"not a date: {date_!r} (YYYY-MM-DD)")
    period = "weekly" if week else "monthly" if month else "daily"
    report = exceptions_report(state(ctx).service(), period, day)
    typer.echo(render_exceptions(report, format_), nl=False)
