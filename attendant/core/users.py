"""Users, roles and PIN login (BRIEF.md feature 7; RBAC in the services, feature 13).

A user has a role (attendant < supervisor < admin, :mod:`attendant.core.auth`)
and a 4-8 digit PIN stored as an argon2id hash. Library used, not home-made:
**argon2-cffi** (``argon2.PasswordHasher``), with the OWASP Password Storage
Cheat Sheet minimum for argon2id (m=19 MiB, t=2, p=1): about 40 ms per check
on a 2-core booth PC. A PIN has at most 10^8 values, so the real protection
is the lock-out, not the hash cost:

- three consecutive wrong PINs lock the user for one hour, counted from the
  third failure; a locked user is refused even with the right PIN (the message
  says until when); a successful login resets the counter; a supervisor may
  unlock early (:func:`unlock_user`);
- an unknown user name gets the same message as a wrong PIN, after a hash check
  of the same cost, so names cannot be probed.

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

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core import audit
from attendant.core.auth import Actor, Role, as_actor, require
from attendant.core.clock import as_utc, utc_now
from attendant.core.errors import InputError, NotFound, Refused
from db.models import User

U = User.__table__

MAX_FAILED_ATTEMPTS = 3
LOCK_DURATION = timedelta(hours=1)
PIN_PATTERN = re.compile(r"[0-9]{4,8}")
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

    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    return hasher, hasher.hash("00000000")


class LoginRequired(Refused):
    """The operation needs a logged-in user (``--user``/``--pin``, or the console's login)."""


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
    failed_attempts: int
    locked_until: datetime | None
    created_at: datetime

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
            "created_at": self.created_at.isoformat(),
        }


# --------------------------------------------------------------------------- helpers
def _now(now: datetime | None) -> datetime:
    return utc_now() if now is None else as_utc(now)


def _audit(conn, *, now: datetime, actor: str, action: str, entity_id: int | None, details: dict | None) -> None:
    audit.record(conn, facility_id=None, actor=actor, action=action, entity="app_user", entity_id=entity_id,
                 details=details, effective_at=now)


def _view(row) -> UserView:
    return UserView(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        active=bool(row.active),
        failed_attempts=row.failed_attempts,
        locked_until=row.locked_until,
        created_at=row.created_at,
    )


def check_pin(pin: str) -> str:
    """``pin`` if it is 4 to 8 digits; raise :class:`InputError` otherwise (the PIN is never echoed)."""
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise InputError("a PIN is 4 to 8 digits")
    return pin


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
        return [_view(row) for row in conn.execute(stmt)]


def get_user(engine: Engine, username: str) -> UserView:
    """The user named ``username``; raises :class:`NotFound`."""
    with engine.connect().execution_options(readonly=True) as conn:
        return _view(_user_row(conn, normalize_username(username)))


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
            row = conn.execute(select(U).where(U.c.id == user_id)).one()
    except IntegrityError:  # a concurrent create of the same name
        raise InputError(f"user {name!r} already exists") from None
    return _view(row)


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
    engine: Engine, username: str, pin: str, *, now: datetime | None = None, tz: tzinfo | None = None
) -> Actor:
    """Log in by PIN; return ``Actor(username, role, user_id)``.

    Rules: 3 consecutive wrong PINs lock the user for 1 hour from the third
    failure; a locked user is refused even with the right PIN (:class:`UserLocked`,
    the message gives the time, in ``tz`` or else UTC); success resets the
    counter. Unknown names and wrong PINs both raise :class:`LoginFailed` with the
    same message. A deactivated user with the right PIN is told so. Every
    outcome is audited (``user.login``, ``user.login_failed``, ``user.locked``,
    ``user.login_refused``). A malformed PIN raises :class:`InputError` and
    counts as nothing.
    """
    check_pin(pin)
    when = _now(now)
    try:
        name = normalize_username(username)
    except InputError:
        name = None
    with engine.connect().execution_options(readonly=True) as conn:
        row = conn.execute(select(U).where(U.c.username == name)).first() if name else None

    if row is None:
        _verify(_argon2()[1], pin)  # same cost as a real check
        with engine.begin() as conn:
            _audit(conn, now=when, actor=f"login:{(username or '').strip()}", action="user.login_failed",
                   entity_id=None, details={"username": (username or "").strip()[:40], "reason": "unknown user"})
        raise LoginFailed(LOGIN_FAILED_MESSAGE)

    if row.locked_until is not None and row.locked_until > when:
        with engine.begin() as conn:
            _audit(conn, now=when, actor=row.username, action="user.login_refused", entity_id=row.id,
                   details={"reason": "locked", "locked_until": row.locked_until.isoformat()})
        raise UserLocked(_locked_message(row.username, row.locked_until, tz), row.locked_until)

    ok = _verify(row.pin_hash, pin)
    with engine.begin() as conn:
        # Re-read inside the write transaction: another booth may have locked the user meanwhile.
        current = conn.execute(
            select(U.c.locked_until, U.c.failed_attempts).where(U.c.id == row.id).with_for_update()
        ).one()
        if current.locked_until is not None and current.locked_until > when:
            _audit(conn, now=when, actor=row.username, action="user.login_refused", entity_id=row.id,
                   details={"reason": "locked", "locked_until": current.locked_until.isoformat()})
            error = UserLocked(_locked_message(row.username, current.locked_until, tz), current.locked_until)
        elif ok:
            if not row.active:
                _audit(conn, now=when, actor=row.username, action="user.login_refused", entity_id=row.id,
                       details={"reason": "deactivated"})
                error = LoginFailed(f"user {row.username} is deactivated: ask an admin")
            else:
                values: dict = {"failed_attempts": 0, "locked_until": None}
                if _argon2()[0].check_needs_rehash(row.pin_hash):
                    values["pin_hash"] = _argon2()[0].hash(pin)
                conn.execute(update(U).where(U.c.id == row.id).values(**values))
                _audit(conn, now=when, actor=row.username, action="user.login", entity_id=row.id,
                       details={"role": row.role})
                return Actor(row.username, Role(row.role), row.id)
        else:
            failures = (current.failed_attempts or 0) + 1
            if current.locked_until is not None and current.locked_until <= when and failures > MAX_FAILED_ATTEMPTS:
                failures = 1  # an expired lock starts a fresh count
            if failures >= MAX_FAILED_ATTEMPTS:
                until = when + LOCK_DURATION
                conn.execute(update(U).where(U.c.id == row.id).values(failed_attempts=failures, locked_until=until))
                _audit(conn, now=when, actor=row.username, action="user.login_failed", entity_id=row.id,
                       details={"reason": "wrong pin", "failed_attempts": failures})
                _audit(conn, now=when, actor=row.username, action="user.locked", entity_id=row.id,
                       details={"locked_until": until.isoformat(), "failed_attempts": failures})
                error = UserLocked(
                    f"{LOGIN_FAILED_MESSAGE}; {row.username} is now locked until {_fmt_until(until, tz)} "
                    f"after {failures} wrong PINs: ask a supervisor to unlock",
                    until,
                )
            else:
                conn.execute(update(U).where(U.c.id == row.id).values(failed_attempts=failures))
                _audit(conn, now=when, actor=row.username, action="user.login_failed", entity_id=row.id,
                       details={"reason": "wrong pin", "failed_attempts": failures})
                error = LoginFailed(LOGIN_FAILED_MESSAGE)
    raise error


def _locked_message(username: str, until: datetime, tz: tzinfo | None) -> str:
    return (
        f"user {username} is locked until {_fmt_until(until, tz)} after {MAX_FAILED_ATTEMPTS} wrong PINs: "
        "ask a supervisor to unlock"
    )


def _verify(pin_hash: str, pin: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

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
        conn.execute(update(U).where(U.c.id == row.id).values(pin_hash=pin_hash, failed_attempts=0, locked_until=None))
        _audit(conn, now=when, actor=who.name, action="user.pin_change", entity_id=row.id,
               details={"username": row.username, "own": row.id == who.user_id})
        return _view(conn.execute(select(U).where(U.c.id == row.id)).one())


def unlock_user(engine: Engine, actor: Actor | str, username: str, *, now: datetime | None = None) -> UserView:
    """Clear ``username``'s lock and failure count. Needs a logged-in supervisor or admin.

    Raises :class:`PermissionDenied`, :class:`LoginRequired`, :class:`NotFound`.
    """
    who = _logged_in(actor, Role.SUPERVISOR, "unlocking a user")
    name = normalize_username(username)
    when = _now(now)
    with engine.begin() as conn:
        row = _user_row(conn, name)
        conn.execute(update(U).where(U.c.id == row.id).values(failed_attempts=0, locked_until=None))
        _audit(conn, now=when, actor=who.name, action="user.unlock", entity_id=row.id,
               details={"username": row.username,
                        "was_locked_until": row.locked_until.isoformat() if row.locked_until else None})
        return _view(conn.execute(select(U).where(U.c.id == row.id)).one())


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
        return _view(conn.execute(select(U).where(U.c.id == row.id)).one())


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
        return _view(conn.execute(select(U).where(U.c.id == row.id)).one())


class StaffDesk:
    """Users and logins, bound to the database and the console's clock (what both front ends call).

    ``tz`` is the facility's zone, for the times in lock messages. Roles are
    checked by the functions of this module.
    """

    def __init__(self, engine: Engine, clock, tz: tzinfo | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.tz = tz

    def any_users(self) -> bool:
        """True once the first user exists (the console then asks for a PIN)."""
        return any_users(self.engine)

    def setup_actor(self) -> Actor:
        """The admin-level actor of setup mode. :raises LoginRequired: once a user exists."""
        return setup_actor(self.engine)

    def login(self, username: str, pin: str) -> Actor:
        """:func:`authenticate` now."""
        return authenticate(self.engine, username, pin, now=self.clock(), tz=self.tz)

    def logout(self, actor: Actor, *, reason: str = "logout") -> None:
        """:func:`record_logout` now."""
        record_logout(self.engine, actor, reason=reason, now=self.clock())

    def users(self, *, include_inactive: bool = True) -> list[UserView]:
        return list_users(self.engine, include_inactive=include_inactive)

    def add(self, actor: Actor | str, username: str, display_name: str | None, role: str | Role,
            pin: str) -> UserView:
        return create_user(self.engine, actor, username, display_name, role, pin, now=self.clock())

    def unlock(self, actor: Actor | str, username: str) -> UserView:
        return unlock_user(self.engine, actor, username, now=self.clock())

    def change_pin(self, actor: Actor | str, username: str, new_pin: str) -> UserView:
        return change_pin(self.engine, actor, username, new_pin, now=self.clock())

    def set_role(self, actor: Actor | str, username: str, role: str | Role) -> UserView:
        return set_role(self.engine, actor, username, role, now=self.clock())

    def deactivate(self, actor: Actor | str, username: str) -> UserView:
        return deactivate_user(self.engine, actor, username, now=self.clock())
