"""``attendant watch``: the changes every booth commits, live, one line each (display boards, scripts).

Follows the database's change log (:mod:`attendant.core.changes`): entries,
exits, bay status changes and payments, whoever made them, within a second.
``--json`` prints one JSON object per line: ``id``, ``kind`` (``entry``,
``exit``, ``spot``, ``payment``, ``lane``: a booth's lane gate, queue length
and reprints, or ``gone``), ``facility``, and the change's fields
(``ticket_no`` as printed, ``spot`` label, ``lane``, ``status``; money as
decimal strings in major units). Connection trouble goes to stderr and the
watch goes on once the database is back. Stops on ctrl+c or after
``--seconds``.
"""


import json
import queue
import time
from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named


@commands.command("watch")
def watch(
    ctx: typer.Context,
    json_: JsonOpt = False,
    all_: Annotated[bool, typer.Option("--all", help="Every facility in the database, not just one.")] = False,
    seconds: Annotated[Optional[float], typer.Option(help="Stop after this many seconds (default: ctrl+c).",
                                                    min=0, max=31_622_400)] = None,
) -> None:
    """Print entries, exits, bay changes and payments as any booth commits them."""
    from attendant.booth.shapes import change_json
    from attendant.core.changes import ChangeWatcher
    from attendant.core.errors import InputError
    from attendant.core.facilities import list_facilities

    if seconds is not None and not seconds > 0:
        raise InputError("--seconds must be more than 0")
    cli = state(ctx)
    engine = cli.engine()
    facilities = {f.id: f for f in list_facilities(engine)}
    if not facilities:
        raise InputError("no facility in this database: run `attendant init --demo` or `attendant init --layout FILE`")
    only = None if all_ else cli.views().facility.id
    events: queue.Queue = queue.Queue()
    watcher = ChangeWatcher(engine, events.put, facility_id=only, on_state=events.put).start()
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                item = events.get(timeout=wait)
            except queue.Empty:
                continue
            if isinstance(item, str):
                typer.echo(f"attendant: {'watching' if item == 'live' else item}", err=True)
                continue
            for change in item:
                facility = facilities.get(change.facility_id)
                if facility is None:  # a facility created after the watch began
                    facilities = {f.id: f for f in list_facilities(engine)}
                    facility = facilities.get(change.facility_id)
                out = change_json(change, facility)  # the same shape as the HTTP API's event stream
                if json_:
                    typer.echo(json.dumps(out, ensure_ascii=False))
                else:
                    typer.echo(_line(change.kind, facility.code if facility else "?", out))
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()


def _line(kind: str, facility: str, body: dict) -> str:
    stamp = time.strftime("%H:%M:%S")
    if kind == "spot":
        return f"{stamp} {facility} bay {body.get('spot')} {str(body.get('status', '')).replace('_', ' ')}"
    if kind == "entry":
        return (f"{stamp} {facility} entry ticket {body.get('ticket_no')} bay {body.get('spot')} "
                f"lane {body.get('lane') or '-'} ({body.get('vehicle_class')})")
    if kind == "exit":
        return (f"{stamp} {facility} exit  ticket {body.get('ticket_no')} bay {body.get('spot')} "
                f"lane {body.get('lane') or '-'} paid {body.get('amount_paid')} of {body.get('amount_due')}")
    if kind == "lane":
        if body.get("gone"):
            return f"{stamp} {facility} lane  {body.get('lane')} at {body.get('booth')} closed"
        return (f"{stamp} {facility} lane  {body.get('lane')} at {body.get('booth')} gate {body.get('gate') or '-'} "
                f"queue {body.get('queue')} reprints {body.get('reprints')}")
    return (f"{stamp} {facility} payment {body.get('method')} {body.get('amount')} {body.get('status')} "
            f"lane {body.get('lane') or '-'}")
