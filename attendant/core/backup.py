"""Backups that restore (issue 9 item 7; BRIEF feature 13): ``attendant backup FILE`` / ``restore FILE``.

A backup file is a ZIP archive (:mod:`zipfile`) of two members:

- ``manifest.json``: ``format`` ("attendant-backup"), ``version`` (1),
  ``created_at`` (UTC, ISO 8601), ``backend`` (sqlite or postgresql),
  ``schema_revision`` (the Alembic revision of the data), ``facilities``
  (their codes), ``audit_head`` (``seq``, ``event_id``, ``hash``: the audit
  chain's head in the payload, attendant/core/audit.py), ``schema`` (the
  PostgreSQL schema dumped) and ``payload`` (member ``name``, ``sha256`` of
  its bytes, ``bytes``);
- the payload: a SQLite database file made with SQLite's online backup API
  (``sqlite3.Connection.backup``: booths keep writing meanwhile), or a
  ``pg_dump --format=custom`` archive of the site's schema, taken in the
  snapshot the manifest was read in (``pg_export_snapshot``), so the head
  and the facilities are exactly those of the payload.

Restoring refuses, with a message and nothing written, a damaged file (not a
backup, no manifest, payload checksum wrong), a foreign one (another backend,
another schema revision than this software's, other facilities than the
target database holds or ``--facility`` names) and a target database that
already holds data. It writes into the fresh target (SQLite: the backup API
again; PostgreSQL: ``pg_restore`` in one transaction, the schema renamed to
the target's), then verifies the audit chain there
(:func:`attendant.core.audit_verify.verify`).

The file is created private to its user (mode 0600): it holds personal data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from attendant.core.errors import InputError, Refused

FORMAT = "attendant-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PAYLOADS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
SUFFIX = ".atbk"
_CHUNK = 1 << 20
#: Tables whose rows make a database "not empty" (a restore never writes over them).
_DATA_TABLES = ("facility", "app_user", "parking_session", "payment", "audit_event")


class BackupError(Refused):
    """A backup that cannot be made or restored: damaged, foreign, or a target that is not empty."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a backup file says about its payload (see the module docstring)."""

    created_at: datetime
    backend: str
    schema_revision: str
    facilities: tuple[str, ...]
    audit_head: dict
    payload_name: str
    payload_sha256: str
    payload_bytes: int
    schema: str | None = None
    version: int = FORMAT_VERSION

    def to_json_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": self.version,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "backend": self.backend,
            "schema_revision": self.schema_revision,
            "facilities": list(self.facilities),
            "audit_head": self.audit_head,
            "schema": self.schema,
            "payload": {"name": self.payload_name, "sha256": self.payload_sha256, "bytes": self.payload_bytes},
        }

    @property
    def short_head(self) -> str:
        head = self.audit_head or {}
        return f"#{head['event_id']} {head['hash'][:16]}" if head.get("event_id") else "empty"

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupError(f"{where}: not an attendant backup (format {data.get('format')!r})")
            if not isinstance(data.get("version"), int) or data["version"] > FORMAT_VERSION:
                raise BackupError(f"{where}: backup format version {data.get('version')!r} is newer than this "
                                  f"software reads ({FORMAT_VERSION}): update the console")
            payload = data["payload"]
            return cls(
                created_at=datetime.fromisoformat(data["created_at"]),
                backend=str(data["backend"]),
                schema_revision=str(data["schema_revision"]),
                facilities=tuple(str(code) for code in data["facilities"]),
                audit_head=dict(data.get("audit_head") or {}),
                payload_name=str(payload["name"]),
                payload_sha256=str(payload["sha256"]),
                payload_bytes=int(payload["bytes"]),
                schema=data.get("schema"),
                version=data["version"],
            )
        except BackupError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupError(f"{where}: damaged backup: its manifest is unreadable") from None


@dataclass(frozen=True, slots=True)
class Restored:
    """The outcome of a restore: the manifest, the target URL (password hidden) and the audit verification."""

    manifest: Manifest
    target: str
    verification: object  # attendant.core.audit_verify.Verification

    def to_json_dict(self) -> dict:
        return {"manifest": self.manifest.to_json_dict(), "target": self.target,
                "audit": self.verification.to_json_dict()}


# ------------------------------------------------------------------ making one
def backup(engine: Engine, path: str | Path) -> Manifest:
    """Write a backup of ``engine``'s database to ``path`` (replaced atomically; mode 0600); its manifest.

    :raises BackupError: pg_dump missing or failing, the file cannot be written.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(f"{path} is a folder: give the backup file's name")
    backend = engine.dialect.name
    if backend not in PAYLOADS:
        raise BackupError(f"cannot back up a {backend} database (SQLite and PostgreSQL only)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".attendant-backup-", dir=path.parent))
    except OSError as exc:
        raise BackupError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    try:
        payload = work / PAYLOADS[backend]
        if backend == "sqlite":
            facts = _sqlite_dump(engine, payload)
        else:
            facts = _pg_dump(engine, payload)
        manifest = Manifest(created_at=datetime.now(UTC), backend=backend, payload_name=payload.name,
                            payload_sha256=_sha256_file(payload), payload_bytes=payload.stat().st_size, **facts)
        staged = work / "backup.zip"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest.to_json_dict(), indent=2))
            zf.write(payload, payload.name)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, path)
        return manifest
    except OSError as exc:
        raise BackupError(f"cannot write the backup {path}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _facts(conn) -> dict:
    """Schema revision, facility codes and audit head read on ``conn`` (SQLAlchemy or sqlite3)."""
    def rows(sql):
        result = conn.execute(text(sql)) if hasattr(conn, "dialect") else conn.execute(sql)
        return result.fetchall()

    revision = rows("SELECT version_num FROM alembic_version")
    facilities = tuple(code for (code,) in rows("SELECT code FROM facility ORDER BY code"))
    # the newest event of all chains (attendant.core.audit.chain_head; one row before 0017_audit_chains)
    head = rows("SELECT seq, event_id, hash FROM audit_chain_head ORDER BY event_id IS NULL, event_id DESC LIMIT 1")
    seq, event_id, digest = head[0] if head else (0, None, "0" * 64)
    return {"schema_revision": revision[0][0] if revision else "", "facilities": facilities,
            "audit_head": {"seq": int(seq), "event_id": event_id, "hash": digest}}


def _sqlite_file(url) -> Path:
    database = make_url(str(url)).database
    if not database or database == ":memory:":
        raise InputError("an in-memory SQLite database cannot be backed up or restored: give a file")
    return Path(database).expanduser()


def _sqlite_dump(engine: Engine, payload: Path) -> dict:
    source = sqlite3.connect(_sqlite_file(engine.url), timeout=30)
    target = sqlite3.connect(payload)
    try:
        source.backup(target)  # the online backup API: a consistent copy while booths keep writing
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        facts = _facts(target)
        target.commit()
    finally:
        target.close()
        source.close()
    return facts


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools): install postgresql-client to "
                          "back up or restore a PostgreSQL database")
    return found


def _pg_conninfo(url) -> tuple[str, dict]:
    """libpq connection string and environment (password) for a SQLAlchemy URL; options kept."""
    from psycopg.conninfo import make_conninfo

    url = make_url(str(url))
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return make_conninfo(**{k: v for k, v in params.items() if v is not None}), env


def _pg_dump(engine: Engine, payload: Path) -> dict:
    tool = _pg_tool("pg_dump")
    conninfo, env = _pg_conninfo(engine.url)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            facts = _facts(conn)
            _run([tool, "--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}",
                  f"--snapshot={snapshot}", f"--file={payload}", f"--dbname={conninfo}"], env, "pg_dump")
    return {**facts, "schema": schema}


def _run(argv: list[str], env: dict, what: str) -> None:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what} could not run: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise BackupError(f"{what} failed: {last[:300]}")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------ reading one
def read_manifest(path: str | Path) -> Manifest:
    """The manifest of the backup at ``path`` (payload not checked). :raises BackupError: not a backup."""
    path = Path(path).expanduser()
    try:
        with zipfile.ZipFile(path) as zf:
            return Manifest.from_json(zf.read(MANIFEST), str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such backup file") from None
    except KeyError:
        raise BackupError(f"{path}: damaged backup: no manifest") from None
    except (zipfile.BadZipFile, EOFError, OSError):
        raise BackupError(f"{path}: damaged backup: not a readable backup archive") from None


def _extract_checked(path: Path, manifest: Manifest, folder: Path) -> Path:
    """The payload written into ``folder``, its SHA-256 checked. :raises BackupError: damaged."""
    out = folder / manifest.payload_name
    digest = hashlib.sha256()
    size = 0
    try:
        with zipfile.ZipFile(path) as zf, zf.open(manifest.payload_name) as src, open(out, "wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
    except KeyError:
        raise BackupError(f"{path}: damaged backup: the payload {manifest.payload_name} is missing") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:  # zipfile's own CRC check included
        raise BackupError(f"{path}: damaged backup: the payload cannot be read ({exc})") from None
    if digest.hexdigest() != manifest.payload_sha256 or size != manifest.payload_bytes:
        raise BackupError(f"{path}: damaged backup: the payload's checksum is {digest.hexdigest()[:16]}..., the "
                          f"manifest says {manifest.payload_sha256[:16]}...: nothing restored")
    return out


# ------------------------------------------------------------------ restoring one
def restore(path: str | Path, target_url: str, *, facility: str | None = None) -> Restored:
    """Restore the backup at ``path`` into the empty database ``target_url``; verify its audit chain.

    ``facility``: the code this console is configured for: refused unless the
    backup holds it. Raises :class:`BackupError` (damaged, foreign, target not
    empty, pg_restore failing) with nothing written, :class:`InputError` (no
    such file, bad URL).
    """
    from attendant.core.audit_verify import verify
    from db.engine import SCHEMA_HEAD, make_engine

    path = Path(path).expanduser()
    manifest = read_manifest(path)
    target = make_url(target_url)
    backend = target.get_backend_name()
    if backend != manifest.backend:
        raise BackupError(f"{path}: foreign backup: it is of a {manifest.backend} database, the target is {backend}")
    if manifest.schema_revision != SCHEMA_HEAD:
        raise BackupError(f"{path}: foreign backup: made at schema revision {manifest.schema_revision}, this "
                          f"console runs {SCHEMA_HEAD}: restore it with the matching version")
    if facility and facility.strip().upper() not in manifest.facilities:
        raise BackupError(f"{path}: foreign backup: it holds facilities {', '.join(manifest.facilities) or 'none'}, "
                          f"not {facility.strip().upper()}")
    with tempfile.TemporaryDirectory(prefix=".attendant-restore-") as folder:
        payload = _extract_checked(path, manifest, Path(folder))
        if backend == "sqlite":
            _sqlite_restore(payload, manifest, target, path)
        else:
            _pg_restore(payload, manifest, target, path)
    engine = make_engine(target.render_as_string(hide_password=False))
    try:
        verification = verify(engine)
    finally:
        engine.dispose()
    return Restored(manifest, target.render_as_string(hide_password=True), verification)


def _refuse_unless_empty(codes: tuple[str, ...], rows: int, manifest: Manifest, where: str) -> None:
    if codes and set(codes) != set(manifest.facilities):
        raise BackupError(f"foreign backup: it holds facilities {', '.join(manifest.facilities) or 'none'}, the "
                          f"target database {where} holds {', '.join(codes)}: nothing restored")
    if rows:
        raise BackupError(f"the target database {where} is not empty ({rows} rows of facilities, users, sessions, "
                          "payments or audit events): restore into a fresh database (--into URL)")


def _sqlite_restore(payload: Path, manifest: Manifest, target, path: Path) -> None:
    source = sqlite3.connect(payload)
    try:
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{path}: damaged backup: the database inside fails its integrity check")
        facts = _facts(source)
        if facts["schema_revision"] != manifest.schema_revision or facts["facilities"] != manifest.facilities:
            raise BackupError(f"{path}: damaged backup: the database inside does not match its manifest")
        file = _sqlite_file(target)
        if file.exists() and file.stat().st_size:
            probe = sqlite3.connect(file, timeout=30)
            try:
                tables = {t for (t,) in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                codes = tuple(c for (c,) in probe.execute("SELECT code FROM facility")) if "facility" in tables \
                    else ()
                rows = sum(probe.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608 - our names
                           for t in _DATA_TABLES if t in tables)
            finally:
                probe.close()
            _refuse_unless_empty(codes, rows, manifest, str(file))
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        dest = sqlite3.connect(file, timeout=30)
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode=WAL")
        finally:
            dest.close()
    finally:
        source.close()


def _pg_restore(payload: Path, manifest: Manifest, target, path: Path) -> None:
    from sqlalchemy import create_engine

    tool = _pg_tool("pg_restore")
    url = target.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar() or _search_path(url) or "public"
            present = {n for (n,) in conn.execute(text("SELECT nspname FROM pg_namespace"))}
            if schema in present:
                tables = set(inspect(conn).get_table_names(schema=schema))
                codes = tuple(c for (c,) in conn.execute(text(f'SELECT code FROM "{schema}".facility'))) \
                    if "facility" in tables else ()
                rows = sum(conn.execute(text(f'SELECT count(*) FROM "{schema}"."{t}"')).scalar_one()  # noqa: S608
                           for t in _DATA_TABLES if t in tables)
                _refuse_unless_empty(codes, rows, manifest, f"(schema {schema})")
            source_schema = manifest.schema or "public"
            if source_schema != schema and source_schema in present:
                raise BackupError(f"schema {source_schema} (the backup's) already exists in the target database: "
                                  "restore into another database (--into URL)")
        conninfo, env = _pg_conninfo(url.difference_update_query(["options"]))
        with engine.begin() as conn:  # an empty schema of the target's name makes way for the restored one
            if schema in present:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        _run([tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              f"--dbname={conninfo}", str(payload)], env, "pg_restore")
        if source_schema != schema:
            with engine.begin() as conn:
                conn.execute(text(f'ALTER SCHEMA "{source_schema}" RENAME TO "{schema}"'))
    finally:
        engine.dispose()


def _search_path(url) -> str | None:
    options = url.query.get("options")
    if isinstance(options, tuple):
        options = options[-1]
    if options and "search_path=" in options:
        return options.split("search_path=", 1)[1].split()[0].split(",")[0].strip('"')
    return None


# ------------------------------------------------------------------ the console's schedule
class BackupSchedule:
    """Backups every ``every_minutes`` into ``folder`` (``attendant-<UTC stamp>.atbk``), keeping the newest
    ``keep``: what the console runs from its timer (console config ``backup_every_minutes``, ``backup_dir``,
    ``backup_keep``). :meth:`start` runs one in a worker thread and returns at once, so the lane never
    waits; a run still going when the next is due is not doubled."""

    def __init__(self, engine: Engine, folder: str | Path, keep: int = 7, on_done=None) -> None:
        self.engine, self.folder, self.keep = engine, Path(folder).expanduser(), max(1, keep)
        self.on_done = on_done  # called (path, error) on the worker thread
        self._running = threading.Lock()
        self.last: Path | None = None
        self.last_error: str | None = None

    def start(self) -> threading.Thread | None:
        """Start one backup in a worker thread (None: one is still running)."""
        if not self._running.acquire(blocking=False):
            return None
        worker = threading.Thread(target=self._run, name="attendant-backup", daemon=True)
        worker.start()
        return worker

    def _run(self) -> None:
        path, error = None, None
        try:
            path = self.run_once()
        except Exception as exc:  # noqa: BLE001 - a failed backup is reported, never raised into the console
            error = str(exc)
            self.last_error = error
        finally:
            self._running.release()
        if self.on_done is not None:
            self.on_done(path, error)

    def run_once(self) -> Path:
        """One backup now (in the calling thread), then the oldest beyond ``keep`` removed; its path."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"attendant-{stamp}{SUFFIX}"
        backup(self.engine, path)
        self.last = path
        kept = sorted(self.folder.glob(f"attendant-*{SUFFIX}"))
        for old in kept[:-self.keep]:
            try:
                old.unlink()
            except OSError:
                pass
        return path
