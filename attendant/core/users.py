"""Users, roles and PIN login (BRIEF.md feature 7; RBAC in the services, feature 13).

A user has a role (attendant < supervisor < admin, :mod:`attendant.core.auth`)
and a PIN of 6 to 12 digits (ASCII) stored as an argon2id hash. Library
used, not home-made: **argon2-cffi** (``argon2.PasswordHasher``) with the
OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1
(:data:`ARGON2_PARAMETERS`, checked by the tests against the stored hashes),
about 40 ms per check on a 2-core booth PC. Offline, one core tries 10^6
six-digit PINs in about 11 hours (10^4 four-digit ones took 33 minutes), so
the database file must stay private (it is created 0600); online, the
lock-out below allows a few guesses per quarter hour per source:

- three consecutive wrong PINs from one *source* (the CLI's OS account and
  host, a console, an API client) lock the user *for that source only*: 30 s,
  doubling with each further lock up to 15 minutes
  (:data:`BACKOFF_FIRST`, :data:`BACKOFF_MAX`). A locked source is refused
  even with the right PIN (the message says until when); other sources are
  not affected, so a stranger cannot lock a user out of the booth; a success
  from the source resets it; a supervisor or admin unlocks early
  (:func:`unlock_user`, one source or all);
- an unknown user name gets the same message as a wrong PIN, after a hash check
  of the same cost, so names cannot be probed;
- PINs set before the 6-digit rule (4 or 5 digits) still log in, so nobody is
  shut out of their own booth, but each such login is audited as weak and
  the front ends ask for a new PIN (:attr:`attendant.core.auth.Actor.weak_pin`).

Every login, failure, lock and change is one transaction with an audit event
(``facility_id`` NULL: users are not tied to one facility). Times are aware
UTC; ``now`` parameters exist for tests with a fixed clock.

Setup mode: while no user exists, :func:`setup_actor` gives
``Actor("setup", Role.ADMIN)`` so a fresh installation can create its first
user, which must be an admin (:func:`create_user`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core import audit
from attendant.core.auth import Actor, LoginRequired, Role, as_actor, require
from attendant.core.clock import as_utc, utc_now
from attendant.core.errors import InputError, NotFound, Refused
from db.models import LoginGuard, User

U = User.__table__
G = LoginGuard.__table__

MAX_FAILED_ATTEMPTS = 3
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=15)
PIN_PATTERN = re.compile(r"[0-9]{6,12}")
LEGACY_PIN_PATTERN = re.compile(r"[0-9]{4,12}")  # what a login accepts: PINs set before the 6-digit rule
ARGON2_PARAMETERS = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}  # OWASP minimum for argon2id
DEFAULT_SOURCE = "unknown"
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")
SETUP_NAME = "setup"
LOGIN_FAILED_MESSAGE = "wrong user name or PIN"

@functools.cache
def _argon2():
    """The PIN hasher (argon2-cffi), built on first use so importing this module stays cheap.

    OWASP Password Storage Cheat Sheet, argon2id minimum configuration. Also
    returns a dummy hash verified for unknown user names, so a miss costs as
    much as a wrong PIN.
    """
    from argon2 import PasswordHasher

    hasher = PasswordHasher(**ARGON2_PARAMETERS)
    return hasher, hasher.hash("00000000")


class LoginFailed(Refused):
    """Wrong user name or PIN, a locked user or a deactivated one."""


class UserLocked(LoginFailed):
    """Too many wrong PINs: the user is locked until ``locked_until`` (aware UTC)."""

    def __init__(self, message: str, locked_until: datetime) -> None:
        super().__init__(message)
        self.locked_until = locked_until


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as listed (never the PIN hash). Times aware UTC."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    failed_attempts: int  # wrong PINs counted now, over every source
    locked_until: datetime | None  # the latest lock of any source (None: none recorded)
    created_at: datetime
    locked_sources: tuple[tuple[str, datetime], ...] = ()  # (source, until) of every lock recorded

    def locked_at(self, now: datetime | None = None) -> bool:
        """True if the user is locked at ``now`` (default: the current time)."""
        return self.locked_until is not None and self.locked_until > (now or utc_now())

    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.id)

    def to_json_dict(self, now: datetime | None = None) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.display_name,
            "role": self.role.value,
            "active": self.active,
            "failed_attempts": self.failed_attempts,
            "locked": self.locked_at(now),
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "locked_sources": [{"source": where, "until": until.isoformat()} for where, until in self.locked_sources
                               if until > (now or utc_now())],
            "created_at": self.created_at.isoformat(),
        }


# --------------------------------------------------------------------------- helpers
def _now(now: datetime | None) -> datetime:
    return utc_now() if now is None else as_utc(now)


def _audit(conn, *, now: datetime, actor: str, action: str, entity_id: int | None, details: dict | None) -> None:
    audit.record(conn, facility_id=None, actor=actor, action=action, entity="app_user", entity_id=entity_id,
                 details=details, effective_at=now)


def _view(row, guards=()) -> UserView:
    """The :class:`UserView` of an ``app_user`` row and its ``login_guard`` rows."""
    locks = tuple((g.source, g.locked_until) for g in guards if g.locked_until is not None)
    return UserView(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        active=bool(row.active),
        failed_attempts=sum(g.failures for g in guards),
        locked_until=max((until for _s, until in locks), default=None),
        created_at=row.created_at,
        locked_sources=locks,
    )


def _user_view(conn, user_id: int) -> UserView:
    row = conn.execute(select(U).where(U.c.id == user_id)).one()
    return _view(row, conn.execute(select(G).where(G.c.user_id == user_id)).all())


def check_pin(pin: str) -> str:
    """``pin`` if it is 6 to 12 ASCII digits (a new PIN); raise :class:`InputError` otherwise (never echoed)."""
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise InputError("a PIN is 6 to 12 digits (0-9)")
    return pin


def _check_login_pin(pin: str) -> str:
    if not isinstance(pin, str) or not LEGACY_PIN_PATTERN.fullmatch(pin):
        raise InputError("a PIN is 6 to 12 digits (0-9)")
    return pin


def _source(source: str | None) -> str:
    return ((source or "").strip() or DEFAULT_SOURCE)[:80]


def backoff(locks: int) -> timedelta:
    """How long the ``locks``-th lock of a source lasts (1: :data:`BACKOFF_FIRST`, doubling, at most
    :data:`BACKOFF_MAX`)."""
    return min(BACKOFF_FIRST * (2 ** min(max(locks, 1) - 1, 20)), BACKOFF_MAX)


def normalize_username(username: str) -> str:
    """Lower-case, stripped user name; 1-40 of ``a-z 0-9 . _ -`` starting with a letter or digit.

    Raises :class:`InputError`.
    """
    name = (username or "").strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise InputError(
            f"not a user name: {username!r} (1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit)"
        )
    if name == SETUP_NAME:
        raise InputError(f"{SETUP_NAME!r} is reserved for setup mode")
    return name


def parse_role(role: str | Role) -> Role:
    """The :class:`Role` named by ``role``; raise :class:`InputError` for anything else."""
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise InputError(f"unknown role {role!r} (one of: {', '.join(r.value for r in Role)})") from None


def _fmt_until(when: datetime, tz: tzinfo | None) -> str:
    if tz is None:
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _user_row(conn, username: str):
    row = conn.execute(select(U).where(U.c.username == username)).first()
    if row is None:
        raise NotFound(f"no user {username!r}")
    return row


def _logged_in(actor: Actor | str, role: Role, action: str) -> Actor:
    """``require`` plus: outside setup mode the actor must be a logged-in user."""
    who = require(actor, role, action)
    if who.user_id is None:
        raise LoginRequired(f"{action} needs a logged-in {role.value}: log in with --user and --pin")
    return who


# --------------------------------------------------------------------------- queries
def any_users(engine: Engine) -> bool:
    """True once at least one user exists (active or not): setup mode is over."""
    with engine.connect().execution_options(readonly=True) as conn:
        return conn.execute(select(U.c.id).limit(1)).first() is not None


def setup_actor(engine: Engine) -> Actor:
    """``Actor("setup", Role.ADMIN)`` while no user exists.

    Raises :class:`LoginRequired` once a user exists.
    """
    if any_users(engine):
        raise LoginRequired("users exist: log in with --user and --pin")
    return Actor(SETUP_NAME, Role.ADMIN)


def list_users(engine: Engine, *, include_inactive: bool = True) -> list[UserView]:
    """Every user by user name (no PIN hashes). Read-only, so no role is needed."""
    stmt = select(U).order_by(U.c.username)
    if not include_inactive:
        stmt = stmt.where(U.c.active.is_(True))
    with engine.connect().execution_options(readonly=True) as conn:
        guards: dict[int, list] = {}
        for g in conn.execute(select(G)):
            guards.setdefault(g.user_id, []).append(g)
        return [_view(row, guards.get(row.id, ())) for row in conn.execute(stmt)]


def get_user(engine: Engine, username: str) -> UserView:
    """The user named ``username``; raises :class:`NotFound`."""
    with engine.connect().execution_options(readonly=True) as conn:
        return _user_view(conn, _user_row(conn, normalize_username(username)).id)


# --------------------------------------------------------------------------- changes
def create_user(
    engine: Engine,
    actor: Actor | str,
    username: str,
    display_name: str | None,
    role: str | Role,
    pin: str,
    *,
    now: datetime | None = None,
) -> UserView:
    """Create a user with a PIN (argon2id hash); one transaction with an audit event.

    Needs a logged-in admin, except the very first user: while no user exists
    the setup actor (:func:`setup_actor`) may create it, and it must be an admin
    (so the installation can never end up without one).
    ``display_name`` defaults to the user name. Raises :class:`PermissionDenied`,
    :class:`LoginRequired`, :class:`Refused` (first user not an admin),
    :class:`InputError` (bad name, role or PIN, name taken).
    """
    who = require(actor, Role.ADMIN, "creating a user")
    name = normalize_username(username)
    new_role = parse_role(role)
    check_pin(pin)
    shown = (display_name or "").strip() or name
    if len(shown) > 80:
        raise InputError("a display name is at most 80 characters")
    when = _now(now)
    pin_hash = _argon2()[0].hash(pin)
    try:
        with engine.begin() as conn:
            first = conn.execute(select(func.count()).select_from(U)).scalar_one() == 0
            if first:
                if new_role is not Role.ADMIN:
                    raise Refused("the first user must be an admin (--role admin)")
            elif who.user_id is None:
                raise LoginRequired("creating a user needs a logged-in admin: log in with --user and --pin")
            if conn.execute(select(U.c.id).where(U.c.username == name)).first():
                raise InputError(f"user {name!r} already exists")
            user_id = conn.execute(
                insert(U)
                .values(
                    username=name,
                    display_name=shown,
                    role=new_role.value,
                    pin_hash=pin_hash,
                    failed_attempts=0,
                    locked_until=None,
                    active=True,
                    created_at=when,
                )
                .returning(U.c.id)
            ).scalar_one()
            _audit(
                conn, now=when, actor=who.name, action="user.create", entity_id=user_id,
                details={"username": name, "role": new_role.value, "first_user": first},
            )
            view = _user_view(conn, user_id)
    except IntegrityError:  # a concurrent create of the same name
        raise InputError(f"user {name!r} already exists") from None
    return view


def record_logout(engine: Engine, actor: Actor, *, reason: str = "logout", now: datetime | None = None) -> None:
    """Audit that ``actor`` (a logged-in user) left the console: ``user.logout`` with ``reason``.

    ``reason`` is ``logout`` (ctrl+y) or ``quit`` (the console closed while
    logged in). One transaction; an actor without a user id raises InputError.
    """
    if not isinstance(actor, Actor) or actor.user_id is None:
        raise InputError("only a logged-in user can log out")
    when = _now(now)
    with engine.begin() as conn:
        _audit(conn, now=when, actor=actor.name, action="user.logout", entity_id=actor.user_id,
               details={"reason": reason})


def authenticate(
    engine: Engine, username: str, pin: str, *, source: str | None = None, now: datetime | None = None,
    tz: tzinfo | None = None,
) -> Actor:
    """Log in by PIN from ``source``; return ``Actor(username, role, user_id)``.

    ``source`` names where the attempt comes from (``cli:ann@booth-2``,
    ``console:booth-2``, ``http:10.0.0.7``; at most 80 characters). Rules:
    three consecutive wrong PINs from one source lock the user for that
    source, :func:`backoff` long (:class:`UserLocked`, the message gives the
    time in ``tz`` or else UTC); a locked source is refused even with the
    right PIN, other sources are not affected; success resets the source.
    Unknown names and wrong PINs both raise :class:`LoginFailed` with the same
    message. A deactivated user with the right PIN is told so. Every outcome
    is audited (``user.login``, ``user.login_failed``, ``user.locked``,
    ``user.login_refused``), with the source. A malformed PIN raises
    :class:`InputError` and counts as nothing. A PIN shorter than six digits
    (set before the rule) logs in with ``weak_pin`` set on the actor.
    """
    _check_login_pin(pin)
    where = _source(source)
    when = _now(now)
    try:
        name = normalize_username(username)
    except InputError:
        name = None
    with engine.connect().execution_options(readonly=True) as conn:
        row = conn.execute(select(U).where(U.c.username == name)).first() if name else None
        guard = conn.execute(select(G).where(G.c.user_id == row.id, G.c.source == where)).first() if row else None

    if row is None:
        _verify(_argon2()[1], pin)  # same cost as a real check
        with engine.begin() as conn:
            _audit(conn, now=when, actor=f"login:{(username or '').strip()}"[:80], action="user.login_failed",
                   entity_id=None, details={"username": (username or "").strip()[:40], "reason": "unknown user",
                                            "source": where})
        raise LoginFailed(LOGIN_FAILED_MESSAGE)

    if guard is not None and guard.locked_until is not None and guard.locked_until > when:
        with engine.begin() as conn:
            _audit(conn, now=when, actor=row.username, action="user.login_refused", entity_id=row.id,
                   details={"reason": "locked", "locked_until": guard.locked_until.isoformat(), "source": where})
        raise UserLocked(_locked_message(row.username, guard.locked_until, tz), guard.locked_until)

    ok = _verify(row.pin_hash, pin)
    with engine.begin() as conn:
        # Re-read inside the write transaction: another attempt from this source may have locked it meanwhile.
        current = conn.execute(select(G).where(G.c.user_id == row.id, G.c.source == where).with_for_update()).first()
        if current is not None and current.locked_until is not None and current.locked_until > when:
            _audit(conn, now=when, actor=row.username, action="user.login_refused", entity_id=row.id,
                   details={"reason": "locked", "locked_until": current.locked_until.isoformat(), "source": where})
            error = UserLocked(_locked_message(row.username, current.locked_until, tz), current.locked_until)
        elif ok:
            if not row.active:
                _audit(conn, now=when, actor=row.username, action="user.login_refused", entity_id=row.id,
                       details={"reason": "deactivated", "source": where})
                error = LoginFailed(f"user {row.username} is deactivated: ask an admin")
            else:
                if current is not None:
                    conn.execute(delete(G).where(G.c.user_id == row.id, G.c.source == where))
                if _argon2()[0].check_needs_rehash(row.pin_hash):
                    conn.execute(update(U).where(U.c.id == row.id).values(pin_hash=_argon2()[0].hash(pin)))
                weak = not PIN_PATTERN.fullmatch(pin)
                details = {"role": row.role, "source": where}
                if weak:
                    details["weak_pin"] = True
                _audit(conn, now=when, actor=row.username, action="user.login", entity_id=row.id, details=details)
                return Actor(row.username, Role(row.role), row.id, weak_pin=weak)
        else:
            failures = (current.failures if current is not None else 0) + 1
            locks = current.locks if current is not None else 0
            values = {"failures": failures, "locks": locks, "locked_until": None, "last_failure_at": when}
            if failures >= MAX_FAILED_ATTEMPTS:
                locks += 1
                until = when + backoff(locks)
                values.update(failures=0, locks=locks, locked_until=until)
            if current is None:
                conn.execute(insert(G).values(user_id=row.id, source=where, **values))
            else:
                conn.execute(update(G).where(G.c.user_id == row.id, G.c.source == where).values(**values))
            _audit(conn, now=when, actor=row.username, action="user.login_failed", entity_id=row.id,
                   details={"reason": "wrong pin", "failed_attempts": failures, "source": where})
            if values["locked_until"] is not None:
                until = values["locked_until"]
                _audit(conn, now=when, actor=row.username, action="user.locked", entity_id=row.id,
                       details={"locked_until": until.isoformat(), "failed_attempts": failures, "source": where,
                                "lock": locks})
                error = UserLocked(
                    f"{LOGIN_FAILED_MESSAGE}; {row.username} is now locked here ({where}) until "
                    f"{_fmt_until(until, tz)} after {failures} wrong PINs: wait, or ask a supervisor to unlock",
                    until,
                )
            else:
                error = LoginFailed(LOGIN_FAILED_MESSAGE)
    raise error


def _locked_message(username: str, until: datetime, tz: tzinfo | None) -> str:
    return (
        f"user {username} is locked here until {_fmt_until(until, tz)} after {MAX_FAILED_ATTEMPTS} wrong PINs: "
        "wait, or ask a supervisor to unlock"
    )


def _verify(pin_hash: str, pin: str) -> bool:
    from argon2.exceptions import (
        InvalidHashError,
        VerificationError,
        VerifyMismatchError,
    )

    try:
        return _argon2()[0].verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def change_pin(
    engine: Engine, actor: Actor | str, username: str, new_pin: str, *, now: datetime | None = None
) -> UserView:
    """Set ``username``'s PIN; also clears its failure count and any lock.

    A logged-in user may change their own PIN; changing someone else's needs a
    supervisor, and nobody may change the PIN of a user whose role is above
    their own. Raises :class:`PermissionDenied`, :class:`LoginRequired`,
    :class:`NotFound`, :class:`InputError`.
    """
    who = as_actor(actor)
    name = normalize_username(username)
    check_pin(new_pin)
    when = _now(now)
    if who.user_id is None:
        raise LoginRequired("changing a PIN needs a logged-in user: log in with --user and --pin")
    pin_hash = _argon2()[0].hash(new_pin)
    with engine.begin() as conn:
        row = _user_row(conn, name)
        if row.id != who.user_id:
            require(who, Role.SUPERVISOR, "changing another user's PIN")
            if Role(row.role).rank > who.role.rank:
                require(who, Role(row.role), f"changing the PIN of {row.role} {row.username}")
        conn.execute(update(U).where(U.c.id == row.id).values(pin_hash=pin_hash))
        conn.execute(delete(G).where(G.c.user_id == row.id))  # a new PIN also lifts every lock
        _audit(conn, now=when, actor=who.name, action="user.pin_change", entity_id=row.id,
               details={"username": row.username, "own": row.id == who.user_id})
        return _user_view(conn, row.id)


def unlock_user(engine: Engine, actor: Actor | str, username: str, *, source: str | None = None,
                now: datetime | None = None) -> UserView:
    """Clear ``username``'s locks and failure counts: from ``source`` only, or from every source (None).
    Needs a logged-in supervisor or admin.

    Raises :class:`PermissionDenied`, :class:`LoginRequired`, :class:`NotFound`.
    """
    who = _logged_in(actor, Role.SUPERVISOR, "unlocking a user")
    name = normalize_username(username)
    when = _now(now)
    with engine.begin() as conn:
        row = _user_row(conn, name)
        which = G.c.user_id == row.id
        if source is not None:
            which = which & (G.c.source == _source(source))
        was = [{"source": g.source, "locked_until": g.locked_until.isoformat()}
               for g in conn.execute(select(G).where(which)) if g.locked_until is not None]
        conn.execute(delete(G).where(which))
        _audit(conn, now=when, actor=who.name, action="user.unlock", entity_id=row.id,
               details={"username": row.username, "source": source, "was_locked": was})
        return _user_view(conn, row.id)


def _active_admins(conn) -> int:
    return conn.execute(
        select(func.count()).select_from(U).where(U.c.role == Role.ADMIN.value, U.c.active.is_(True))
    ).scalar_one()


def set_role(engine: Engine, actor: Actor | str, username: str, role: str | Role, *,
             now: datetime | None = None) -> UserView:
    """Change ``username``'s role. Needs a logged-in admin; the last active admin keeps the role.

    Raises :class:`PermissionDenied`, :class:`LoginRequired`, :class:`NotFound`,
    :class:`InputError` (unknown role), :class:`Refused` (last admin).
    """
    who = _logged_in(actor, Role.ADMIN, "changing a role")
    name = normalize_username(username)
    new_role = parse_role(role)
    when = _now(now)
    with engine.begin() as conn:
        row = _user_row(conn, name)
        if row.role == Role.ADMIN.value and new_role is not Role.ADMIN and row.active and _active_admins(conn) <= 1:
            raise Refused(f"{row.username} is the last active admin: make another admin first")
        conn.execute(update(U).where(U.c.id == row.id).values(role=new_role.value))
        _audit(conn, now=when, actor=who.name, action="user.role", entity_id=row.id,
               details={"username": row.username, "from": row.role, "to": new_role.value})
        return _user_view(conn, row.id)


def deactivate_user(engine: Engine, actor: Actor | str, username: str, *, now: datetime | None = None) -> UserView:
    """Deactivate ``username`` (kept for history; can no longer log in). Needs a logged-in admin.

    The last active admin cannot be deactivated. Raises :class:`PermissionDenied`,
    :class:`LoginRequired`, :class:`NotFound`, :class:`Refused`.
    """
    who = _logged_in(actor, Role.ADMIN, "deactivating a user")
    name = normalize_username(username)
    when = _now(now)
    with engine.begin() as conn:
        row = _user_row(conn, name)
        if not row.active:
            raise Refused(f"user {row.username} is already deactivated")
        if row.role == Role.ADMIN.value and _active_admins(conn) <= 1:
            raise Refused(f"{row.username} is the last active admin: make another admin first")
        conn.execute(update(U).where(U.c.id == row.id).values(active=False))
        _audit(conn, now=when, actor=who.name, action="user.deactivate", entity_id=row.id,
               details={"username": row.username})
        return _user_view(conn, row.id)


class StaffDesk:
    """Users and logins, bound to the database and the console's clock (what both front ends call).

    ``tz`` is the facility's zone, for the times in lock messages. Roles are
    checked by the functions of this module.
    """

    def __init__(self, engine: Engine, clock, tz: tzinfo | None = None, *, source: str | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.tz = tz
        self.source = source  # where this desk's logins come from (lock-outs are per user and source)

    def any_users(self) -> bool:
        """True once the first user exists (the console then asks for a PIN)."""
        return any_users(self.engine)

    def setup_actor(self) -> Actor:
        """The admin-level actor of setup mode. :raises LoginRequired: once a user exists."""
        return setup_actor(self.engine)

    def login(self, username: str, pin: str, *, source: str | None = None) -> Actor:
        """:func:`authenticate` now, from ``source`` (default: this desk's)."""
        return authenticate(self.engine, username, pin, source=source or self.source, now=self.clock(), tz=self.tz)

    def logout(self, actor: Actor, *, reason: str = "logout") -> None:
        """:func:`record_logout` now."""
        record_logout(self.engine, actor, reason=reason, now=self.clock())

    def users(self, *, include_inactive: bool = True) -> list[UserView]:
        return list_users(self.engine, include_inactive=include_inactive)

    def add(self, actor: Actor | str, username: str, display_name: str | None, role: str | Role,
            pin: str) -> UserView:
        return create_user(self.engine, actor, username, display_name, role, pin, now=self.clock())

    def locked(self) -> list[UserView]:
        """The active users locked out now (from any source), by user name: a supervisor's unlock pick list."""
        now = self.clock()
        return [u for u in list_users(self.engine, include_inactive=False) if u.locked_at(now)]

    def unlock(self, actor: Actor | str, username: str, *, source: str | None = None) -> UserView:
        return unlock_user(self.engine, actor, username, source=source, now=self.clock())

    def change_pin(self, actor: Actor | str, username: str, new_pin: str) -> UserView:
        return change_pin(self.engine, actor, username, new_pin, now=self.clock())

    def set_role(self, actor: Actor | str, username: str, role: str | Role) -> UserView:
        return set_role(self.engine, actor, username, role, now=self.clock())

    def deactivate(self, actor: Actor | str, username: str) -> UserView:
        return deactivate_user(self.engine, actor, username, now=self.clock())
