"""API tokens: the credentials of the HTTP API's clients (integrators, display boards, scripts).

An admin creates a token with a name and a role (``attendant token create
--role R --name N``); its text is shown once and never stored: the database
keeps the HMAC-SHA256 of the text under a key derived from the installation
secret (kept out of the database, :func:`site_secret`), so a copy of the database
alone neither reveals a token nor lets one be checked offline. A token is
256 random bits (``att_`` + URL-safe base64), so one keyed hash, looked up by
a unique index, is enough: no slow password hash is needed on every request.

:func:`authenticate` turns a presented token into an
:class:`~attendant.core.auth.Actor` named ``api:<name>`` with the token's
role and ``token_id``: the services' own :func:`~attendant.core.auth.authorize`
then decides, as for a logged-in user. Tokens are revoked, never deleted, and a
name is used once, so ``api:<name>`` in the audit log always means one token.
Creating and revoking are admin operations, audited (``api_token.create``,
``api_token.revoke``; the hash is never logged).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from attendant.core import audit
from attendant.core.auth import Actor, Role, authorize
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound, Refused
from db.models import ApiToken

T = ApiToken.__table__
PREFIX = "att_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
_KEY_LABEL = b"attendant api token v1"


class TokenInvalid(Refused):
    """A token that is unknown, revoked or malformed (the API answers 401)."""


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as ``token list`` shows it: never its text nor its hash."""

    id: int
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def site_secret() -> bytes:
    """The installation's secret the token hashes are keyed from (a file outside the database, shared by
    every booth and server of the site): the ticket secret of :func:`attendant.paths.load_or_create_secret`,
    or, where the site's keys live in :mod:`attendant.keyfiles`, its blind-index key (never rotated, so
    tokens outlive a rotation of the ticket keys)."""
    from attendant import paths

    loader = getattr(paths, "load_or_create_secret", None)
    if loader is not None:
        return loader()
    from importlib import import_module

    return import_module("attendant.keyfiles").load_data_keys().index_key


def _key(secret: bytes | None) -> bytes:
    return hmac.new(site_secret() if secret is None else secret, _KEY_LABEL, hashlib.sha256).digest()


def token_hash(token: str, secret: bytes | None = None) -> str:
    """The hex HMAC-SHA256 of ``token`` as stored (key: derived from the installation ``secret``)."""
    return hmac.new(_key(secret), token.encode("utf-8"), hashlib.sha256).hexdigest()


def normalize_name(name: str) -> str:
    """A token name: 1-32 of a-z, 0-9, ``.``, ``_``, ``-`` (lower-cased). Raises :class:`InputError`."""
    text = (name or "").strip().lower()
    if not _NAME.match(text):
        raise InputError(f"not a token name: {name!r} (1 to 32 of a-z, 0-9, '.', '_', '-'; a letter or digit first)")
    return text


def create_token(engine: Engine, name: str, role: Role | str, *, actor: Actor | str,
                 secret: bytes | None = None, now: datetime | None = None) -> tuple[TokenView, str]:
    """Create a token; returns its view and its text (shown once, stored only as a keyed hash).

    Admins only (:func:`authorize`). Raises :class:`InputError` (bad name or
    role, a name used before, even by a revoked token),
    :class:`~attendant.core.auth.PermissionDenied`, :class:`~attendant.core.auth.LoginRequired`.
    """
    who = authorize(engine, actor, Role.ADMIN, "creating an API token")
    name = normalize_name(name)
    try:
        role = Role(str(role).strip().lower())
    except ValueError:
        raise InputError(f"unknown role {role!r} (one of: {', '.join(r.value for r in Role)})") from None
    text = PREFIX + secrets.token_urlsafe(32)
    when = now or utc_now()
    try:
        with engine.begin() as conn:
            if conn.execute(select(T.c.id).where(T.c.name == name)).first() is not None:
                raise InputError(f"a token named {name!r} exists or existed: names are never reused")
            token_id = conn.execute(insert(T).values(
                name=name, role=role.value, token_hash=token_hash(text, secret), created_at=when,
                created_by=who.name[:80], revoked_at=None).returning(T.c.id)).scalar_one()
            audit.record(conn, facility_id=None, actor=who.name, action="api_token.create", entity="api_token",
                         entity_id=token_id, details={"name": name, "role": role.value}, now=when)
    except IntegrityError:  # a concurrent create of the same name
        raise InputError(f"a token named {name!r} exists or existed: names are never reused") from None
    return TokenView(token_id, name, role.value, when, who.name[:80], None), text


def list_tokens(engine: Engine, *, actor: Actor | str) -> list[TokenView]:
    """Every token, active and revoked, by name (admins only; never the text or hash)."""
    authorize(engine, actor, Role.ADMIN, "listing API tokens")
    with engine.connect().execution_options(readonly=True) as conn:
        rows = conn.execute(select(T.c.id, T.c.name, T.c.role, T.c.created_at, T.c.created_by, T.c.revoked_at)
                            .order_by(T.c.name)).all()
    return [TokenView(*row) for row in rows]


def revoke_token(engine: Engine, name: str, *, actor: Actor | str, now: datetime | None = None) -> TokenView:
    """Revoke the token ``name``: from the next request on it is refused (admins only; audited).

    Raises :class:`NotFound`, :class:`Refused` (already revoked), :class:`InputError`.
    """
    who = authorize(engine, actor, Role.ADMIN, "revoking an API token")
    name = normalize_name(name)
    when = now or utc_now()
    with engine.begin() as conn:
        row = conn.execute(select(T).where(T.c.name == name).with_for_update()).first()
        if row is None:
            raise NotFound(f"no API token named {name!r}")
        if row.revoked_at is not None:
            raise Refused(f"API token {name!r} was already revoked")
        conn.execute(update(T).where(T.c.id == row.id).values(revoked_at=when))
        audit.record(conn, facility_id=None, actor=who.name, action="api_token.revoke", entity="api_token",
                     entity_id=row.id, details={"name": name, "role": row.role}, now=when)
    return TokenView(row.id, row.name, row.role, row.created_at, row.created_by, when)


def authenticate(engine: Engine, token: str, *, secret: bytes | None = None) -> Actor:
    """The actor of an active token: ``Actor("api:<name>", role, token_id=id)``.

    Raises :class:`TokenInvalid` for an unknown, revoked or malformed token
    (one message for all three: a guess learns nothing).
    """
    text = (token or "").strip()
    if not text.startswith(PREFIX) or len(text) > 100:
        raise TokenInvalid("not a valid API token")
    with engine.connect().execution_options(readonly=True) as conn:
        row = conn.execute(select(T.c.id, T.c.name, T.c.role, T.c.revoked_at)
                           .where(T.c.token_hash == token_hash(text, secret))).first()
    if row is None or row.revoked_at is not None:
        raise TokenInvalid("not a valid API token (unknown or revoked)")
    return Actor(f"api:{row.name}", Role(row.role), token_id=row.id)
