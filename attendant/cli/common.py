"""What every ``attendant`` command shares: the app, the global options, errors, output.

- :data:`app` is the typer application: the global options and the root
  command (:class:`AttendantGroup`), which loads each subcommand from the
  module :data:`COMMAND_MODULES` names, only when it runs, so ``attendant
  status`` neither imports nor builds the other thirty commands.
- :class:`Context` holds the global options and builds the booth lazily with
  the same wiring as the console (:func:`attendant.booth.open_booth`), so
  ``--help`` touches no database and imports no service.
- Errors: :class:`AttendantGroup` runs every command (from the console
  script and from typer's ``CliRunner`` alike): an expected failure
  (:class:`~attendant.core.errors.AttendantError`, a usage error) prints one
  line on stderr, ``attendant: <message>``, and exits 2 with nothing
  changed; a database that cannot be reached (a server down, a failover
  under way) prints ``attendant: database unavailable: <why>`` and exits
  3; an unexpected one prints one line, exits 1 and leaves its
  traceback in ``attendant-errors.log`` in the data folder.
- Output: ``--json`` prints :func:`print_json` (money as decimal strings in
  major units, times ISO 8601), a stable contract for scripts.

Only the standard library and typer are imported here: the services load
when a command first asks for them.
"""


import getpass
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from attendant.core.errors import AttendantError, InputError

#: Every subcommand and the module of this package that defines it (in its ``commands`` Typer), in the
#: order ``attendant --help`` lists them. A module is imported, and its commands built, only when one
#: of its commands runs (``--help`` loads them all); tests check this table against the modules.
COMMAND_MODULES: dict[str, str] = {
    "demo": "lanes", "init": "lanes", "enter": "lanes", "exit": "lanes", "reprint": "lanes", "find": "lanes",
    "status": "lanes",
    "report": "reports",
    "quote": "rates", "rates": "rates", "concession": "concessions",
    "iou": "payments", "refund": "payments", "payment": "payments", "validation": "payments", "pass": "payments",
    "spot": "spots",
    "void": "corrections", "manual-entry": "corrections", "move": "corrections", "apb": "corrections",
    "count": "corrections",
    "account": "accounts",
    "plates": "plates",
    "user": "staff", "shift": "staff",
    "devices": "devices", "signs": "signs",
    "watch": "watch",
    "sync": "sync",
    "time-window": "bounds",
    "serve": "serve", "token": "serve", "feed": "feeds",
    "batch": "batch",
    "replay": "replay",
    "secret": "security", "keys": "security", "retention": "security",
    "audit": "audit",
    "backup": "backups", "restore": "backups",
    "vend": "exceptions", "reasons": "exceptions",
    "reservation": "reservations", "strategy": "reservations",
}


class AttendantGroup(TyperGroup):
    """The root command: commands loaded when named, and one-line errors and exit statuses for every
    way the CLI is run (the console script, ``python -m attendant``, typer's ``CliRunner``)."""

    def list_commands(self, ctx) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx, name: str):
        module = COMMAND_MODULES.get(name)
        if module is None:
            return None
        return module_commands(module).get_command(ctx, name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = sys.argv[1:] if args is None else list(args)
        odd = _foreign_digit(argv)
        if odd is not None:  # one rule for every number typed: ASCII digits only (issue 9 item 8)
            typer.echo(f"attendant: {odd!r} is a digit that is not 0-9 (U+{ord(odd):04X}): type numbers, codes "
                       "and dates with the digits 0-9", err=True)
            sys.exit(2)
        try:
            result = super().main(args, prog_name or "attendant", complete_var, standalone_mode=False, **extra)
        except AttendantError as exc:
            typer.echo(f"attendant: {exc}", err=True)
            sys.exit(2)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("attendant: aborted", err=True)
            sys.exit(1)
        except typer.TyperException as exc:  # usage errors: unknown option, missing argument...
            typer.echo(f"attendant: {exc.format_message()}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - an unexpected failure: keep the traceback off the screen
            if (reason := _unavailable(exc)) is not None:
                typer.echo(f"attendant: database unavailable: {reason}", err=True)
                sys.exit(UNAVAILABLE_STATUS)
            from attendant.core.journal import database_unreachable

            if database_unreachable(exc):  # SQLite's file away too: one line, never the SQL or its parameters
                inner = getattr(exc, "orig", None) or exc
                reason = (str(inner).strip().splitlines() or [type(inner).__name__])[0][:160]
                typer.echo(f"attendant: database unavailable: {reason}", err=True)
                sys.exit(UNAVAILABLE_STATUS)
            if _database_refused(exc):  # a value the database will not hold: bad input, nothing changed
                typer.echo("attendant: the database refused a value (too long or out of range): nothing was "
                           "changed", err=True)
                sys.exit(2)
            _log_unexpected(exc)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def typer_app(**settings) -> typer.Typer:
    """A Typer for a group of commands, with the root's plain help and errors (no Rich boxes)."""
    return typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False, **settings)


_BUILT: dict[str, object] = {}


def module_commands(module: str):
    """The click group of ``attendant.cli.<module>``'s ``commands`` (imported and built once)."""
    if module not in _BUILT:
        from importlib import import_module

        from typer.main import get_group

        _BUILT[module] = get_group(import_module(f"attendant.cli.{module}").commands)
    return _BUILT[module]


app = typer.Typer(
    name="attendant",
    cls=AttendantGroup,
    help="The attendant console: run a parking facility from its booth.",
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON object.")]
PrinterOpt = Annotated[Optional[str], typer.Option("--printer", help="Printer URL overriding the lane's printer.")]
AtOpt = Annotated[Optional[str], typer.Option("--at", help="When, ISO 8601 (no offset: facility time).")]


@dataclass
class Context:
    """What the global options chose; the booth is opened on first use so ``--help`` touches nothing."""

    db: str | None = None
    config_path: Path | None = None
    facility: str | None = None
    note: str | None = None  # --actor / ATTENDANT_ACTOR: a note on the audit events, never the actor
    os_account: str = "cli"  # cli:<OS login name>, the setup-mode actor
    source: str = "cli"  # where logins come from: cli:<OS login>@<host>
    user: str | None = None
    pin: str | None = None
    away: object = None  # why the database could not be reached at start (None: it answered)
    _engine: object = None
    _service: object = None
    _booths: dict = field(default_factory=dict)

    def engine(self):
        """The database engine (schema migrated to the newest version; not migrated when the database cannot
        be reached: the booth's lanes then work from its journal, attendant.booth.offline)."""
        if self._engine is None:
            from db.engine import make_engine

            try:
                self._engine = make_engine(self.db)
            except Exception as exc:
                from attendant.core.journal import database_unreachable

                if not database_unreachable(exc):
                    raise
                self._engine = make_engine(self.db, migrate=False)
                self.away = exc
        return self._engine

    @property
    def all_facilities(self) -> bool:
        """``--facility all``: the commands that read across facilities (status, report) take every one."""
        return (self.facility or "").strip().lower() == "all"

    def _one_facility(self) -> None:
        if self.all_facilities:
            raise InputError("--facility all works with status and report: give one facility code for this")

    def facility_views(self):
        """The live views of every facility in the database, in code order (``--facility all``)."""
        from attendant.booth.wiring import open_views
        from attendant.core.facilities import list_facilities

        facilities = sorted(list_facilities(self.engine()), key=lambda f: f.code)
        if not facilities:
            raise InputError("no facility in this database: run `attendant init --demo` or "
                             "`attendant init --layout FILE`")
        return [open_views(self.engine(), facility_code=f.code) for f in facilities]

    def booth(self, printer: str | None = None):
        """The :class:`~attendant.booth.Booth` of the configured lanes (``printer`` overrides their printers)."""
        self._one_facility()
        if printer not in self._booths:
            from attendant.booth.wiring import open_booth

            self._booths[printer] = open_booth(self.engine(), self.console_config(), printer_url=printer,
                                               service=self.service(), persist_sessions=True)
        return self._booths[printer]

    def service(self):
        """The booth's services (:class:`~attendant.core.services.ParkingService`), without opening the
        lanes: commands that only read (status, find, report) do not load the device layer."""
        self._one_facility()
        if self._service is None:
            from attendant.booth.wiring import open_services
            from attendant.core.journal import database_unreachable

            try:
                if self.engine() is not None and self.away is not None:  # found away at start: no second timeout
                    raise self.away
                self._service = open_services(self.engine(), facility_code=self.facility)
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                from attendant.booth.offline import (
                    detached_service,  # the booth's lanes work from its journal
                )

                self._service = detached_service(self.engine(), self.facility, exc)
        return self._service

    def views(self):
        """The facility's live views (occupancy, availability, revenue) without the entry and exit
        services: what ``attendant status`` reads (the services' own views once they are open)."""
        self._one_facility()
        if self._service is not None:
            return self._service
        from attendant.booth.wiring import open_views

        return open_views(self.engine(), facility_code=self.facility)

    def login(self):
        """The :class:`~attendant.core.auth.Actor` this command runs as: always who is authenticated.

        With ``--user``/``--pin`` (env ATTENDANT_USER / ATTENDANT_PIN): PIN
        login from this source (the OS account and host: lock-outs are per user
        and source). Without, while no user exists: the setup actor, named for
        the OS account. Once users exist a login is required
        (:class:`~attendant.core.auth.LoginRequired`). ``--actor`` /
        ATTENDANT_ACTOR never names the actor: it is a note added to every audit
        event the command records.
        """
        from attendant.core import users

        if self.user:
            if not self.pin:
                raise InputError("--user needs --pin (or ATTENDANT_PIN)")
            from attendant.booth import offline
            from attendant.core.journal import database_unreachable

            try:
                if self.engine() is not None and self.away is not None:
                    raise self.away
                who = users.authenticate(self.engine(), self.user, self.pin, source=self.source)
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                return offline.offline_login(self.engine(), self.user, self.pin)
            offline.remember_login(self.engine(), who)
            if who.weak_pin:
                typer.echo(f"attendant: warning: {who.name}'s PIN has fewer than 6 digits: set a new one "
                           f"(attendant user passwd {who.name} --pin NEW)", err=True)
            return who
        try:
            if self.engine() is not None and self.away is not None:
                raise self.away
            anyone = users.any_users(self.engine())
        except Exception as exc:
            from attendant.core.journal import database_unreachable

            if not database_unreachable(exc):
                raise
            from attendant.booth.wiring import booth_journal

            snapshot = booth_journal(self.engine()).snapshot(self.facility if not self.all_facilities else None)
            anyone = snapshot is None or snapshot.get("users_exist", True)
            if not anyone:
                from attendant.core.auth import Actor, Role

                return Actor(self.os_account, Role.ADMIN)  # setup mode as last seen; audited when replayed
        if not anyone:
            from attendant.core.auth import Actor, Role

            users.setup_actor(self.engine())  # refuses once a user exists
            return Actor(self.os_account, Role.ADMIN)  # setup mode, audited under the OS account
        from attendant.core.auth import LoginRequired

        raise LoginRequired("users exist: log in with --user NAME --pin PIN (or ATTENDANT_USER and "
                            "ATTENDANT_PIN)")

    def close(self) -> None:
        """Stop the booths' devices and release the database (the command is over)."""
        for booth in self._booths.values():
            booth.close()
        self._booths.clear()
        if self._service is not None:  # its connection and the payment processors it made (stand-in ledgers)
            closing = getattr(self._service, "close", None)
            if closing is not None:
                closing()
            self._service = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def console_config(self):
        """The lanes and devices: ``--config``, else the installed ``console.toml``, else the default lanes."""
        from hardware.config import default_config, load_config

        if self.config_path is not None:
            return load_config(self.config_path)
        from attendant.paths import config_dir

        installed = config_dir() / "console.toml"
        return load_config(installed) if installed.exists() else default_config()


def state(ctx: typer.Context) -> Context:
    """The :class:`Context` of the running command."""
    return ctx.ensure_object(Context)


def fail(message: str, code: int = 2):
    """Print ``attendant: message`` on stderr and exit with ``code`` (raises typer.Exit)."""
    typer.echo(f"attendant: {message}", err=True)
    raise typer.Exit(code)


def print_json(data) -> None:
    """Print ``data`` as indented JSON (UTF-8 kept as is)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def parse_when(text: str | None, tz: tzinfo, option: str | None = None) -> datetime | None:
    """An ISO 8601 date-time; one without an offset is wall-clock time in ``tz`` (facility time).

    ``2026-10-24T23:00`` (facility time), ``2026-10-24T22:00Z`` or
    ``2026-10-24T23:00+01:00``. A facility time that does not exist (the
    spring-forward gap) or occurs twice (fall-back, without an offset) is
    refused (:func:`attendant.core.time_bounds.resolve_local`), as is a year
    outside 2000..2099. None stays None. Raises :class:`InputError` naming
    ``option`` when given. Whether the time is accepted for an operation is
    the booth services' rule (the facility's window), not this parser's.
    """
    if text is None:
        return None
    from attendant.core.time_bounds import in_calendar, resolve_local

    where = f"{option}: " if option else ""
    try:
        if len(text) > 64 or not text.isascii():
            raise ValueError(text)
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{where}not an ISO 8601 date-time: {text[:64]!r} (e.g. 2026-11-21T09:30 or "
                         "2026-11-21T09:30:00Z)") from None
    try:
        if value.tzinfo is None:
            return resolve_local(value, tz, "time")
        return in_calendar(value, "time")
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None


def parse_money(text: str | None, currency: str, option: str | None = None) -> int | None:
    """An amount typed in major units (``"12.40"``) as minor units; None stays None.

    Raises :class:`InputError` naming ``option`` when given.
    """
    if text is None:
        return None
    from attendant.core.money import parse_major

    try:
        return parse_major(text, currency)
    except InputError as exc:
        if option:
            raise InputError(f"{option}: {exc}") from None
        raise


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy database URL (env ATTENDANT_DB).")] = None,
    config: Annotated[
        Optional[Path], typer.Option("--config", help="Console config TOML: lanes and their devices.")
    ] = None,
    facility: Annotated[Optional[str], typer.Option("--facility", help="Facility code (default: the first); "
                                                    "'all' for status and report across every facility.")] = None,
    actor: Annotated[
        Optional[str], typer.Option("--actor", help="A note added to the audit events (env ATTENDANT_ACTOR); "
                                                    "the actor is always who is logged in.")
    ] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Log in as this user (env ATTENDANT_USER).")] = None,
    pin: Annotated[Optional[str], typer.Option("--pin", help="The user's PIN (env ATTENDANT_PIN).")] = None,
) -> None:
    """Open the console, or run one operation."""
    try:
        login_name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers)
        login_name = "unknown"
    import socket

    from attendant.core import audit_note as audit

    note = (actor or os.environ.get("ATTENDANT_ACTOR") or "").strip()[:80] or None
    ctx.obj = Context(
        db=db,
        config_path=config,
        facility=facility,
        note=note,
        os_account=f"cli:{login_name}",
        source=f"cli:{login_name}@{socket.gethostname()}"[:80],
        user=user or os.environ.get("ATTENDANT_USER"),
        pin=pin or os.environ.get("ATTENDANT_PIN"),
    )
    noted = audit.note_events(note)
    ctx.call_on_close(ctx.obj.close)
    ctx.call_on_close(lambda: audit.end_note(noted))
    if ctx.invoked_subcommand is None:
        from attendant.tui.app import run_console

        cli = ctx.obj

        def source():  # in the console's opening thread, after its first paint (issue 12 item 10)
            from attendant.core.facilities import list_facilities

            engine = cli.engine()
            if not list_facilities(engine):  # a fresh install: say what to run rather than fail on a missing key
                where = engine.url.render_as_string(hide_password=True)
                raise InputError(f"no facility in {where} yet. To try the console: `attendant demo`. To set up "
                                 "this site: `attendant init --layout FILE` (or `attendant init --demo` for the demo "
                                 "car park), then `attendant`")
            return engine, cli.console_config()

        run_console(source, facility_code=facility, title=facility or "")


def _foreign_digit(argv: list[str]) -> str | None:
    """The first decimal digit in ``argv`` that is not ASCII 0-9 (Arabic-Indic, fullwidth, ...), else None.

    Rule (documented in the README): the CLI refuses them rather than reading
    them as numbers, since Python's ``int()`` and :class:`~decimal.Decimal`
    would silently accept ``"٣"`` as 3 and a ticket code or amount would then
    mean something its writer did not see.
    """
    import unicodedata

    for arg in argv:
        if not isinstance(arg, str) or arg.isascii():
            continue
        for ch in arg:
            if not ch.isascii() and unicodedata.category(ch) == "Nd":
                return ch
    return None


def _database_refused(exc: Exception) -> bool:
    """True for a database error caused by a value it cannot hold (``DataError``: too long, out of range)."""
    try:
        from sqlalchemy.exc import DataError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return False
    return isinstance(exc, DataError)


def _safe_message(exc: Exception) -> str:
    """What to print of an unexpected error: never SQL or its parameters.

    A database error shows its kind and the first line of the driver's own
    message ("unable to open database file", "connection ... refused"): the
    statement and its parameters are SQLAlchemy's additions, and PostgreSQL
    puts row values only in its later DETAIL lines.
    """
    try:
        from sqlalchemy.exc import SQLAlchemyError, StatementError
    except ImportError:  # pragma: no cover
        return str(exc)[:200]
    if isinstance(exc, StatementError):
        orig = getattr(exc, "orig", None)
        if orig is None:
            return f"database error ({type(exc).__name__})"
        first = (str(orig).strip().splitlines() or [""])[0][:160]
        return f"database error ({type(orig).__name__}: {first})" if first else \
            f"database error ({type(orig).__name__})"
    if isinstance(exc, SQLAlchemyError):
        return f"database error ({type(exc).__name__})"
    return str(exc)[:200]


#: Exit status when the database cannot be reached (server down, failover under way): try again later.
UNAVAILABLE_STATUS = 3


def _unavailable(exc: Exception) -> str | None:
    """Why the database cannot be reached, if that is what ``exc`` says (:func:`db.engine.unavailable_reason`)."""
    if "sqlalchemy" not in sys.modules:  # no database was touched: nothing to ask
        return None
    from db.engine import unavailable_reason

    return unavailable_reason(exc)


def _log_unexpected(exc: Exception) -> None:
    """Write the traceback to the error log and print one line."""
    try:
        from attendant.paths import data_dir

        log_path = data_dir() / "attendant-errors.log"
        with log_path.open("a") as handle:
            handle.write(f"--- {datetime.now().isoformat()} {' '.join(sys.argv)}\n{traceback.format_exc()}\n")
        where = f" (details in {log_path})"
    except OSError:
        where = ""
    typer.echo(f"attendant: unexpected error: {_safe_message(exc)}{where}", err=True)
