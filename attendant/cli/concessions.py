"""``attendant concession add|remove|list``: concessions on a session (a disabled driver's badge, ...).

The rate plan's tariffs that name a concession price the stay (``docs/rates.md``,
*Zones, concessions and re-entry*); the service is
:class:`attendant.core.concessions.ConcessionOps`. TICKET is a ticket code, a
ticket number or a plate, as at the exit.
"""

from typing import Annotated

import typer

from attendant.cli.common import JsonOpt, print_json, state, typer_app

commands = typer_app()
concession_app = typer_app(help="Concessions on a session (e.g. disabled_badge), priced by the rate plan.",
                           no_args_is_help=True)
commands.add_typer(concession_app, name="concession")

Ticket = Annotated[str, typer.Argument(metavar="TICKET", help="Ticket code, ticket number or plate.")]


@concession_app.command("add")
def concession_add(
    ctx: typer.Context,
    ticket: Ticket,
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="The concession, as the rate plan names it "
                                                                   "(e.g. disabled_badge).")],
    badge: Annotated[str, typer.Option("--badge", metavar="NUMBER", help="Number of the badge seen (stored "
                                                                      "encrypted).")],
    json_: JsonOpt = False,
) -> None:
    """Record a concession on a vehicle inside, with the badge seen (attendant)."""
    cli = state(ctx)
    view = cli.service().add_concession(ticket, name, badge=badge, actor=cli.login())
    if json_:
        print_json(view.to_json_dict())
    else:
        typer.echo(f"Ticket {view.ticket_no}: concession {view.name} (badge {view.badge})")


@concession_app.command("remove")
def concession_remove(
    ctx: typer.Context,
    ticket: Ticket,
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="The concession to remove.")],
    reason: Annotated[str, typer.Option("--reason", metavar="R", help="Why (recorded in the audit log).")],
    json_: JsonOpt = False,
) -> None:
    """Remove a concession recorded in error (attendant, with a reason)."""
    cli = state(ctx)
    cli.service().remove_concession(ticket, name, reason=reason, actor=cli.login())
    if json_:
        print_json({"ticket": ticket, "name": name.strip().lower(), "removed": True})
    else:
        typer.echo(f"Removed concession {name.strip().lower()}")


@concession_app.command("list")
def concession_list(ctx: typer.Context, ticket: Ticket, json_: JsonOpt = False) -> None:
    """The concessions on a session (badge numbers masked)."""
    cli = state(ctx)
    views = cli.service().concessions_of(ticket)
    if json_:
        print_json({"concessions": [v.to_json_dict() for v in views]})
    elif not views:
        typer.echo("No concessions")
    else:
        for v in views:
            typer.echo(f"{v.name}  badge {v.badge}  by {v.created_by}  {v.created_at:%Y-%m-%d %H:%M} UTC")
