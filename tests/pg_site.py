"""A two-server PostgreSQL site on this machine: a primary and a synchronous hot standby.

What ``docs/failover.md`` describes, built from two throw-away clusters on
127.0.0.1 with the server binaries themselves (``initdb``, ``pg_ctl``,
``pg_basebackup``): no system cluster, no files outside one temporary folder.

- :func:`missing_reason` says why a site cannot be built here (no binaries,
  running as root without a ``postgres`` account to run them as), or None.
- :class:`PgSite` builds it (:meth:`PgSite.start`): server A the primary with
  ``synchronous_standby_names = 'standby1'``; server B taken with
  ``pg_basebackup -R`` (so it follows A by streaming replication) and started
  as hot standby ``standby1``; start returns once A reports B ``sync``, so
  from then on a commit A acknowledges is on B's disk too. B's own
  configuration has ``synchronous_standby_names = ''``: once promoted it
  accepts writes alone, until a new standby joins.
- :class:`Traffic` drives one booth without pause (entries, cash exits) and
  records what was acknowledged, for the failover test and benchmark.
- :meth:`PgSite.url` is the booths' URL naming both servers with
  ``target_session_attrs=read-write``; :meth:`PgSite.kill_primary` (``pg_ctl
  stop -m immediate``: every server process ends at once, as in a crash) and
  :meth:`PgSite.promote_standby` (``pg_ctl promote``) make the failover;
  :meth:`PgSite.close` stops both servers and deletes the folder, whatever
  state they are in.

Servers run as the ``postgres`` OS account when this process is root
(``runuser``), since PostgreSQL refuses to run as root. The binaries come from
``ATTENDANT_PG_BIN``, else the newest ``/usr/lib/postgresql/*/bin``.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

TOOLS = ("initdb", "pg_ctl", "pg_basebackup")
STANDBY_NAME = "standby1"
ACTOR = "failover-test"  # the booth's automaton (an Actor with system=True where it is used)


def pg_bin() -> Path | None:
    """The folder of the server binaries: ``ATTENDANT_PG_BIN``, else the newest Debian-style install."""
    if env := os.environ.get("ATTENDANT_PG_BIN"):
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def missing_reason() -> str | None:
    """Why a site cannot be built on this machine (None: it can)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin; set ATTENDANT_PG_BIN)"
    missing = [tool for tool in TOOLS if not (bin_dir / tool).exists()]
    if missing:
        return f"PostgreSQL binaries missing in {bin_dir}: {', '.join(missing)}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' account to run the servers as"
        if shutil.which("runuser") is None:
            return "running as root and there is no runuser to run the servers as 'postgres'"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgSite:
    """Two clusters in one temporary folder: ``a`` (the first primary) and ``b`` (its standby)."""

    def __init__(self, database: str = "parking") -> None:
        reason = missing_reason()
        if reason:
            raise RuntimeError(reason)
        self.bin = pg_bin()
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="attendant-pgsite-"))
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.ports = {"a": free_port(), "b": free_port()}
        while self.ports["b"] == self.ports["a"]:
            self.ports["b"] = free_port()
        atexit.register(self.close)  # an interrupted run (ctrl+c) leaves no server behind either

    # ------------------------------------------------------------ commands
    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        argv = [str(self.bin / tool), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-800:]}\n{self.logs()}")
        return proc

    def data(self, server: str) -> Path:
        return self.root / server

    def log(self, server: str) -> Path:
        return self.root / f"{server}.log"

    def logs(self) -> str:
        """The last lines of each server's log (for a failure message)."""
        out = []
        for server in self.ports:
            path = self.log(server)
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-15:]
                out.append(f"--- {server}.log\n" + "\n".join(tail))
        return "\n".join(out)

    def _append_conf(self, server: str, lines: list[str]) -> None:
        with (self.data(server) / "postgresql.conf").open("a") as conf:
            conf.write("\n# attendant failover site\n" + "\n".join(lines) + "\n")

    def pg_ctl(self, server: str, *args: str, timeout: float = 60) -> None:
        self._run("pg_ctl", "-D", str(self.data(server)), *args, timeout=timeout)

    # ------------------------------------------------------------ the site
    def start(self, *, sync_timeout: float = 30) -> PgSite:
        """Build and start the primary and its synchronous standby; returns once the standby is ``sync``."""
        self._run("initdb", "-D", str(self.data("a")), "-A", "trust", "-U", "postgres", "-N",
                  "--no-instructions")
        self._append_conf("a", [
            f"port = {self.ports['a']}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.root}'",
            f"synchronous_standby_names = '{STANDBY_NAME}'",
            "synchronous_commit = on",
            "wal_level = replica",
            "max_wal_senders = 5",
            "hot_standby = on",
            "shared_buffers = 16MB",
        ])
        self.pg_ctl("a", "-l", str(self.log("a")), "-w", "-t", "30", "start")
        self._run("pg_basebackup", "-D", str(self.data("b")), "-R", "-X", "stream", "-c", "fast",
                  "-d", f"host=127.0.0.1 port={self.ports['a']} user=postgres application_name={STANDBY_NAME}")
        self._append_conf("b", [
            f"port = {self.ports['b']}",
            "synchronous_standby_names = ''",  # once promoted, B takes writes alone (docs/failover.md)
        ])
        self.pg_ctl("b", "-l", str(self.log("b")), "-w", "-t", "30", "start")
        self._wait_sync(sync_timeout)
        with self.connect("a", "postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        return self

    def _wait_sync(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            with self.connect("a", "postgres") as conn:
                row = conn.execute("SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                                   (STANDBY_NAME,)).fetchone()
            state = row[0] if row else None
            if state == "sync":
                return
            time.sleep(0.1)
        raise RuntimeError(f"standby never became synchronous (last state {state!r})\n{self.logs()}")

    def connect(self, server: str, database: str | None = None, *, autocommit: bool = False):
        """A psycopg connection to one server (``a`` or ``b``)."""
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.ports[server], user="postgres",
                               dbname=database or self.database, autocommit=autocommit, connect_timeout=5)

    def url(self, order: tuple[str, ...] = ("a", "b")) -> str:
        """The booths' SQLAlchemy URL: every server, the first that takes writes wins."""
        hosts = "&".join(f"host=127.0.0.1:{self.ports[s]}" for s in order)
        return f"postgresql+psycopg://postgres@/{self.database}?{hosts}&target_session_attrs=read-write"

    def server_url(self, server: str) -> str:
        """A plain URL of one server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.ports[server]}/{self.database}"

    def stop_server(self, server: str) -> None:
        """``pg_ctl stop -m fast`` (a clean shutdown)."""
        self.pg_ctl(server, "-m", "fast", "-w", "stop")

    def start_server(self, server: str, *, wait_sync: bool = True) -> None:
        """Start a stopped server again (a standby rejoins its primary: wait until it is ``sync`` again)."""
        self.pg_ctl(server, "-l", str(self.log(server)), "-w", "-t", "30", "start")
        if wait_sync:
            self._wait_sync(30)

    def kill_primary(self, server: str = "a") -> None:
        """``pg_ctl stop -m immediate``: the server's processes quit at once, nothing flushed or said."""
        self.pg_ctl(server, "-m", "immediate", "-w", "stop")

    def promote_standby(self, server: str = "b") -> None:
        """``pg_ctl promote``: the standby ends recovery and takes writes (returns once it does)."""
        self.pg_ctl(server, "-w", "-t", "30", "promote")

    def in_recovery(self, server: str) -> bool:
        with self.connect(server, "postgres") as conn:
            return bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])

    def close(self) -> None:
        """Stop both servers (immediately, whatever their state) and delete the folder."""
        atexit.unregister(self.close)
        for server in self.ports:
            if (self.data(server) / "postmaster.pid").exists():
                try:
                    self.pg_ctl(server, "-m", "immediate", "-w", "stop", timeout=30)
                except Exception:  # noqa: BLE001 - already stopped, or never started: the folder goes anyway
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Attempt:
    kind: str  # entry | exit
    started: float
    ended: float
    error: BaseException | None = None


@dataclass
class Traffic:
    """Entries and cash exits through one booth, without pause, recording what was acknowledged.

    A failed operation is recorded and the next one starts 50 ms later; an exit that failed is
    retried (same idempotency key) before anything else, as an attendant would.
    """

    booth: object
    attempts: list[Attempt] = field(default_factory=list)
    entries: dict[int, tuple[str, str]] = field(default_factory=dict)  # session id -> (ticket no, code)
    exits: dict[int, object] = field(default_factory=dict)  # session id -> ExitResult acknowledged
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        from attendant.core.requests import EntryRequest, ExitRequest, Tender

        inside: deque[tuple[int, str]] = deque()
        retry: tuple[int, str] | None = None
        n = 0
        while not self.stop.is_set():
            n += 1
            leaving = retry or (inside.popleft() if len(inside) > 4 and n % 3 == 0 else None)
            started = time.monotonic()
            try:
                if leaving:
                    retry = leaving
                    session_id, code = leaving
                    out = self.booth.exit(ExitRequest(code, tenders=(Tender("cash", tendered=10_000),),
                                                      idempotency_key=f"failover-{session_id}"), actor=_actor())
                    retry = None
                    self.exits[session_id] = out.exit
                else:
                    arrived = datetime.now(UTC) - timedelta(hours=3)  # a stay with a fee to pay
                    out = self.booth.enter(EntryRequest(f"FO{n:05d}", "car", at=arrived,
                                                        backdate_reason="failover test: a stay with a fee to pay"),
                                           actor=_actor())
                    self.entries[out.entry.session_id] = (out.entry.ticket_no, out.entry.code)
                    inside.append((out.entry.session_id, out.entry.code))
                self.attempts.append(Attempt("exit" if leaving else "entry", started, time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - recorded and judged by the test
                self.attempts.append(Attempt("exit" if leaving else "entry", started, time.monotonic(), exc))
                time.sleep(0.05)

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; attempts: {self.summary()}")
            time.sleep(0.02)

    def succeeded_after(self, moment: float) -> list[Attempt]:
        return [a for a in list(self.attempts) if a.started >= moment and a.error is None]

    def summary(self) -> str:
        failed = [a for a in self.attempts if a.error is not None]
        last = ""
        if failed:
            error = failed[-1].error
            cause = error.__cause__ or error.__context__
            last = f"; last error {type(error).__name__}: {str(error)[:300]}"
            if cause is not None:
                last += f" (from {type(cause).__name__}: {str(getattr(cause, 'orig', cause))[:300]})"
        return f"{len(self.attempts)} attempts, {len(failed)} failed{last}"


def _actor():
    """The traffic's actor: the installation's own automaton, which may back-date with a reason (issue 10 item 6:
    an attendant may not)."""
    from attendant.core.auth import Actor

    return Actor(ACTOR, system=True)
