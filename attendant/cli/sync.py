"""``attendant sync``: replay the booth's offline journal into the central database now.

The journal (:mod:`attendant.core.journal`) holds what the booth's lanes did
while the database could not be reached; the console replays it by itself,
this command on demand (:mod:`attendant.core.journal_sync`: exactly once, in
order, conflicts resolved by rule and audited). ``--json`` prints
``{"applied", "already_applied", "deferred", "waiting", "conflicts",
"events", "error"}``; each event line has ``id``, ``kind``, ``ticket_no``,
``outcome`` (``applied``, ``already``, ``deferred``) and what it did.
Without ``--facility`` every facility with events waiting is replayed.
Exit status 0 when the database answered (deferred events wait for the next
sync), 3 (database unavailable) when it still cannot be reached.
"""

from typing import Annotated

import typer

from attendant.cli.common import fail, print_json, state, typer_app

commands = typer_app()


def _replay_all(cli):
    """Replay the journal's waiting events of ``--facility`` (default: every facility they belong to)."""
    from attendant.booth.wiring import booth_journal, open_booth, open_services
    from attendant.core.journal import database_unreachable
    from attendant.core.journal_sync import SyncReport

    if cli.facility:
        return cli.booth().offline.sync()
    journal = booth_journal(cli.engine())
    codes = sorted({event.facility for event in journal.waiting()})
    if not codes:
        return cli.booth().offline.sync()  # nothing waits: still says whether the database answers
    total = SyncReport()
    for code in codes:
        try:
            if cli.away is not None:
                raise cli.away
            service = open_services(cli.engine(), facility_code=code)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            total.error = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["no answer"])[0][:160]
            break
        booth = open_booth(cli.engine(), cli.console_config(), service=service, persist_sessions=True)
        try:
            report = booth.offline.sync()
        finally:
            booth.close()
        total.applied += report.applied
        total.already += report.already
        total.deferred += report.deferred
        total.conflicts += report.conflicts
        total.events += report.events
        if report.error:
            total.error = report.error
            break
    total.waiting = journal.waiting_count()
    return total


@commands.command()
def sync(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Replay the booth's offline journal into the database and say what was done."""
    report = _replay_all(state(ctx))
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
        fail(f"database unavailable: {report.error}: {report.waiting} events wait in the journal", 3)
