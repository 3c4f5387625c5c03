"""``attendant plates``: the deny and allow lists of plates (issue 10 item 8).

``deny add`` / ``allow add`` / ``remove`` are supervisors' (the service checks the role); ``list`` reads.
A deny entry refuses the vehicle at entry, or with ``--flag`` admits it and warns the attendant; an allow
entry lets it out at no charge (:mod:`attendant.core.plate_lists`). Plates match with the tolerance of
plate lookups (O/0, I/1, B/8 ...). Bad input or a refused change prints one line on stderr and exits 2.
"""

from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, parse_when, print_json, state, typer_app

commands = typer_app()

plates_app = typer_app(help="Deny and allow lists of plates: add, list, remove.", no_args_is_help=True)
commands.add_typer(plates_app, name="plates")
deny_app = typer_app(help="The deny list: entry refused (or flagged with --flag).", no_args_is_help=True)
allow_app = typer_app(help="The allow list: free or contract parking, the exit charges nothing.",
                      no_args_is_help=True)
plates_app.add_typer(deny_app, name="deny")
plates_app.add_typer(allow_app, name="allow")

ReasonOpt = Annotated[str, typer.Option(help="CODE or 'CODE: text' (deny: UNPAID, BANNED, POLICE, STOLEN, OTHER; "
                                             "allow: CONTRACT, STAFF, EMERGENCY, RESIDENT, OTHER).")]
UntilOpt = Annotated[Optional[str], typer.Option(help="Until this time, ISO 8601 (no offset: facility time); "
                                                      "default: until removed.")]


def _line(entry, service) -> str:
    until = service.local(entry.valid_until).strftime("%Y-%m-%d %H:%M") if entry.valid_until else "until removed"
    return f"{entry.plate or '(erased)':<11} {entry.kind:<6} {entry.action:<7} {until:<16}  {entry.reason}"


def _add(ctx: typer.Context, kind: str, plate: str, reason: str, until: str | None, action: str | None,
         json_: bool) -> None:
    cli = state(ctx)
    service = cli.service()
    entry = service.add_plate_entry(kind, plate, reason, actor=cli.login(), action=action,
                                    until=parse_when(until, service.tz, "--until"))
    if json_:
        print_json(entry.to_json_dict())
    else:
        typer.echo(f"Listed: {_line(entry, service)}")


@deny_app.command("add")
def deny_add(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="The plate, e.g. 'AB12 CDE'.")],
    reason: ReasonOpt,
    until: UntilOpt = None,
    flag: Annotated[bool, typer.Option("--flag", help="Admit the vehicle, flagged for the attendant, "
                                                      "instead of refusing it.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Put a plate on the deny list (supervisors)."""
    _add(ctx, "deny", plate, reason, until, "flag" if flag else "refuse", json_)


@allow_app.command("add")
def allow_add(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="The plate, e.g. 'AB12 CDE'.")],
    reason: ReasonOpt,
    until: UntilOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Put a plate on the allow list (supervisors): its exits charge nothing."""
    _add(ctx, "allow", plate, reason, until, "free", json_)


@plates_app.command("list")
def plates_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Also removed and expired entries.")] = False,
    json_: JsonOpt = False,
) -> None:
    """The live deny and allow entries."""
    cli = state(ctx)
    service = cli.service()
    entries = service.plate_entries(include_removed=all_)
    if json_:
        print_json([e.to_json_dict() for e in entries])
        return
    if not entries:
        typer.echo("No plates listed.")
    for entry in entries:
        typer.echo(_line(entry, service) + (f"  (removed by {entry.removed_by})" if entry.removed_at else ""))


@plates_app.command("remove")
def plates_remove(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="The plate as listed.")],
    reason: Annotated[Optional[str], typer.Option(help="Why (kept in the audit log).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Take a plate off its list (supervisors)."""
    cli = state(ctx)
    service = cli.service()
    entry = service.remove_plate_entry(plate, actor=cli.login(), reason=reason)
    if json_:
        print_json(entry.to_json_dict())
    else:
        typer.echo(f"Removed: {_line(entry, service)}")
