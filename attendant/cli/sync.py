"""``attendant sync``: replay the booth's offline journal into the central database now.

The journal (:mod:`attendant.core.journal`) holds what the booth's lanes did
while the database could not be reached; the console replays it by itself,
this command on demand (:mod:`attendant.core.journal_sync`: exactly once, in
order, conflicts resolved by rule and audited). ``--json`` prints
``{"applied", "already_applied", "deferred", "waiting", "conflicts",
"events", "error"}``; each event line has ``id``, ``kind``, ``ticket_no``,
``outcome`` (``applied``, ``already``, ``deferred``) and what it did.
Exit status 0 when the database answered (deferred events wait for the next
sync), 2 when it still cannot be reached.
"""

from typing import Annotated

import typer

from attendant.cli.common import fail, print_json, state, typer_app

commands = typer_app()


@commands.command()
def sync(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Replay the booth's offline journal into the database and say what was done."""
    booth = state(ctx).booth()
    report = booth.offline.sync()
    if json_:
        print_json(report.to_json_dict())
    else:
        for line in report.events:
            what = f"{line['kind']} {line.get('ticket_no') or ''}".strip()
            extra = "; ".join(c.get("rule", "") for c in line.get("conflicts", ()))
            reason = line.get("reason")
            typer.echo(f"{line['outcome']:<8} {what}" + (f"  ({extra})" if extra else "")
                       + (f"  {reason}" if reason and line["outcome"] == "deferred" else ""))
        typer.echo(f"{report.applied} applied, {report.already} already applied, {report.deferred} deferred, "
                   f"{len(report.conflicts)} conflicts resolved; {report.waiting} waiting")
    if report.error:
        fail(f"the database cannot be reached ({report.error}): {report.waiting} events wait in the journal")
