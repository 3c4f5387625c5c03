"""The note added to audit events (the CLI's ``--actor``), apart from :mod:`attendant.core.audit`.

The CLI sets it for every command before it knows whether the command
needs the database; keeping it here lets it do that without importing the
database layer (the console paints before that layer loads: issue 12 item
10). :mod:`attendant.core.audit` reads it and re-exports both functions.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

NOTE: ContextVar[str | None] = ContextVar("attendant_audit_note", default=None)


def note_events(note: str | None) -> Token:
    """Add ``note`` (e.g. the CLI's ``--actor``: which script ran the command) as ``details["note"]`` to
    every event recorded in this context until :func:`end_note`. It never replaces the actor, which is
    always the authenticated user (issue "Trust": the audit actor cannot be chosen)."""
    return NOTE.set(note)


def end_note(token: Token) -> None:
    """Stop adding the note set by :func:`note_events`."""
    NOTE.reset(token)
