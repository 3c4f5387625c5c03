"""``attendant audit verify|show``: check and read the audit log (issue 9 item 4; BRIEF feature 13).

``audit verify [--head "#ID HASH"] [--json]`` walks the hash chain
(:mod:`attendant.core.audit_verify`): every event in its place, linked to the
one before, its content and sealed rows unchanged; every session, payment,
vend and user as its last event sealed it; payments adding up to what the
sessions and the reports say. It prints the chain head and, when broken, the
first broken link (the event, what differs) and exits 4 (1 is an unexpected
error, 3 an unreachable database). ``--head`` also
checks a head written down earlier (it is printed on every shift report).

``audit show [--since WHEN] [--actor NAME] [--action A] [--limit N] [--json]``
lists events in order: facility time on screen, UTC in JSON.

Once users exist both need a supervisor or an admin (the log holds personal
data); the login itself is recorded, as always.
"""


import json
from datetime import UTC
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import typer

from attendant.cli.common import JsonOpt, parse_when, state, typer_app

#: Exit status when the audit chain does not verify (2: bad input, 3: database unavailable).
BROKEN_STATUS = 4

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

audit_app = typer_app(help="The audit log: verify its hash chain and the money, or read it.", no_args_is_help=True)
commands.add_typer(audit_app, name="audit")


def _reader(cli, action: str):
    """The engine, once the caller may read the audit log (a supervisor once users exist)."""
    from attendant.core.auth import Role, authorize

    engine = cli.engine()
    authorize(engine, cli.login(), Role.SUPERVISOR, action)
    return engine


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    head: Annotated[Optional[str], typer.Option("--head", help="A head written down earlier, e.g. '#1234 9f2c...' "
                                                "(printed on shift reports): it must still be in the chain.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Check the audit chain and the money; name the first broken link. Exit 4 when broken."""
    from attendant.core.audit_verify import verify

    engine = _reader(state(ctx), "verifying the audit log")
    result = verify(engine, expect_head=head)
    if json_:
        typer.echo(json.dumps(result.to_json_dict(), indent=2, ensure_ascii=False))
    else:
        short = f"#{result.head_event_id} {result.head_hash[:16]}" if result.head_event_id else "empty"
        typer.echo(f"Audit chain: {result.events} events, head {short}")
        typer.echo(f"Rows checked: {result.rows_checked}; sessions' payments checked: {result.sessions_checked}")
        if result.ok:
            typer.echo("OK: every link holds, every sealed row is as recorded, the money adds up")
        else:
            first = result.first
            where = f"event {first.event_id}" if first.event_id is not None else "no event"
            typer.echo(f"BROKEN: first broken link at {where}: {first.message}")
            for problem in result.problems[1:]:
                typer.echo(f"  also: {problem.message}")
    if not result.ok:
        raise typer.Exit(BROKEN_STATUS)


@audit_app.command("show")
def audit_show(
    ctx: typer.Context,
    since: Annotated[Optional[str], typer.Option("--since", help="Recorded at or after (ISO 8601; no offset: "
                                                  "facility time).")] = None,
    actor: Annotated[Optional[str], typer.Option("--actor", help="Only events by this user.")] = None,
    action: Annotated[Optional[str], typer.Option("--action", help="Only this action (e.g. session.exit), or a "
                                                   "family ending in . or * (payment.*).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, max=1_000_000,
                                                 help="Only the newest N events.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List audit events in order (facility time; UTC in JSON)."""
    from attendant.core.audit_verify import events
    from attendant.core.facilities import list_facilities

    cli = state(ctx)
    engine = _reader(cli, "reading the audit log")
    facilities = {f.id: f for f in list_facilities(engine)}
    chosen = None
    if cli.facility and not cli.all_facilities:
        chosen = next((f for f in facilities.values() if f.code == cli.facility.strip().upper()), None)
        if chosen is None:
            from attendant.core.errors import InputError

            raise InputError(f"no facility {cli.facility!r} in this database")
    default = chosen or (min(facilities.values(), key=lambda f: f.code) if facilities else None)
    tz = ZoneInfo(default.timezone) if default else UTC
    when = parse_when(since, tz, "--since")
    rows = events(engine, since=when, actor=actor, action=action, facility_id=chosen.id if chosen else None,
                  limit=limit)
    if json_:
        typer.echo(json.dumps([{
            "id": e.id, "chain": e.chain, "seq": e.seq,
            "facility": facilities[e.facility_id].code if e.facility_id in facilities else None,
            "at": e.at.astimezone(UTC).isoformat(), "effective_at": e.effective_at.astimezone(UTC).isoformat(),
            "actor": e.actor, "action": e.action, "entity": e.entity, "entity_id": e.entity_id,
            "details": e.details, "hash": e.hash,
        } for e in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("No audit events match.")
        return
    for e in rows:
        fac = facilities.get(e.facility_id)
        zone = ZoneInfo(fac.timezone) if fac else tz
        stamp = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        claimed = ""
        if abs((e.effective_at - e.at).total_seconds()) >= 1:
            claimed = f" (for {e.effective_at.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')})"
        target = f"{e.entity} {e.entity_id}" if e.entity_id is not None else e.entity
        details = ""
        if e.details:
            details = " " + json.dumps(e.details, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        typer.echo(f"#{e.id} {stamp}{claimed} {fac.code if fac else '-'} {e.actor} {e.action} {target}"
                   f"{details}")
