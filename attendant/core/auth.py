"""Roles and the actor every service call is made by (RBAC in the services).

Roles are ordered: attendant < supervisor < admin; a higher role may do what
a lower one may. Services take ``actor: Actor | str``: a plain string is an
unauthenticated *attendant-level* actor (scripts, the traffic replay, setup
mode), so a string can never perform a supervisor action. Front ends obtain a
real :class:`Actor` by PIN login (:mod:`attendant.core.users`).

Setup mode: until the first user exists, the front ends act as
``Actor("setup", Role.ADMIN)`` so a fresh installation can be configured.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an operation: ``name`` goes into the audit log.

    ``user_id`` is None for actors that are not logged-in users (scripts,
    replay, setup mode); such actors have no shift.
    """

    name: str
    role: Role = Role.ATTENDANT
    user_id: int | None = None

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
