"""``attendant spot``: take a bay out of service and back (BRIEF feature 8: exceptions).

Supervisors only: the role comes from ``--user/--pin``
(:meth:`attendant.cli.common.Context.login`); the service checks it. Bad input or a
refused change prints one line on stderr and exits 2, changing nothing.
"""


import json
from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

spot_app = typer_app(help="Bays: take one out of service (cones, a spill, a repair) and back.",
                       no_args_is_help=True)
commands.add_typer(spot_app, name="spot")


def _done(label: str, status: str, reason: Optional[str], json_: bool) -> None:
    if json_:
        typer.echo(json.dumps({"spot": label.strip().upper(), "status": status, "reason": reason}))
    else:
        typer.echo(f"Bay {label.strip().upper()} is now {status.replace('_', ' ')}")


@spot_app.command("out")
def spot_out(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="The bay, e.g. L0-C01.")],
    reason: Annotated[str, typer.Option(help="Why (required, kept in the audit log).")],
    json_: JsonOpt = False,
) -> None:
    """Take a free bay out of service: it is never allocated until put back."""
    cli = state(ctx)
    status = cli.service().set_spot_in_service(label, False, actor=cli.login(), reason=reason)
    _done(label, status.value, reason, json_)


@spot_app.command("in")
def spot_in(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="The bay, e.g. L0-C01.")],
    reason: Annotated[Optional[str], typer.Option(help="Why (kept in the audit log).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Put a bay that is out of service back into use."""
    cli = state(ctx)
    status = cli.service().set_spot_in_service(label, True, actor=cli.login(), reason=reason)
    _done(label, status.value, reason, json_)
