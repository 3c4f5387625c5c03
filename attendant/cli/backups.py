"""``attendant backup FILE`` and ``attendant restore FILE [--into URL]`` (issue 9 item 7; BRIEF feature 13).

``backup`` writes the database (SQLite: the online backup API, booths keep
working; PostgreSQL: ``pg_dump``, custom format) with a manifest: format
version, payload checksum (SHA-256), audit chain head, facility codes, schema
revision, created-at UTC (:mod:`attendant.core.backup`). Once users exist it
needs a supervisor or an admin.

``restore`` refuses a damaged backup (checksum), a foreign one (another
backend, schema revision or facility) and a target database that is not
empty, each with one line and nothing written; it restores into the fresh
database ``--into URL`` (default: ``--db``), verifies the audit chain there
and reports it; exit 4 when the restored chain does not verify. When the
console's own database (``--db``) has users, ``restore --into`` needs a
supervisor's login there.
"""


import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, state, typer_app

#: Exit status when the audit chain does not verify (2: bad input, 3: database unavailable).
BROKEN_STATUS = 4

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named


@commands.command("backup")
def backup_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The backup file to write (replaced if it exists).")],
    json_: JsonOpt = False,
) -> None:
    """Back up the database to FILE, with a manifest (checksum, audit head, facilities, schema revision)."""
    from attendant.core.auth import Role, authorize
    from attendant.core.backup import backup

    cli = state(ctx)
    engine = cli.engine()
    authorize(engine, cli.login(), Role.SUPERVISOR, "a backup")
    manifest = backup(engine, file)
    if json_:
        typer.echo(json.dumps({"file": str(file), **manifest.to_json_dict()}, indent=2))
        return
    typer.echo(f"Backup written: {file} ({manifest.payload_bytes:,} bytes of {manifest.backend} data)")
    typer.echo(f"Facilities: {', '.join(manifest.facilities) or 'none'}; schema {manifest.schema_revision}")
    typer.echo(f"Audit head: {manifest.short_head}; checksum sha256 {manifest.payload_sha256}")


@commands.command("restore")
def restore_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The backup file to restore.")],
    into: Annotated[Optional[str], typer.Option("--into", help="The fresh database to restore into (a SQLAlchemy "
                                                "URL; default --db).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Restore FILE into a fresh database, then verify its audit chain (exit 4 if it does not hold)."""
    from attendant.core.backup import restore
    from db.engine import resolve_url

    cli = state(ctx)
    own = resolve_url(cli.db)
    target = into or own
    if into and _has_users(own):
        from attendant.core.auth import Role, authorize

        authorize(cli.engine(), cli.login(), Role.SUPERVISOR, "a restore")
    facility = cli.facility if cli.facility and not cli.all_facilities else None
    done = restore(file, target, facility=facility)
    result = done.verification
    if json_:
        typer.echo(json.dumps(done.to_json_dict(), indent=2, ensure_ascii=False))
    else:
        m = done.manifest
        typer.echo(f"Restored {file} into {done.target}")
        typer.echo(f"Made {m.created_at:%Y-%m-%d %H:%M:%S} UTC; facilities {', '.join(m.facilities) or 'none'}; "
                   f"schema {m.schema_revision}")
        head = f"#{result.head_event_id} {result.head_hash[:16]}" if result.head_event_id else "empty"
        same = "the backup's" if head == m.short_head else f"the backup said {m.short_head}"
        if result.ok:
            typer.echo(f"Audit chain verified: {result.events} events, head {head} ({same})")
        else:
            typer.echo(f"Audit chain BROKEN after restore: {result.first.message}")
    if not result.ok:
        raise typer.Exit(BROKEN_STATUS)


def _has_users(url: str) -> bool:
    """Whether the database at ``url`` exists with users (without creating or migrating it)."""
    from sqlalchemy import inspect, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or not Path(database).expanduser().exists():
            return False
    from db.engine import make_engine

    engine = make_engine(url, migrate=False)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("app_user"):
                return False
            return conn.execute(text("SELECT count(*) FROM app_user")).scalar_one() > 0
    except Exception:  # noqa: BLE001 - an unreachable database holds no users we could check
        return False
    finally:
        engine.dispose()
