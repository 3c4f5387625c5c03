"""What the JSON front ends send to the booth and get back: one shaping for the CLI's ``--json``,
``attendant batch`` and the HTTP API (``attendant serve``), so the three never drift apart.

- Requests from option values: :func:`entry_request`, :func:`exit_request`
  (``--pay METHOD[=AMOUNT]`` items, ``--tendered``, ``--validation``,
  ``--pass``, ``--account``, ``--iou``, ``--at``), the same parsing and the same
  messages whichever front end typed them (``option_names`` False names the
  fields without the ``--``, for JSON bodies).
- Errors: :func:`error_kind` names each family of the services' errors with
  its HTTP status (the API's problem details, ``attendant batch``'s error lines).
- Results as JSON objects: :func:`entry_json` (``enter --json``),
  :func:`exit_json` (``exit --json``), :func:`status_json` (``status
  --json``), :func:`session_json` (``find --json`` and the API's session
  lookup), :func:`change_json` (``watch --json`` and the API's event stream).

Money out is decimal strings in major units of the facility currency, times
ISO 8601 (UTC, plus facility-local where named ``*_local``). Only the standard
library is imported here; the services load when a function first needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def _name(option: str, option_names: bool) -> str:
    return f"--{option}" if option_names else option


def _when(text, tz, option: str, option_names: bool):
    from attendant.cli.common import (
        parse_when,  # the one reading of a typed time (facility time if naive)
    )

    return parse_when(text, tz, _name(option, option_names))


def _money(text, currency: str, option: str, option_names: bool) -> int | None:
    from attendant.cli.common import parse_money

    return parse_money(None if text is None else str(text), currency, _name(option, option_names))


def entry_request(booth, *, plate: str | None, vehicle: str = "car", ev: bool = False, accessible: bool = False,
                  lane: str | None = None, spot: str | None = None, at: str | None = None,
                  idempotency_key: str | None = None, backdate_reason: str | None = None, option_names: bool = True,
                  reservation: str | None = None):
    """The :class:`~attendant.core.requests.EntryRequest` of ``enter``'s options (``at``: ISO 8601 text,
    facility time when it has no offset; ``backdate_reason``: ``--allow-backdate``; ``reservation``: the code of
    a reservation to check in, ``--reservation``). Raises
    :class:`~attendant.core.errors.InputError`."""
    from attendant.core.requests import EntryRequest

    return EntryRequest(plate, vehicle, ev=bool(ev), accessible=bool(accessible), lane=lane, spot=spot,
                        at=_when(at, booth.service.tz, "at", option_names), idempotency_key=idempotency_key,
                        backdate_reason=backdate_reason, reservation=reservation)


def parse_tenders(items: Sequence[str], tendered: str | None, currency: str, *, pass_code: str | None = None,
                  account: str | None = None, option_names: bool = True, confirm_amount: bool = False) -> tuple:
    """``--pay`` items ``METHOD`` or ``METHOD=AMOUNT`` as tenders, in order.

    ``--tendered`` goes with the last cash tender (``--confirm-amount``
    confirms it when far above the amount due); ``--pass`` and
    ``--account`` are the references of the pass and account tenders.
    Raises :class:`InputError` for an unknown method or a bad amount.
    """
    from attendant.core.errors import InputError
    from attendant.core.payment_methods import spec as method_spec
    from attendant.core.requests import Tender

    parts = []
    for item in items:
        if not isinstance(item, str):
            raise InputError(f"{_name('pay', option_names)}: a method name, or METHOD=AMOUNT, not {item!r}")
        method, _, amount = item.partition("=")
        parts.append((method_spec(method).method, _money(amount, currency, "pay", option_names) if amount else None))
    cash = [i for i, (method, _a) in enumerate(parts) if method_spec(method).takes_tendered]
    if tendered is not None and not cash:
        raise InputError(f"{_name('tendered', option_names)} goes with {_name('pay', option_names)} cash")
    references = {"pass": pass_code, "account": account}
    return tuple(
        Tender(method, amount, _money(tendered, currency, "tendered", option_names) if cash and i == cash[-1] else None,
               references.get(method.value), confirm_amount=bool(confirm_amount) and cash and i == cash[-1])
        for i, (method, amount) in enumerate(parts)
    )


def exit_request(booth, *, code: str, pay: Sequence[str] | None = None, tendered: str | None = None,
                 validations: Sequence[str] | None = None, pass_code: str | None = None,
                 account: str | None = None, iou: str | None = None, lane: str | None = None,
                 at: str | None = None, idempotency_key: str | None = None, backdate_reason: str | None = None,
                 option_names: bool = True, confirm_amount: bool = False, free: bool = False,
                 reason: str | None = None):
    """The :class:`~attendant.core.requests.ExitRequest` of ``exit``'s options. With no ``pay`` the
    vehicle pays by card, unless an IOU reason, a validation or a free exit is given. ``free``: waive the
    balance (a supervisor; ``reason`` required, checked by the services); ``reason``: the exception's reason,
    ``CODE`` or ``CODE: text`` of the booth's codes (:mod:`attendant.core.exceptions`), checked here before
    anything is done. Raises :class:`~attendant.core.errors.InputError`."""
    from attendant.core.requests import ExitRequest

    if reason is not None:
        booth.service.parse_reason(reason)  # a reason not in the booth's codes is refused before anything
    items = list(pay or ([] if iou or validations or free else ["card"]))
    return ExitRequest(
        code,
        parse_tenders(items, tendered, booth.facility.currency, pass_code=pass_code, account=account,
                      option_names=option_names, confirm_amount=confirm_amount),
        validations=tuple(validations or ()),
        iou_reason=iou,
        lane=lane,
        at=_when(at, booth.service.tz, "at", option_names),
        idempotency_key=idempotency_key,
        backdate_reason=backdate_reason,
        free=bool(free),
        reason=reason,
    )


def take_exit(booth, request, *, actor, lost: str | None = None, vehicle: str = "car"):
    """Run ``request`` at ``booth``: an exit by ticket code, or with ``lost`` (a plate) the lost-ticket exit of
    the vehicle found by that plate (misreads tolerated; none found: the fee for an unknown stay of a
    ``vehicle``). Returns ``(outcome, found_by)``: ``found_by`` None for an exit by code, else how the lost
    ticket's vehicle was found (``plate`` or ``unknown stay``). Raises what the services raise."""
    if lost is not None:
        return booth.lost_ticket_exit(lost, request, actor=actor, vehicle_class=vehicle)
    return booth.exit(request, actor=actor), None


def entry_json(outcome, service) -> dict:
    """The ``enter --json`` object of an :class:`~attendant.booth.EntryOutcome`: the entry's fields
    (:meth:`~attendant.core.views.EntryResult.to_json_dict`), ``entry_at_local``, ``printed``,
    ``print_error``, ``gate``, ``replayed`` (a retried request: the first entry, nothing done) and
    ``journaled`` (the database was away: in the booth's journal, replayed later; ``session_id`` 0)."""
    e = outcome.entry
    data = e.to_json_dict()
    data.update(
        entry_at_local=service.local(e.entry_at).isoformat(),
        printed=outcome.printed,
        print_error=outcome.print_error,
        gate=outcome.gate.value,
        replayed=e.replayed,
        journaled=outcome.journaled,
    )
    return data


def exit_json(outcome, currency: str, *, lost: str | None = None, found_by: str | None = None,
              free_reason: str | None = None) -> dict:
    """The ``exit --json`` object of an :class:`~attendant.booth.ExitOutcome`; a lost-ticket exit
    (:func:`take_exit`) has ``lost_ticket: {plate, found_by}``, a free exit ``free_exit: {reason}`` (both None
    otherwise).

    A :class:`~attendant.core.views.PartPayment` (a balance remains: the
    vehicle waits; the payments taken stay recorded) raises
    :class:`~attendant.core.errors.PaymentError` saying what is still due.
    """
    from attendant.core.money import to_major_str
    from attendant.core.views import PartPayment

    if isinstance(outcome, PartPayment):
        from attendant.core.errors import PaymentError
        from attendant.core.money import format_money

        raise PaymentError(f"{format_money(outcome.checkout.balance, currency)} is still due: take payment or "
                           "let go with an IOU")
    r = outcome.exit

    def money(v):
        return to_major_str(v, currency)

    data = {
        "session_id": r.session_id,
        "ticket_no": r.ticket_no,
        "plate": r.plate,
        "spot": r.spot_label,
        "entry_at": r.entry_at.isoformat(),
        "exit_at": r.exit_at.isoformat(),
        "duration_minutes": int((r.exit_at - r.entry_at).total_seconds() // 60),
        "currency": currency,
        "amount_due": money(r.fee.amount),
        "lines": [{"label": ln.label, "minutes": ln.minutes, "amount": money(ln.amount)} for ln in r.fee.lines],
        "method": r.method,
        "paid": money(r.paid),
        "tendered": money(r.tendered) if r.tendered is not None else None,
        "change": money(r.change or 0),
        "payments": [
            {"id": p.id, "method": p.method, "status": p.status, "amount": money(p.amount),
             "reference": p.reference, "message": p.message}
            for p in r.payments
        ],
        "iou": money(r.iou_amount),
        "gate": outcome.gate.value,
        "printed": outcome.printed,
        "print_error": outcome.print_error,
        "replayed": r.replayed,
        "journaled": outcome.journaled,
    }
    data["lost_ticket"] = {"plate": lost, "found_by": found_by} if found_by is not None else None
    data["free_exit"] = {"reason": free_reason} if free_reason is not None else None
    return data


def status_json(views) -> dict:
    """One facility's status as ``status --json`` prints it: occupancy, availability by level and spot
    type, today's revenue, the lanes the open consoles publish (``lane_status``), plus ``_revenue`` in
    minor units (popped by the caller)."""
    from attendant.core.lane_status import other_lanes
    from attendant.core.money import to_major_str

    f = views.facility
    occupied, capacity = views.occupancy()
    levels = views.availability()
    revenue = views.revenue()
    return {
        "facility": f.code,
        "name": f.name,
        "timezone": f.timezone,
        "currency": f.currency,
        "date": views.local(views.clock()).date().isoformat(),
        "capacity": capacity,
        "occupied": occupied,
        "available": sum(level.available for level in levels),
        "levels": [
            {
                "code": level.code,
                "name": level.name,
                "capacity": level.capacity,
                "available": level.available,
                "by_type": {t: {"available": a, "capacity": c} for t, (a, c) in level.by_type.items()},
            }
            for level in levels
        ],
        "revenue_today": to_major_str(revenue, f.currency),
        "lanes": [  # what each booth's console shows of its lanes (attendant/core/lane_status.py)
            {"booth": r.booth, "lane": r.lane, "direction": r.direction, "gate": r.gate, "gate_reason": r.gate_reason,
             "devices": {kind: state for kind, (state, _msg) in r.devices.items()}, "queue": list(r.queue),
             "reprints": r.reprints, "updated_at": r.updated_at.isoformat()}
            for r in other_lanes(views.engine, f.id, None)
        ],
        "_revenue": revenue,
    }


def session_json(view, service) -> dict:
    """A parking session (:class:`~attendant.core.views.SessionView`) as ``find --json`` prints it
    (``ticket_no``, ``code``, ``plate``, ``spot``, ``entry_at``, ``vehicle_class``), with its status,
    bay type, level, lanes, exit time and money (due and paid: decimal strings, due None while open)."""
    from attendant.core.money import to_major_str

    currency = service.facility.currency
    return {
        "session_id": view.session_id,
        "ticket_no": view.ticket_no,
        "code": view.code,
        "plate": view.plate,
        "vehicle_class": view.vehicle_class,
        "spot": view.spot_label,
        "spot_type": view.spot_type,
        "level": view.level_name,
        "entry_at": view.entry_at.isoformat(),
        "entry_at_local": service.local(view.entry_at).isoformat(),
        "entry_lane": view.entry_lane,
        "status": view.status,
        "exit_at": view.exit_at.isoformat() if view.exit_at else None,
        "amount_due": to_major_str(view.amount_due, currency) if view.amount_due is not None else None,
        "amount_paid": to_major_str(view.amount_paid, currency),
    }


#: Fields of a change that are money (minor units in the log; decimal strings out).
CHANGE_MONEY = ("amount", "amount_due", "amount_paid")


def change_json(change, facility) -> dict:
    """One committed change (:class:`~attendant.core.changes.Change`) as ``watch --json`` prints it:
    ``id``, ``kind``, ``facility`` (code, None if unknown) and the change's fields, ``ticket_no`` as
    printed and money as decimal strings (``facility``: a
    :class:`~attendant.core.facilities.FacilityInfo` or None)."""
    from attendant.core.money import to_major_str
    from attendant.core.tickets import format_ticket_no

    body = dict(change.body)
    if body.get("ticket_no") is not None:
        body["ticket_no"] = format_ticket_no(body["ticket_no"])
    currency = facility.currency if facility else "GBP"
    for key in CHANGE_MONEY:
        if body.get(key) is not None:
            body[key] = to_major_str(body[key], currency)
    out = {"id": change.id, "kind": change.kind, "facility": facility.code if facility else None}
    out.update(body)
    return out


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """How one family of the services' errors is answered: HTTP ``status``, a ``slug`` and a ``title``."""

    status: int
    slug: str
    title: str


def _kinds() -> tuple:
    from attendant.core.api_tokens import TokenInvalid
    from attendant.core.auth import LoginRequired, PermissionDenied
    from attendant.core.errors import (
        AttendantError,
        InputError,
        NotFound,
        PaymentError,
        Refused,
        TicketInvalid,
    )

    return (  # most specific first: the first class an error is an instance of decides
        (TokenInvalid, ErrorKind(401, "token-invalid", "Invalid API token")),
        (LoginRequired, ErrorKind(401, "login-required", "Authentication required")),
        (PermissionDenied, ErrorKind(403, "permission-denied", "Role too small")),
        (TicketInvalid, ErrorKind(422, "ticket-invalid", "Ticket code refused")),
        (InputError, ErrorKind(422, "input", "Bad input")),
        (NotFound, ErrorKind(404, "not-found", "Not found")),
        (PaymentError, ErrorKind(402, "payment", "Payment not taken")),
        (Refused, ErrorKind(409, "refused", "Refused by a rule")),
        (AttendantError, ErrorKind(400, "error", "Request refused")),
    )


def error_kind(error: BaseException) -> ErrorKind:
    """The kind of a services' error: input 422, not-found 404, refused 409 (a rule: anti-passback, a
    full car park, already exited), payment 402, permission-denied 403, login-required and
    token-invalid 401, ticket-invalid 422; anything else ``unexpected`` 500."""
    for cls, kind in _kinds():
        if isinstance(error, cls):
            return kind
    return ErrorKind(500, "unexpected", "Unexpected error")
