"""The site's secrets and personal data: ``secret export|import|rotate``, ``keys rotate``, ``retention``.

- ``secret export FILE`` / ``secret import FILE [--replace]``: both secret
  files (ticket keys, personal-data keys) as one bundle encrypted under a
  passphrase (Scrypt + AES-256-GCM, :mod:`attendant.keyfiles`), asked at a
  prompt or read from the variable ``--passphrase-env VAR``.
- ``secret rotate``: a new ticket-signing key; tickets printed before still
  verify under their own key id.
- ``keys rotate``: a new personal-data key, every plate and name re-encrypted
  (:func:`attendant.core.personal_data.rotate_data_keys`).
- ``retention run [--days N]``, ``retention hold|release TICKET --reason R``
  (:mod:`attendant.core.retention`).

Secrets and keys: admins only once users exist; retention: supervisors.
After a rotation, other booths of the site install the new files with
``secret export`` / ``import``.
"""

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, print_json, state, typer_app
from attendant.core.errors import InputError

commands = typer_app()
secret_app = typer_app(help="The site's secrets: move them between booths, rotate the ticket key.",
                       no_args_is_help=True)
keys_app = typer_app(help="Personal-data keys: rotate (re-encrypts every plate and name).", no_args_is_help=True)
retention_app = typer_app(help="The retention rule: erase plates of sessions closed long ago; hold one for a dispute.",
                          no_args_is_help=True)
commands.add_typer(secret_app, name="secret")
commands.add_typer(keys_app, name="keys")
commands.add_typer(retention_app, name="retention")

PassEnv = Annotated[Optional[str], typer.Option("--passphrase-env", metavar="VAR",
                                                help="Read the passphrase from this environment variable.")]


def _admin(ctx: typer.Context, action: str):
    from attendant.core.auth import Role, authorize

    cli = state(ctx)
    return authorize(cli.engine(), cli.login(), Role.ADMIN, action)


def _passphrase(env: str | None, *, confirm: bool) -> str:
    if env:
        value = os.environ.get(env)
        if not value:
            raise InputError(f"--passphrase-env {env}: that variable is not set or is empty")
        return value
    return typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)


@secret_app.command("export")
def secret_export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write the bundle (created mode 0600; not overwritten).")],
    passphrase_env: PassEnv = None,
) -> None:
    """Write this booth's secrets to FILE, encrypted under a passphrase (admin)."""
    from attendant.keyfiles import export_bundle

    _admin(ctx, "exporting the site's secrets")
    blob = export_bundle(_passphrase(passphrase_env, confirm=True))
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{file} exists: choose a new file name") from None
    except OSError as exc:
        raise InputError(f"cannot write {file}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
    typer.echo(f"Exported the site's secrets to {file}; install them on another booth with "
               f"`attendant secret import {file.name}`")


@secret_app.command("import")
def secret_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A bundle written by `attendant secret export`.")],
    passphrase_env: PassEnv = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace different secrets already here.")] = False,
) -> None:
    """Install the site's secrets from FILE (admin once users exist)."""
    from attendant.keyfiles import import_bundle, ticket_secret_path

    _admin(ctx, "installing the site's secrets")
    try:
        if file.stat().st_size > 1_000_000:
            raise InputError(f"{file} is too large to be a secrets bundle")
        blob = file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from None
    ticket, data = import_bundle(blob, _passphrase(passphrase_env, confirm=False), replace=replace)
    typer.echo(f"Installed the site's secrets in {ticket_secret_path().parent} "
               f"(ticket keys {', '.join(ticket.keys)}; data keys {', '.join(data.keys)})")


@secret_app.command("rotate")
def secret_rotate(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Make a new ticket-signing key current; tickets already printed still verify (admin)."""
    from datetime import UTC, datetime

    from attendant.core import audit
    from attendant.keyfiles import rotate_ticket_keys

    who = _admin(ctx, "rotating the ticket secret")
    keys = rotate_ticket_keys()
    with state(ctx).engine().begin() as conn:
        now = datetime.now(UTC)
        audit.record(conn, facility_id=None, actor=who.name, action="secret.rotate", entity="ticket_keys",
                     entity_id=None, details={"key": keys.current, "keys": sorted(keys.keys)}, now=now)
    if json_:
        print_json({"key": keys.current, "keys": sorted(keys.keys)})
    else:
        typer.echo(f"New tickets are signed with key {keys.current}; keys {', '.join(sorted(keys.keys))} verify. "
                   "Install the new secret on the other booths (`attendant secret export` / `import`).")


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Re-encrypt every plate and holder name under a new data key, then retire the old one (admin)."""
    from attendant.core.personal_data import rotate_data_keys

    who = _admin(ctx, "rotating the personal-data key")
    result = rotate_data_keys(state(ctx).engine(), actor=who.name)
    if json_:
        print_json(result)
        return
    total = sum(result["resealed"].values())
    typer.echo(f"Data key {result['key']} is current: {total} values re-encrypted"
               + (f"; retired key(s) {', '.join(result['retired'])}" if result["retired"] else ""))
    if result["kept"]:
        typer.echo(f"Key(s) {', '.join(result['kept'])} still read values another booth wrote meanwhile: "
                   "run `attendant keys rotate` again", err=True)


def _retention_days(ctx: typer.Context, days: int | None) -> int:
    return days if days is not None else state(ctx).console_config().retention_days


@retention_app.command("run")
def retention_run(
    ctx: typer.Context,
    days: Annotated[Optional[int], typer.Option(help="Keep plates this many days after exit "
                                                     "(default: [console] retention_days, else 90).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Erase the plates of sessions closed more than N days ago, unless an open IOU or a hold keeps them."""
    from attendant.core.retention import run_retention

    cli = state(ctx)
    result = run_retention(cli.engine(), days=_retention_days(ctx, days), actor=cli.login())
    if json_:
        print_json(result.to_json_dict())
    else:
        typer.echo(f"Erased the plates of {result.erased} sessions closed before "
                   f"{result.cutoff:%Y-%m-%d %H:%M} UTC; kept {result.held_by_iou} (unpaid IOU) and "
                   f"{result.held_by_dispute} (held for a dispute)")


def _ticket_no(ctx: typer.Context, text: str) -> tuple[int, int]:
    """(facility id, ticket number) of a typed ticket number or a scanned code."""
    from attendant.core.tickets import looks_like_ticket_code

    views = state(ctx).views()
    typed = text.strip()
    if typed.isascii() and typed.isdigit() and len(typed) <= 8:
        return views.facility.id, int(typed)
    if looks_like_ticket_code(typed):
        return views.facility.id, views.signer.verify(typed).ticket_no
    raise InputError(f"{typed[:40]!r} is not a ticket number or ticket code")


@retention_app.command("hold")
def retention_hold(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Ticket number (or code) of the session.")],
    reason: Annotated[str, typer.Option("--reason", help="The dispute (reference, who asked).")],
) -> None:
    """Keep a session's plate past the retention period (a dispute); supervisors."""
    from attendant.core.retention import set_hold

    fid, number = _ticket_no(ctx, session)
    set_hold(state(ctx).engine(), fid, number, actor=state(ctx).login(), reason=reason)
    typer.echo(f"Ticket {number:08d}: plate held ({reason.strip()[:80]})")


@retention_app.command("release")
def retention_release(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Ticket number (or code) of the session.")],
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why the hold ends.")] = None,
) -> None:
    """End a retention hold: the rule applies to the plate again; supervisors."""
    from attendant.core.retention import set_hold

    fid, number = _ticket_no(ctx, session)
    set_hold(state(ctx).engine(), fid, number, actor=state(ctx).login(), reason=reason, hold=False)
    typer.echo(f"Ticket {number:08d}: hold released")
