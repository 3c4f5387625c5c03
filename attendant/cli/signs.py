"""``attendant signs``: the count signs of the console config, without the console.

- ``signs list [--json]``: every ``[[signs]]`` entry with its scope, URL
  (password and token hidden), free bays and capacity now. Writes nothing.
- ``signs run [--seconds S] [--json]``: follows the change feed (every
  booth's commits) and drives the signs until ctrl+c or S seconds, printing
  one line whenever a sign shows a new count or changes health (``--json``:
  one object per line: ``at``, ``sign``, ``state``, ``shows``, ``message``).
- ``signs test NAME --free N [--timeout S]``: puts N (0: FULL) on one sign
  and says whether it took it; no database needed. Exit status 2 on failure.

The signs and their URLs are described in :mod:`hardware.signs`; the
counting in :mod:`attendant.core.signs`; the driving in
:mod:`attendant.booth.signs`.
"""


import json
import time
from typing import Annotated

import typer

from attendant.cli.common import JsonOpt, fail, print_json, state, typer_app

STOP_WAIT_S = 2.0
"""At ctrl+c, how long ``signs run`` lets each sign finish a write under way (s) before its last report."""

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

signs_app = typer_app(help="Count signs: free bays (or FULL) per level, zone or entrance.", no_args_is_help=True)
commands.add_typer(signs_app, name="signs")


def _config(ctx: typer.Context):
    config = state(ctx).console_config()
    if not config.signs:
        fail(f"no signs in {config.source}: add [[signs]] tables (name, scope, url); see README, Devices")
    return config


@signs_app.command("list")
def list_signs(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Every configured sign: scope, URL, free bays and capacity now (nothing is written to the signs)."""
    from attendant.core.errors import InputError
    from attendant.core.facilities import list_facilities
    from attendant.core.signs import FreeCount
    from hardware.urls import redact

    config = _config(ctx)
    cli = state(ctx)
    engine = cli.engine()
    facilities = {f.code: f for f in list_facilities(engine)}
    default = cli.facility.upper() if cli.facility else (next(iter(facilities)) if len(facilities) == 1 else None)
    counts: dict[int, FreeCount] = {}
    rows = []
    for sign in config.signs:
        code = sign.facility or default
        row = {"name": sign.name, "scope": sign.scope.text, "url": redact(sign.url), "facility": code,
               "types": sorted(sign.scope.types) if sign.scope.types else None,
               "free": None, "capacity": None, "full": None, "problem": None}
        info = facilities.get(code or "")
        if info is None:
            row["problem"] = f"no facility {code!r} in the database" if code else "give the sign a facility"
        else:
            count = counts.setdefault(info.id, FreeCount(engine, info.id))
            try:
                count.check(sign.scope)
                row["free"], row["capacity"] = count.free(sign.scope), count.capacity(sign.scope)
                row["full"] = row["free"] == 0
            except InputError as exc:
                row["problem"] = str(exc)
        rows.append(row)
    if json_:
        print_json({"config": config.source, "signs": rows})
        return
    for sign, row in zip(config.signs, rows, strict=True):
        shows = row["problem"] or ("FULL" if row["full"] else f"{row['free']} free") + f" of {row['capacity']}"
        typer.echo(f"{row['name']:<10} {sign.scope.label:<20} {shows:<20} {row['url']}")


@signs_app.command("run")
def run(
    ctx: typer.Context,
    json_: JsonOpt = False,
    seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds (default: ctrl+c).",
                                                    min=0, max=31_622_400)] = None,
) -> None:
    """Drive the configured signs from the change feed until ctrl+c."""
    from attendant.cli.devices import _device_log

    with _device_log():  # driver log lines (reconnects) go to attendant-devices.log, not the terminal
        _run(ctx, json_, seconds)


def _run(ctx: typer.Context, json_: bool, seconds: float | None) -> None:
    from attendant.booth.signs import SignBoard
    from attendant.cli.devices import utc_stamp

    config = _config(ctx)
    cli = state(ctx)
    board = SignBoard(cli.engine(), config.signs, facility=cli.facility.upper() if cli.facility else None)
    seen: dict[str, tuple[str, str]] = {}

    def feed_state(text: str) -> None:
        typer.echo(f"attendant: {'following the change feed' if text == 'live' else text}", err=True)

    def report() -> None:  # one line per sign whose health or face changed
        for name, status in board.status().items():
            link = board.links.get(name)
            shown = link.shown.text if link is not None and link.shown is not None else ""
            now = (str(status.state), shown)
            if seen.get(name) == now:
                continue
            seen[name] = now
            if json_:
                typer.echo(json.dumps({"at": utc_stamp(), "sign": name, "state": now[0], "shows": shown or None,
                                       "message": status.message}, ensure_ascii=False))
            else:
                typer.echo(f"{utc_stamp()} {name:<10} {now[0]:<8} {status.message}")

    board.follow(on_state=feed_state)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            report()
            time.sleep(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        # a write under way when ctrl+c came finishes first (bounded by the driver's timeout), so the
        # last lines say what each sign shows now
        for link in board.links.values():
            link.wait_idle(STOP_WAIT_S)
        report()
        board.close()


@signs_app.command("test")
def test(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The sign's name in the config.")],
    free: Annotated[int, typer.Option("--free", help="The count to show (0 shows FULL).", min=0, max=65535)],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the sign.", min=0.1, max=600)] = 5.0,
) -> None:
    """Show a count on one sign and say whether it took it (the database is not read)."""
    from attendant.cli.devices import _device_log

    with _device_log():
        _test(ctx, name, free, timeout)


def _test(ctx: typer.Context, name: str, free: int, timeout: float) -> None:
    from attendant.core.errors import AttendantError
    from hardware.signs import SignReading, open_sign

    config = _config(ctx)
    try:
        sign = config.sign(name)
    except AttendantError as exc:
        fail(str(exc))
    link = open_sign(sign.url, name=sign.name, backoff=(timeout, timeout))
    try:
        reading = SignReading(sign.name, sign.scope.text, free)
        link.update(reading)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if link.wait_shown(lambda shown: shown == reading, 0.05):
                typer.echo(f"{sign.name}: shows {reading.text}")
                return
            if link.failures:
                fail(f"sign {sign.name}: {link.last_error}")
        fail(f"sign {sign.name}: no answer within {timeout:g} s")
    finally:
        link.close()
