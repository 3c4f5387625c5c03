"""The facility's window of accepted times (``attendant time-window``): show it, or set it (admins).

What the window is and why: :mod:`attendant.core.time_bounds` (issue 9 item 3,
"Bounded time"). Durations are typed ``90s``, ``15m``, ``36h`` or ``7d``.
"""

from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, print_json, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named


@commands.command("time-window")
def time_window(
    ctx: typer.Context,
    before: Annotated[Optional[str], typer.Option(
        help="Earliest --at: the oldest open entry (or now) minus this (default 1d).")] = None,
    ahead: Annotated[Optional[str], typer.Option(help="Latest --at: now plus this (default 1m).")] = None,
    widen: Annotated[Optional[str], typer.Option(
        help="How far before now a supervisor may back-date with --allow-backdate (default 366d).")] = None,
    replay: Annotated[Optional[bool], typer.Option(
        "--replay/--no-replay",
        help="Replay mode: attendants may back-date within the window without a supervisor (default off).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Show the facility's window of accepted times, or change it (admins; audited)."""
    from dataclasses import replace

    from attendant.core.time_bounds import (
        get_replay,
        get_window,
        parse_duration,
        set_replay,
        set_window,
    )

    cli = state(ctx)
    cli._one_facility()
    window = get_window(cli.engine(), cli.facility)
    if before is not None or ahead is not None or widen is not None:
        changes = {name: parse_duration(text, f"--{name}")
                   for name, text in (("before", before), ("ahead", ahead), ("widen", widen)) if text is not None}
        window = set_window(cli.engine(), replace(window, **changes), actor=cli.login(), facility_code=cli.facility)
    if replay is not None:
        set_replay(cli.engine(), replay, actor=cli.login(), facility_code=cli.facility)
    replaying = get_replay(cli.engine(), cli.facility)
    seconds = window.as_seconds()
    if json_:
        print_json({"before_s": seconds["at_before_s"], "ahead_s": seconds["at_ahead_s"],
                    "widen_s": seconds["at_widen_s"], "replay": replaying})
    else:
        typer.echo(f"--at accepted from the oldest open entry (or now) minus {window.before} to now plus "
                   f"{window.ahead}; a supervisor may back-date to now minus {window.widen} with a reason; "
                   + ("replay mode: attendants may back-date within the window" if replaying else
                      "attendants may not back-date (a supervisor with --reason may)"))
