"""Roles and the actor every service call is made by (RBAC in the services).

Roles are ordered: attendant < supervisor < admin; a higher role may do what
a lower one may. Services take ``actor: Actor | str``: a plain string is an
unauthenticated *attendant-level* actor (scripts, the traffic replay, setup
mode), so a string can never perform a supervisor action. Front ends obtain a
real :class:`Actor` by PIN login (:mod:`attendant.core.users`).

Setup mode: until the first user exists, the front ends act as
``Actor("setup", Role.ADMIN)`` so a fresh installation can be configured.

Once a user exists, every operation that moves money, a gate or a record
needs a logged-in user (an :class:`Actor` with a ``user_id``) of the right
role: :func:`authorize` is the one check the services make (BRIEF.md
feature 13; issue "Trust"). The only actors that act without a login are the
installation's own automata (``system=True``, e.g. the demo's traffic
replay), which no front end builds from what a user typed, and the holders of
an API token an admin created (``token_id``: the HTTP API checked the token,
:mod:`attendant.core.api_tokens`), with that token's role.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from enum import StrEnum

from attendant.core.errors import Refused


class Role(StrEnum):
    ATTENDANT = "attendant"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.ATTENDANT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


class PermissionDenied(Refused):
    """The actor's role does not allow the operation."""


class LoginRequired(Refused):
    """The operation needs a logged-in user (``--user``/``--pin``, or the console's login)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an operation: ``name`` goes into the audit log.

    ``user_id`` is None for actors that are not logged-in users (scripts,
    replay, setup mode); such actors have no shift, and once users exist
    they may do nothing that :func:`authorize` guards, unless ``system``
    (an automaton of this installation, never built from user input) or
    ``token_id`` (an authenticated API token, :mod:`attendant.core.api_tokens`).
    """

    name: str
    role: Role = Role.ATTENDANT
    user_id: int | None = None
    system: bool = False
    token_id: int | None = None  # an API token the HTTP API authenticated (never a user: no shift, no PIN)
    weak_pin: bool = field(default=False, compare=False)  # logged in with a PIN set before the 6-digit rule

    def __str__(self) -> str:
        return self.name


def as_actor(actor: Actor | str) -> Actor:
    """``actor`` itself, or an attendant-level actor named by the string."""
    if isinstance(actor, Actor):
        return actor
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("an operation needs a named actor")
    return Actor(actor.strip(), Role.ATTENDANT)


def require(actor: Actor | str, role: Role, action: str) -> Actor:
    """Return the actor if its role is at least ``role``; raise :class:`PermissionDenied` otherwise."""
    who = as_actor(actor)
    if who.role.rank < role.rank:
        article = "an" if role.value[0] in "aeiou" else "a"
        raise PermissionDenied(f"{action} needs {article} {role.value}; {who.name} is logged in as {who.role.value}")
    return who


# Engines known to have users: once seen, for good (users are deactivated, never deleted).
_users_seen: weakref.WeakSet = weakref.WeakSet()
_users_lock = threading.Lock()


def users_exist(engine) -> bool:
    """True once at least one user exists in ``engine``'s database (setup mode is over).

    A True answer is remembered for the engine; a False one is looked up
    again at each call (only actors that are neither logged-in users nor
    ``system`` ever ask, so logged-in work pays nothing for it).
    """
    with _users_lock:
        if engine in _users_seen:
            return True
    from sqlalchemy import select

    from db.models import User

    with engine.connect().execution_options(readonly=True) as conn:
        seen = conn.execute(select(User.__table__.c.id).limit(1)).first() is not None
    if seen:
        with _users_lock:
            _users_seen.add(engine)
    return seen


def authorize(engine, actor: Actor | str, role: Role = Role.ATTENDANT, action: str = "this operation") -> Actor:
    """The actor, if it may do ``action`` (needing ``role``) on ``engine``'s database.

    :raises PermissionDenied: its role is below ``role``.
    :raises LoginRequired: users exist and it is not a logged-in user (nor a ``system`` actor, nor an
        authenticated API token).
    """
    who = require(actor, role, action)
    if who.user_id is None and who.token_id is None and not who.system and users_exist(engine):
        raise LoginRequired(f"{action} needs a logged-in user: users exist, so log in (--user and --pin, or "
                            "ATTENDANT_USER and ATTENDANT_PIN; the console asks for a PIN)")
    return who
