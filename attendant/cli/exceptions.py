"""Booth exceptions from the command line (issue 10): ``vend`` (a gate opened by hand with a reason) and
``reasons`` (the booth's reason codes, the same list the console's pickers show).

Lost tickets and free exits are options of ``exit`` (``--lost PLATE``, ``--free --reason R``); the
exceptions report is ``report exceptions``. The rules are in the services
(:mod:`attendant.core.booth_exceptions`); reason codes come from ``console.toml``'s ``[exceptions]
reasons = {CODE = "meaning"}`` table, else :data:`attendant.core.exceptions.DEFAULT_REASON_CODES`.
"""

from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, print_json, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named


@commands.command()
def vend(
    ctx: typer.Context,
    lane: Annotated[str, typer.Argument(help="The lane whose gate to open, e.g. X1.")],
    reason: Annotated[str, typer.Option("--reason", metavar="REASON",
                                        help="Why: CODE or 'CODE: text' (attendant reasons).")],
    retry: Annotated[Optional[int], typer.Option(
        "--retry", metavar="VEND_ID", help="The faulted vend this opening retries.")] = None,
    by_hand: Annotated[bool, typer.Option(
        "--by-hand", help="The barrier was lifted by hand: record it, do not command the gate.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Open a lane's gate by hand with a reason (recorded as a vend of source attendant, audited
    exception.manual_vend); exits 3 when the gate refused (the vend is recorded as a fault)."""
    cli = state(ctx)
    booth = cli.booth()
    done = booth.manual_vend(lane, reason, actor=cli.login(), retry_of=retry, command=not by_hand)
    if json_:
        print_json({"vend_id": done.vend_id, "lane": done.lane, "direction": done.direction,
                    "reason": done.reason, "gate": done.gate.value, "message": done.message,
                    "retry_of": retry, "by_hand": by_hand})
    else:
        typer.echo(f"Vend {done.vend_id} at {done.lane} ({done.reason}): gate {done.gate.value}"
                   + (f" ({done.message})" if done.message else ""))
    if done.gate.value == "fault":
        raise typer.Exit(3)


@commands.command()
def reasons(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """The booth's reason codes for exceptions (console.toml [exceptions] reasons, else the defaults)."""
    from attendant.core.exceptions import DEFAULT_REASON_CODES, REASONS_NEEDING_TEXT

    config = state(ctx).console_config()
    codes = config.reason_codes or DEFAULT_REASON_CODES
    if json_:
        print_json({"source": config.source if config.reason_codes else "default",
                    "reasons": [{"code": code, "meaning": meaning, "needs_text": code in REASONS_NEEDING_TEXT}
                                for code, meaning in codes.items()]})
        return
    for code, meaning in codes.items():
        typer.echo(f"{code:<18} {meaning}")
