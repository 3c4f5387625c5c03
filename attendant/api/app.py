"""The HTTP API (``attendant serve``): FastAPI over the same booth services as the console and the CLI.

Paths (all under ``/v1``; the OpenAPI document at ``/openapi.json``, docs at ``/docs``):

- ``GET /v1/facilities``: every facility of the database.
- ``GET /v1/facilities/{code}/availability``: what ``attendant status --json``
  prints (occupancy, free bays by level and spot type, today's revenue, the
  lanes the open consoles publish), plus ``by_spot_type`` over the whole car park.
- ``POST /v1/facilities/{code}/entries`` and ``/exits``: the fields of
  ``attendant enter`` / ``exit``'s options in, their ``--json`` objects out
  (:mod:`attendant.booth.shapes`). An ``Idempotency-Key`` header (1-48
  printable ASCII characters) becomes the request's idempotency key, scoped
  to the token: a retried POST returns the first result (``replayed``: true,
  status 200) and never opens a second session or takes a second charge.
- ``GET /v1/facilities/{code}/sessions?plate=P`` (the open session of a plate,
  with the plate reader's tolerance) or ``?ticket_no=N`` (any session).
- ``GET /v1/facilities/{code}/reports/{daily|weekly|monthly}?date=D&format=json|csv``.
- ``GET /v1/facilities/{code}/events``: server-sent events, one ``data:`` line of
  JSON per committed change, the objects ``attendant watch --json`` prints.
- ``POST /v1/facilities/{code}/spots/{label}/out-of-service`` and ``/in-service``
  (supervisors).
- ``GET /v1/feeds/datex2-light.xml`` (and ``.json``), ``/v1/feeds/apds.json``, ``/v1/feeds/parkapi.json``: every
  facility's availability in DATEX II Parking Publication Light, APDS and ParkAPI v3
  (:mod:`attendant.api.feeds`), from the same figures as ``attendant status --json``. Public
  availability data: they need no token, even once users exist (nothing in them names a person,
  a plate or money).
- ``GET|POST /v1/facilities/{code}/accounts``, ``POST .../accounts/{ref}/close``,
  ``GET .../accounts/{ref}/statement?month=YYYY-MM`` (as ``attendant account``;
  changes: supervisors).
- ``GET|POST /v1/facilities/{code}/plates``, ``DELETE .../plates/{plate}`` (as
  ``attendant plates``; changes: supervisors).

Authentication: ``Authorization: Bearer <token>`` with a token an admin made
(:mod:`attendant.core.api_tokens`); the request runs as ``api:<name>`` with the
token's role, and the services' own :func:`~attendant.core.auth.authorize`
decides. Without a token, while no user exists (setup mode), a request runs as
the unauthenticated attendant-level actor ``api:anonymous``; once users exist
it gets 401 (except the public feeds under ``/v1/feeds/``, which take no token), and a token whose role is too small 403. Errors are RFC 9457
problem details (:mod:`attendant.api.problems`). Bodies over
:data:`MAX_BODY` bytes get 413. Endpoints that call the services are plain
``def`` functions: FastAPI runs them in its thread pool (the services block
on the database; each facility's services serialise their own calls).
"""


import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from attendant.api.problems import error_problem, problem
from attendant.core.auth import Actor, LoginRequired, Role, authorize, users_exist
from attendant.core.errors import AttendantError, InputError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes: an entry or exit body is a few hundred
ANONYMOUS = "api:anonymous"  # setup mode without a token: an unauthenticated attendant-level actor
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,48}$")  # scoped "api:<token id>:" + key: within MAX_KEY (64)


# ----------------------------------------------------------------------------- bodies
class EntryBody(BaseModel):
    """``attendant enter``'s options as a JSON body."""

    model_config = ConfigDict(extra="forbid")

    plate: str | None = Field(None, max_length=32, description="Licence plate; null: none read or typed.")
    vehicle: str = Field("car", max_length=16, description="motorcycle, car, van, truck or bus.")
    ev: bool = Field(False, description="Electric vehicle asking for a charging bay.")
    accessible: bool = Field(False, description="Blue badge: accessible bay.")
    lane: str | None = Field(None, max_length=16, description="Entry lane code (default: the first entry lane).")
    spot: str | None = Field(None, max_length=16, description="Put the vehicle in this bay.")
    at: str | None = Field(None, max_length=40, description="Entry time, ISO 8601 (no offset: facility time).")
    allow_backdate: str | None = Field(None, max_length=200, description="A supervisor's reason to accept an `at` "
                                       "earlier than the facility's window (audited).")
    reservation: str | None = Field(None, max_length=64, description="Check in this reservation (its code); "
                                    "without it a booked reservation of the plate is checked in by itself.")


class ReservationBody(BaseModel):
    """``attendant reservation create``'s options as a JSON body."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    vehicle: str = Field(max_length=16, description="motorcycle, car, van, truck or bus.")
    from_: str = Field(alias="from", max_length=40, description="Start, ISO 8601 (no offset: facility time).")
    to: str = Field(max_length=40, description="End, ISO 8601 (no offset: facility time).")
    plate: str | None = Field(None, max_length=32)
    spot_type: str | None = Field(None, max_length=16)
    zone: str | None = Field(None, max_length=8)
    spot: str | None = Field(None, max_length=16)
    holder: str | None = Field(None, max_length=120, description="Holder's name (kept encrypted).")
    contact: str | None = Field(None, max_length=200, description="Holder's phone or e-mail (kept encrypted).")
    ev: bool = False
    accessible: bool = False
    prepay: str | None = Field(None, max_length=16, description="cash, card, upi, ewallet or mobile.")


class CancelBody(BaseModel):
    """Why a reservation is cancelled."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=200)


Amount = Annotated[str | int, Field(description="Major units as a decimal string, e.g. \"12.40\" (or an integer).")]


class ExitBody(BaseModel):
    """``attendant exit``'s options as a JSON body."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    code: str | None = Field(None, max_length=100, description="The ticket code (the QR payload); or `lost`.")
    lost: str | None = Field(None, max_length=32, description="Lost ticket: the plate of the vehicle (misreads "
                             "tolerated), priced by the rate plan's lost-ticket rule; instead of `code`.")
    vehicle: str = Field("car", max_length=16, description="With `lost`: the class of a vehicle not found inside.")
    free: bool = Field(False, description="Free exit: waive the balance (supervisors; needs `reason`).")
    reason: str | None = Field(None, max_length=200, description="The exception's reason, CODE or 'CODE: text' "
                               "(`attendant reasons`): with `free` or `lost`.")
    pay: list[str] | None = Field(None, max_length=8, description="METHOD or METHOD=AMOUNT, in order "
                                  "(default card, unless iou or validations).")
    tendered: Amount | None = Field(None, description="Cash handed over (with pay cash).")
    confirm_amount: bool = Field(False, description="Confirm a tendered amount far above the amount due.")
    validations: list[str] = Field(default_factory=list, max_length=8, description="Merchant validation codes.")
    pass_code: str | None = Field(None, alias="pass", max_length=64, description="Pass code (with pay pass).")
    account: str | None = Field(None, max_length=64, description="Account to invoice (with pay account).")
    iou: str | None = Field(None, max_length=200, description="Let the vehicle go with an IOU: the reason.")
    lane: str | None = Field(None, max_length=16, description="Exit lane code (default: the first exit lane).")
    at: str | None = Field(None, max_length=40, description="Exit time, ISO 8601 (no offset: facility time).")
    allow_backdate: str | None = Field(None, max_length=200, description="A supervisor's reason to accept an `at` "
                                       "earlier than the facility's window (audited).")


class Problem(BaseModel):
    """An RFC 9457 problem detail (media type ``application/problem+json``)."""

    type: str = Field(..., description="urn:attendant:problem:<kind>, or about:blank")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class EntryOut(BaseModel):
    """What ``attendant enter --json`` prints (documentation of the response; times ISO 8601)."""

    session_id: int
    ticket_no: str = Field(..., description="As printed, zero-padded.")
    code: str = Field(..., description="The signed ticket code (the QR payload).")
    plate: str | None
    vehicle_class: str
    spot: str
    spot_type: str
    level: str
    entry_at: str
    lane: str | None
    flag: str | None = Field(None, description="Why the attendant should look at this vehicle (deny list, flag).")
    entry_at_local: str
    printed: bool
    print_error: str | None
    gate: str = Field(..., description="opened, fault, no gate, not vended, already entered")
    replayed: bool = Field(..., description="A retried request (same Idempotency-Key): the first entry.")
    journaled: bool = Field(..., description="The database was away: in the booth's journal (session_id 0), "
                                             "replayed into it later.")


class PaymentOut(BaseModel):
    id: int
    method: str
    status: str
    amount: str
    reference: str | None
    message: str | None


class ExitOut(BaseModel):
    """What ``attendant exit --json`` prints (money as decimal strings in major units)."""

    session_id: int
    ticket_no: str
    plate: str | None
    spot: str
    entry_at: str
    exit_at: str
    duration_minutes: int
    currency: str
    amount_due: str
    lines: list[dict]
    method: str | None
    paid: str
    tendered: str | None
    change: str
    payments: list[PaymentOut]
    iou: str
    gate: str = Field(..., description="opened, fault, no gate, not vended, already exited")
    printed: bool
    print_error: str | None
    replayed: bool = Field(..., description="A retried request (same Idempotency-Key): the first exit.")
    journaled: bool = Field(..., description="The database was away: in the booth's journal (session_id 0), "
                                             "replayed into it later.")
    lost_ticket: dict | None = Field(None, description="A lost-ticket exit: {plate, found_by: plate|unknown stay}.")
    free_exit: dict | None = Field(None, description="A free exit: {reason}.")


def _documented(status: int, model: type[BaseModel]) -> dict:
    return {status: {"model": model, "description": model.__doc__.splitlines()[0] if model.__doc__ else ""}}


def _problems(*statuses: int) -> dict:
    return {status: {"model": Problem, "content": {"application/problem+json": {}}} for status in statuses}


class SpotBody(BaseModel):
    """Why a bay goes out of service or back."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=200)


class AccountBody(BaseModel):
    """``attendant account add``'s arguments as a JSON body."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(..., max_length=40)
    holder: str = Field(..., max_length=120)
    limit: Amount | None = Field(None, description="Credit limit in major units (none: no limit).")


class CloseBody(BaseModel):
    """Why an account is closed: ``CODE`` or ``CODE: text``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=240)


class PlateBody(BaseModel):
    """``attendant plates deny|allow add``'s arguments as a JSON body."""

    model_config = ConfigDict(extra="forbid")

    list: Literal["deny", "allow"]
    plate: str = Field(..., max_length=32)
    reason: str = Field(..., max_length=240)
    until: str | None = Field(None, max_length=40, description="ISO 8601 (no offset: facility time).")
    flag: bool = Field(False, description="deny: admit the vehicle flagged instead of refusing it.")


# ----------------------------------------------------------------------------- the facilities served
class Site:
    """The database, the lanes' configuration and one booth per facility (opened on first use).

    The booths' bay indexes follow what other processes commit (consoles, the
    CLI, other servers) through one :class:`~attendant.core.changes.ChangeWatcher`,
    started before the first booth loads, so availability is never stale by
    more than the watcher's second; after a lost feed every booth reloads.
    """

    def __init__(self, engine: Engine, config, *, secret: bytes | None = None) -> None:
        self.engine = engine
        self.config = config
        self.secret = secret
        self._booths: dict[str, object] = {}
        self._lock = threading.Lock()
        self._watcher = None

    def _follow(self) -> None:
        """Start the change watcher (once) and wait until it follows the log: booths load after its cursor."""
        from attendant.core.changes import ChangeWatcher

        live = threading.Event()

        def state(text: str) -> None:
            if text == "live":
                live.set()

        self._watcher = ChangeWatcher(self.engine, self._changed, on_resync=self._reload, on_state=state).start()
        live.wait(10)

    def _open(self) -> list:
        with self._lock:
            return list(self._booths.values())

    def _changed(self, changes) -> None:  # the watcher's thread
        for booth in self._open():
            booth.service.apply_changes(changes)

    def _reload(self) -> None:  # the watcher's thread, after a lost feed
        for booth in self._open():
            booth.service.refresh()

    def booth(self, code: str):
        """The :class:`~attendant.booth.Booth` of facility ``code``. Raises NotFound."""
        from attendant.core.facilities import get_facility

        key = code.strip().upper()
        with self._lock:
            booth = self._booths.get(key)
            if booth is None:
                from attendant.booth.wiring import open_booth

                if self._watcher is None:
                    self._follow()
                info = get_facility(self.engine, key)  # NotFound with the codes' hint
                booth = self._booths[key] = open_booth(self.engine, self.config, facility_code=info.code)
            return booth

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        with self._lock:
            for booth in self._booths.values():
                booth.close()
            self._booths.clear()


def _scoped_key(actor: Actor | str, key: str | None) -> str | None:
    """The ``Idempotency-Key`` header as the services' key: checked, and scoped to the token (or setup mode)."""
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise InputError("Idempotency-Key: 1 to 48 printable ASCII characters, no spaces")
    owner = actor.token_id if isinstance(actor, Actor) and actor.token_id is not None else "anon"
    return f"api:{owner}:{key}"


class BodyLimit:
    """ASGI middleware: a request body over ``max_body`` bytes gets a 413 problem. One whose
    ``Content-Length`` says so is answered at once, before its body is read; one sent in chunks is
    counted as it arrives and stopped at the first byte over (raised as an HTTP 413 into the app, so the
    endpoint never sees it and the problem handler answers)."""

    def __init__(self, app, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    #: Bytes of a refused body read and thrown away before the 413 goes out. A server that answers and
    #: closes while the client is still sending makes the kernel reset the connection, and the client
    #: then loses the answer (seen in CI: "Connection reset by peer" instead of the 413). A body beyond
    #: this is not read: the 413 is sent and the connection closed, and such a client may see the reset.
    DRAIN_MAX = 1024 * 1024

    def _problem(self, scope):
        return problem(413, f"the request body is larger than {self.max_body} bytes", instance=scope.get("path"),
                       headers={"Connection": "close"})

    async def _refuse(self, scope, receive, send, more: bool) -> None:
        """Drain what is left of the refused body (up to :data:`DRAIN_MAX`), then answer 413."""
        drained = 0
        while more and drained <= self.DRAIN_MAX:
            message = await receive()
            if message["type"] != "http.request":
                break
            drained += len(message.get("body", b""))
            more = message.get("more_body", False)
        await self._problem(scope)(scope, receive, send)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import Headers

        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await self._refuse(scope, receive, send, more=True)
            return
        total = 0
        started = False
        more_left = False

        async def counted():
            nonlocal total, more_left
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.max_body:
                    more_left = message.get("more_body", False)
                    raise StarletteHTTPException(413)
            return message

        async def tracked(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except StarletteHTTPException as exc:
            if started or exc.status_code != 413:
                raise
            await self._refuse(scope, receive, send, more=more_left)


# ----------------------------------------------------------------------------- the app
def create_app(engine: Engine, config=None, *, secret: bytes | None = None, max_body: int = MAX_BODY) -> FastAPI:
    """The API over ``engine``'s facilities with ``config``'s lanes (a
    :class:`~hardware.config.ConsoleConfig`; default: the default lanes with stand-in devices).
    ``secret``: the installation secret the tokens are hashed with (default:
    :func:`attendant.core.api_tokens.site_secret`, read once)."""
    if config is None:
        from hardware.config import default_config

        config = default_config()
    if secret is None:  # read once: every request's token is hashed with it
        from attendant.core.api_tokens import site_secret

        secret = site_secret()
    site = Site(engine, config, secret=secret)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        site.close()

    app = FastAPI(
        title="Attendant console API",
        version="1",
        summary="Entries, exits, availability, sessions, reports and live changes of the car parks.",
        lifespan=lifespan,
    )
    app.state.site = site
    app.add_middleware(BodyLimit, max_body=max_body)

    # ------------------------------------------------------------------ errors
    @app.exception_handler(AttendantError)
    async def _attendant_error(request: Request, exc: AttendantError):
        return error_problem(exc, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")} for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem(400, "the body is not valid JSON", slug="input", title="Bad input",
                           instance=request.url.path)
        detail = "; ".join(f"{'.'.join(e['loc'][1:] or e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, detail, slug="input", title="Bad input", instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 413:
            detail = f"the request body is larger than {max_body} bytes"
        return problem(exc.status_code, detail, instance=request.url.path, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        _log_unexpected(request, exc)
        return problem(500, "unexpected error: the server logged it", slug="unexpected", title="Unexpected error",
                       instance=request.url.path)

    # ------------------------------------------------------------------ who is asking
    bearer = HTTPBearer(auto_error=False, description="An API token: `attendant token create --role R --name N`.")

    def caller(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Actor | str:
        """The actor of the request: the token's, or (setup mode, no token) ``api:anonymous``."""
        if credentials is None and request.headers.get("authorization"):
            raise LoginRequired("use Authorization: Bearer <API token>")
        if credentials is not None:
            from attendant.core.api_tokens import authenticate

            return authenticate(engine, credentials.credentials, secret=site.secret)
        try:
            anyone = users_exist(engine)
        except Exception as exc:
            from attendant.core.journal import database_unreachable

            if not database_unreachable(exc):
                raise
            anyone = False  # the database is away: the booth's offline lanes decide from their snapshot
        if anyone:
            raise LoginRequired("this API needs a token (Authorization: Bearer <token>): an admin creates one "
                                "with `attendant token create --role ROLE --name NAME`")
        return ANONYMOUS

    Caller = Annotated[Actor | str, Depends(caller)]
    Code = Annotated[str, Path(description="Facility code, e.g. CHS.", max_length=8)]
    IdemKey = Annotated[str | None, Header(alias="Idempotency-Key",
                                           description="Retry key: the same key returns the first result.")]

    def reader(actor: Actor | str, what: str) -> Actor | str:
        authorize(engine, actor, Role.ATTENDANT, what)  # once users exist: a valid token of any role
        return actor

    v1 = APIRouter(prefix="/v1")
    facilities = APIRouter(prefix="/facilities", tags=["facilities"],
                           responses=_problems(400, 401, 403, 404, 409, 413, 422))

    @facilities.get("", summary="Every facility in the database")
    def list_all(actor: Caller) -> dict:
        from attendant.core.facilities import list_facilities

        reader(actor, "reading the facilities")
        return {"facilities": [
            {"code": f.code, "name": f.name, "address": f.address, "timezone": f.timezone, "currency": f.currency,
             "capacity": f.capacity, "availability": f"/v1/facilities/{f.code}/availability"}
            for f in list_facilities(engine)]}

    @facilities.get("/{code}/availability", summary="Occupancy and free bays (as `attendant status --json`)")
    def availability(code: Code, actor: Caller) -> dict:
        from attendant.booth.shapes import status_json

        reader(actor, "reading availability")
        data = status_json(site.booth(code).service)
        data.pop("_revenue")
        by_type: dict[str, dict[str, int]] = {}
        for level in data["levels"]:
            for spot_type, figures in level["by_type"].items():
                total = by_type.setdefault(spot_type, {"available": 0, "capacity": 0})
                total["available"] += figures["available"]
                total["capacity"] += figures["capacity"]
        data["by_spot_type"] = dict(sorted(by_type.items()))
        return data

    @facilities.post("/{code}/entries", status_code=201, response_model=None,
                     responses={**_documented(201, EntryOut), **_documented(200, EntryOut)}, summary="Admit a vehicle (as `attendant enter --json`)")
    def enter(code: Code, body: EntryBody, actor: Caller, response: Response, idempotency_key: IdemKey = None):
        from attendant.booth.shapes import entry_json, entry_request

        booth = site.booth(code)
        request = entry_request(booth, plate=body.plate, vehicle=body.vehicle, ev=body.ev,
                                accessible=body.accessible, lane=body.lane, spot=body.spot, at=body.at,
                                idempotency_key=_scoped_key(actor, idempotency_key),
                                backdate_reason=body.allow_backdate, option_names=False,
                                reservation=body.reservation)
        outcome = booth.enter(request, actor=actor)
        data = entry_json(outcome, booth.service)
        if outcome.entry.replayed:
            response.status_code = 200
        response.headers["Location"] = f"/v1/facilities/{booth.facility.code}/sessions?ticket_no={data['ticket_no']}"
        return data

    @facilities.post("/{code}/exits", response_model=None, responses={**_problems(402), **_documented(200, ExitOut)},
                     summary="Take payment and let a vehicle out (as `attendant exit --json`)")
    def exit_(code: Code, body: ExitBody, actor: Caller, idempotency_key: IdemKey = None):
        from attendant.booth.shapes import exit_json, exit_request, take_exit

        if (body.code is None) == (body.lost is None):
            raise InputError("give code, or lost (a plate) for a driver without a ticket")
        booth = site.booth(code)
        request = exit_request(booth, code=body.code or "-", pay=body.pay,
                               tendered=None if body.tendered is None else str(body.tendered),
                               validations=body.validations, pass_code=body.pass_code, account=body.account,
                               iou=body.iou, lane=body.lane, at=body.at,
                               idempotency_key=_scoped_key(actor, idempotency_key),
                               backdate_reason=body.allow_backdate, option_names=False,
                               confirm_amount=body.confirm_amount, free=body.free, reason=body.reason)
        outcome, found_by = take_exit(booth, request, actor=actor, lost=body.lost, vehicle=body.vehicle)
        return exit_json(outcome, booth.facility.currency, lost=body.lost, found_by=found_by,
                         free_reason=body.reason if body.free else None)

    @facilities.get("/{code}/sessions", summary="Find a session by plate (open) or ticket number (any)")
    def sessions(code: Code, actor: Caller,
                 plate: Annotated[str | None, Query(max_length=32)] = None,
                 ticket_no: Annotated[str | None, Query(max_length=12)] = None) -> dict:
        from attendant.booth.shapes import session_json

        reader(actor, "looking up sessions")
        if (plate is None) == (ticket_no is None):
            raise InputError("give one of plate or ticket_no")
        service = site.booth(code).service
        if plate is not None:
            view = service.find_by_plate(plate)
        else:
            view = service.lookup(service.ticket(ticket_no).code)
        return {"sessions": [session_json(view, service)]}

    @facilities.get("/{code}/reports/{period}", summary="Revenue, traffic and occupancy of a day, week or month",
                    responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
    def report(code: Code, period: Literal["daily", "weekly", "monthly"], actor: Caller,
               date_: Annotated[str | None, Query(alias="date", description="Facility-local YYYY-MM-DD "
                                                  "(default today).")] = None,
               format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json"):
        from attendant.core.report_layout import json_dict, render_report

        reader(actor, "reading reports")
        try:
            day = date.fromisoformat(date_) if date_ else None
        except ValueError:
            raise InputError(f"not a date: {date_!r} (YYYY-MM-DD)") from None
        result = site.booth(code).report(period, day)
        if format_ == "csv":
            return PlainTextResponse(render_report(result, "csv"), media_type="text/csv; charset=utf-8")
        return JSONResponse(json_dict(result))

    @facilities.post("/{code}/spots/{label}/out-of-service", summary="Take a free bay out of service (supervisors)")
    def spot_out(code: Code, label: Annotated[str, Path(max_length=16)], body: SpotBody, actor: Caller) -> dict:
        status = site.booth(code).service.set_spot_in_service(label, False, actor=actor, reason=body.reason)
        return {"spot": label.strip().upper(), "status": status.value, "reason": body.reason}

    @facilities.post("/{code}/spots/{label}/in-service", summary="Put a bay back into use (supervisors)")
    def spot_in(code: Code, label: Annotated[str, Path(max_length=16)], body: SpotBody, actor: Caller) -> dict:
        status = site.booth(code).service.set_spot_in_service(label, True, actor=actor, reason=body.reason)
        return {"spot": label.strip().upper(), "status": status.value, "reason": body.reason}

    @facilities.get("/{code}/accounts", summary="Every account with its balance (as `attendant account list`)")
    def accounts(code: Code, actor: Caller) -> list:
        service = site.booth(code).service
        reader(actor, "reading the accounts")
        return [a.to_json_dict(service.facility.currency) for a in service.accounts()]

    @facilities.post("/{code}/accounts", status_code=201, summary="Open an account (supervisors)")
    def account_add(code: Code, body: AccountBody, actor: Caller) -> dict:
        from attendant.booth.shapes import _money

        service = site.booth(code).service
        cur = service.facility.currency
        account = service.add_account(body.reference, body.holder, actor=actor,
                                      credit_limit=_money(body.limit, cur, "limit", False))
        return account.to_json_dict(cur)

    @facilities.post("/{code}/accounts/{reference}/close", summary="Close an account (supervisors)")
    def account_close(code: Code, reference: Annotated[str, Path(max_length=40)], body: CloseBody,
                      actor: Caller) -> dict:
        service = site.booth(code).service
        return service.close_account(reference, body.reason, actor=actor).to_json_dict(service.facility.currency)

    @facilities.get("/{code}/accounts/{reference}/statement",
                    summary="An account's month (as `attendant account statement --format json`)")
    def account_statement(code: Code, reference: Annotated[str, Path(max_length=40)], actor: Caller,
                          month: Annotated[str, Query(max_length=7)]) -> dict:
        from attendant.core.accounts import statement_json

        service = site.booth(code).service
        reader(actor, "reading an account statement")
        return statement_json(service.account_statement(reference, month), service.facility.currency,
                              service.local)

    @facilities.get("/{code}/plates", summary="The live deny and allow entries (as `attendant plates list`)")
    def plates(code: Code, actor: Caller) -> list:
        service = site.booth(code).service
        reader(actor, "reading the plate lists")
        return [e.to_json_dict() for e in service.plate_entries()]

    @facilities.post("/{code}/plates", status_code=201, summary="Put a plate on the deny or allow list (supervisors)")
    def plate_add(code: Code, body: PlateBody, actor: Caller) -> dict:
        from attendant.booth.shapes import _when

        service = site.booth(code).service
        action = ("flag" if body.flag else "refuse") if body.list == "deny" else "free"
        return service.add_plate_entry(body.list, body.plate, body.reason, actor=actor, action=action,
                                       until=_when(body.until, service.tz, "until", False)).to_json_dict()

    @facilities.delete("/{code}/plates/{plate}", summary="Take a plate off its list (supervisors)")
    def plate_remove(code: Code, plate: Annotated[str, Path(max_length=32)], actor: Caller) -> dict:
        return site.booth(code).service.remove_plate_entry(plate, actor=actor).to_json_dict()

    @facilities.post("/{code}/reservations", status_code=201,
                     summary="Book a window (as `attendant reservation create --json`)")
    def book(code: Code, body: ReservationBody, actor: Caller, idempotency_key: IdemKey = None) -> dict:
        from attendant.cli.common import parse_when
        from attendant.core.reservations import ReservationRequest

        service = site.booth(code).service
        request = ReservationRequest(
            body.vehicle, parse_when(body.from_, service.tz, "from"), parse_when(body.to, service.tz, "to"),
            plate=body.plate, spot_type=body.spot_type, zone=body.zone, spot=body.spot, holder_name=body.holder,
            holder_contact=body.contact, ev=body.ev, accessible=body.accessible, prepay=body.prepay,
            idempotency_key=_scoped_key(actor, idempotency_key))
        return service.book(request, actor=actor).to_json_dict(service.tz)

    @facilities.get("/{code}/reservations", summary="Reservations (as `attendant reservation list --json`)")
    def reservations(code: Code, actor: Caller,
                     date_: Annotated[str | None, Query(alias="date", description="Facility-local YYYY-MM-DD.")] = None,
                     status: Annotated[str | None, Query(max_length=12)] = None) -> dict:
        reader(actor, "reading reservations")
        try:
            day = date.fromisoformat(date_) if date_ else None
        except ValueError:
            raise InputError(f"not a date: {date_!r} (YYYY-MM-DD)") from None
        service = site.booth(code).service
        return {"reservations": [r.to_json_dict(service.tz) for r in service.reservations(day=day, status=status)]}

    @facilities.get("/{code}/reservations/{reservation}", summary="One reservation, by its code")
    def reservation(code: Code, reservation: Annotated[str, Path(max_length=64)], actor: Caller) -> dict:
        reader(actor, "reading a reservation")
        service = site.booth(code).service
        return service.reservation(reservation).to_json_dict(service.tz)

    @facilities.post("/{code}/reservations/{reservation}/cancel", summary="Cancel a booked reservation")
    def cancel(code: Code, reservation: Annotated[str, Path(max_length=64)], body: CancelBody,
               actor: Caller) -> dict:
        service = site.booth(code).service
        return service.cancel_reservation(reservation, reason=body.reason, actor=actor).to_json_dict(service.tz)

    def followed(code: Code, actor: Caller):
        """The facility whose changes an event stream follows: checked (token, facility) before it starts."""
        reader(actor, "following live changes")
        return site.booth(code).facility

    @facilities.get("/{code}/events", response_class=EventSourceResponse,
                    summary="Live changes as server-sent events (as `attendant watch --json`)")
    async def events(facility: Annotated[object, Depends(followed)]) -> AsyncIterator[ServerSentEvent]:
        from starlette.concurrency import run_in_threadpool

        from attendant.booth.shapes import change_json
        from attendant.core.changes import ChangeWatcher

        loop = asyncio.get_running_loop()
        changes: asyncio.Queue = asyncio.Queue()

        def deliver(batch) -> None:  # on the watcher's thread
            loop.call_soon_threadsafe(changes.put_nowait, batch)

        live = asyncio.Event()

        def state(text: str) -> None:  # on the watcher's thread
            if text == "live":
                loop.call_soon_threadsafe(live.set)

        watcher = ChangeWatcher(engine, deliver, facility_id=facility.id, on_state=state)
        await run_in_threadpool(watcher.start)
        try:
            await asyncio.wait_for(live.wait(), 30)  # its cursor is set: every change from here on is sent
            yield ServerSentEvent(comment="watching", retry=2000)
            while True:
                batch = await changes.get()
                for change in batch:
                    yield ServerSentEvent(data=change_json(change, facility), id=str(change.id))
        finally:
            watcher.stop(timeout=0)  # the thread ends at its next look; never block the event loop

    v1.include_router(facilities)

    # ------------------------------------------------------------------ availability feeds (public)
    feeds = APIRouter(prefix="/feeds", tags=["feeds"], responses=_problems(404, 503))

    def feed(name: str) -> Response:
        """Feed ``name`` of every facility (:mod:`attendant.api.feeds`), from each booth's live figures."""
        from attendant.api.feeds import render, snapshot
        from attendant.core.facilities import list_facilities

        snaps = [snapshot(site.booth(f.code).service) for f in list_facilities(engine)]
        body, media = render(name, snaps)
        charset = "; charset=utf-8"
        return Response(body, media_type=media + charset, headers={"Cache-Control": "no-cache"})

    @feeds.get("/datex2-light.xml", summary="DATEX II Parking Publication Light (XML), no token needed",
               response_class=Response, responses={200: {"content": {"application/xml": {}}}})
    def datex2_light() -> Response:
        return feed("datex2")

    @feeds.get("/datex2-light.json", summary="DATEX II Parking Publication Light (JSON encoding), no token needed",
               response_class=Response, responses={200: {"content": {"application/json": {}}}})
    def datex2_light_json() -> Response:
        return feed("datex2-json")

    @feeds.get("/apds.json", summary="APDS places with supply and demand (JSON), no token needed",
               response_class=Response, responses={200: {"content": {"application/json": {}}}})
    def apds_feed() -> Response:
        return feed("apds")

    @feeds.get("/parkapi.json", summary="ParkAPI v3 parking sites (JSON), no token needed",
               response_class=Response, responses={200: {"content": {"application/json": {}}}})
    def parkapi_feed() -> Response:
        return feed("parkapi")

    v1.include_router(feeds)
    app.include_router(v1)
    return app


def _log_unexpected(request: Request, exc: Exception) -> None:
    """The traceback of an unexpected failure into ``attendant-errors.log`` (never into the response)."""
    import traceback
    from datetime import datetime

    try:
        from attendant.paths import data_dir

        with (data_dir() / "attendant-errors.log").open("a") as handle:
            handle.write(f"--- {datetime.now().isoformat()} {request.method} {request.url.path}\n"
                         f"{''.join(traceback.format_exception(exc))}\n")
    except OSError:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
