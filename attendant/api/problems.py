"""Errors as RFC 9457 problem details (``application/problem+json``): ``type``, ``title``, ``status``,
``detail`` (and ``instance``, the request path).

The services' errors (:mod:`attendant.core.errors`, :mod:`attendant.core.auth`)
map to statuses in one table, :func:`attendant.booth.shapes.error_kind` (``attendant batch``
names the same kinds): a problem's ``detail`` is the same one-line message
the CLI prints after ``attendant:``; nothing else of the failure (no SQL, no
parameters, no traceback) leaves the server. ``type`` is
``urn:attendant:problem:<kind>`` for the services' errors and ``about:blank``
for plain HTTP ones (an unknown path, a body too large), whose ``title`` is
the status phrase (RFC 9457 section 4.2.1).
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi.responses import JSONResponse

from attendant.booth.shapes import error_kind
from attendant.core.errors import AttendantError

MEDIA_TYPE = "application/problem+json"


def problem(status: int, detail: str | None, *, slug: str | None = None, title: str | None = None,
            instance: str | None = None, headers: dict | None = None, **extra) -> JSONResponse:
    """A problem+json response. ``slug`` None: ``type`` ``about:blank`` with the status phrase as title."""
    body = {
        "type": f"urn:attendant:problem:{slug}" if slug else "about:blank",
        "title": title if slug and title else HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def error_problem(error: AttendantError, instance: str | None = None) -> JSONResponse:
    """The problem of a services' error: its kind's status, the error's message as ``detail``; a 401
    carries ``WWW-Authenticate: Bearer`` (RFC 6750)."""
    kind = error_kind(error)
    headers = {"WWW-Authenticate": 'Bearer realm="attendant"'} if kind.status == 401 else None
    return problem(kind.status, str(error), slug=kind.slug, title=kind.title, instance=instance, headers=headers)
