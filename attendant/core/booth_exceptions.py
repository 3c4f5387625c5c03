"""Booth exceptions (issue 10 items 1, 2, 3, 6): lost ticket, manual vend, free exit, back-dating.

Every exception is one service operation with its role check, one
transaction and one audit event ``exception.<kind>``
(:mod:`attendant.core.exceptions`: the reason code and text, the amount in
minor units, the lane):

``lost_ticket``
    the driver has no ticket: the open session is found by plate
    (confusable characters tolerated, :meth:`CheckoutOps.find_by_plate`) and
    priced by the rate plan's lost-ticket rule from its entry time
    (:class:`~attendant.core.rates.LostTicket`: flat fee, per started day,
    or the stay's fee when higher); with no session found, the plan's
    lost-ticket fee for an unknown stay (:meth:`ExceptionOps.lost_ticket_code`).
    ``amount_cents``: the fee charged.
``free_exit``
    a supervisor lets the vehicle out with the balance waived (no IOU).
    ``amount_cents``: the amount waived.
``manual_vend``
    a gate opened by hand with a reason (:meth:`ExceptionOps.manual_vend`),
    e.g. after a gate fault; the vend row records source ``attendant``
    and the reason.
``backdate``
    an operation dated before now (``--at``) by a supervisor with a reason
    (or by the installation's automata). An attendant's back-dated entry or
    exit is refused by the service (:meth:`FacilityStore._check_at`) unless
    the facility replays history (``attendant time-window --replay``).

Reason codes: :data:`~attendant.core.exceptions.DEFAULT_REASON_CODES`, or the
booth's own list from the console config (``[exceptions] reasons = {CODE =
"meaning"}`` in ``console.toml``, :class:`hardware.config.ConsoleConfig`),
which the booth hands to its services (:attr:`ExceptionOps.reason_codes`), so
the console's pickers and the CLI read the same list.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from attendant.core.auth import Actor, Role
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound
from attendant.core.exceptions import DEFAULT_REASON_CODES, Reason, parse_reason
from attendant.core.exceptions import action as exc_action
from attendant.core.exceptions import details as exc_details
from attendant.core.plates import normalize_plate
from attendant.core.requests import EntryRequest
from attendant.core.store import VEND, FacilityStore
from attendant.core.vocab import LaneDirection, VendSource


def reason_codes(store) -> Mapping[str, str]:
    """The reason codes ``store`` (a booth service) offers: its configured list, else the defaults."""
    return getattr(store, "reason_codes", None) or DEFAULT_REASON_CODES


def backdate_reason(store, text: str) -> Reason:
    """A back-dating reason as recorded: ``CODE[: text]`` when it names a code, else ``OTHER: text``.

    ``--reason`` is checked strictly against the codes by the front ends;
    the older ``--allow-backdate`` takes any text, kept as ``OTHER``.
    """
    codes = reason_codes(store)
    try:
        return parse_reason(text, codes=codes)
    except InputError:
        return Reason("OTHER", text.strip()[:200])


def exit_exceptions(store, request) -> tuple[tuple[str, Reason], ...]:
    """The exceptions an :class:`~attendant.core.requests.ExitRequest` makes, as ``(kind, Reason)``.

    ``lost`` -> ``lost_ticket`` (reason default ``LOST_TICKET``), ``free``
    -> ``free_exit`` (reason required), a ``backdate_reason`` -> ``backdate``.
    Raises :class:`InputError` for a reason that is not one of the codes.
    """
    codes = reason_codes(store)
    found = []
    if getattr(request, "lost", False):
        found.append(("lost_ticket", parse_reason(request.reason or "LOST_TICKET", codes=codes)))
    if getattr(request, "free", False):
        found.append(("free_exit", parse_reason(request.reason, codes=codes)))
    if request.backdate_reason:
        found.append(("backdate", backdate_reason(store, request.backdate_reason)))
    return tuple(found)


class ExceptionOps(FacilityStore):
    """The booth's exception operations (mixed into :class:`~attendant.core.services.ParkingService`)."""

    reason_codes: Mapping[str, str] | None = None
    """This booth's reason codes (None: :data:`DEFAULT_REASON_CODES`); the booth sets it from its config."""

    def parse_reason(self, text: str | None, *, default: str | None = None) -> Reason:
        """``text`` (``CODE`` or ``CODE: text``) read against this booth's codes; raises :class:`InputError`."""
        return parse_reason(text or default, codes=reason_codes(self))

    # ------------------------------------------------------------ lost ticket
    def lost_ticket_code(self, plate: str | None, *, actor: Actor | str, vehicle_class: str = "car",
                         lane: str | None = None, at: datetime | None = None) -> tuple[str, str]:
        """The signed code of the session a driver without a ticket leaves with, and how it was found.

        The open session of ``plate`` (confusions tolerated) -> ``(code,
        "plate")``. When none is inside (or no plate is known) the stay is
        unknown: an open session is recorded now for the vehicle (entry time
        = exit time, a bay of its class claimed, audited ``session.enter``
        with no lane), so the plan's lost-ticket fee for an unknown
        stay (one period of the rule) is charged through the same exit; ->
        ``(code, "unknown stay")``. Raises :class:`InputError` (bad plate, an
        ambiguous one naming the candidates),
        :class:`~attendant.core.errors.NoSpaceAvailable` (no bay left to
        record it: check the counts), and as :meth:`admit`.
        """
        norm = normalize_plate(plate) if plate and plate.strip() else None
        if norm is not None:
            try:
                return self.find_by_plate(norm).code, "plate"
            except NotFound:
                pass
        request = EntryRequest(norm, vehicle_class, at=at, print_ticket=False, vend=False)
        return self.admit(request, actor=actor).code, "unknown stay"

    # ------------------------------------------------------------ manual vend
    def manual_vend(self, lane: str, *, reason: str | Reason, actor: Actor | str, direction: str = "exit",
                    session_id: int | None = None, at: datetime | None = None, retry_of: int | None = None,
                    by_hand: bool = False) -> int:
        """Record a gate opened by hand at ``lane`` with a reason; returns the vend id.

        One transaction: the vend row (source ``attendant``, reason ``CODE[:
        text]``, outcome ``opened``) and the audit event
        ``exception.manual_vend`` (``vend_id``, ``direction``, ``retry_of``:
        the faulted vend this retries; ``by_hand``: the barrier was lifted by
        hand, the gate is not commanded, and the vend's message says so). The caller commands the gate after
        the commit and marks a refusal with :meth:`record_vend_fault`.
        Attendants may vend (their reason is on record). Raises
        :class:`InputError` (no lane, a reason not in the codes, a bad
        direction), :class:`PermissionDenied`/:class:`LoginRequired`.
        """
        who = self._actor(actor, Role.ATTENDANT, "opening a gate by hand")
        why = reason if isinstance(reason, Reason) else self.parse_reason(reason)
        if not lane or not str(lane).strip():
            raise InputError("a manual vend needs the lane")
        try:
            direction = LaneDirection(str(direction)).value
        except ValueError:
            raise InputError(f"a lane direction is entry or exit, not {direction!r}") from None
        at = self._check_at(at)
        now = utc_now()
        lane = str(lane).strip().upper()
        with self._lock, self._writing() as conn:
            vend_id = self._insert_vend(conn, lane=lane, direction=direction, source=VendSource.ATTENDANT,
                                        reason=str(why)[:200], session_id=session_id, at=at, actor=who.name)
            if by_hand:
                conn.execute(VEND.update().where(VEND.c.id == vend_id).values(message="opened by hand"))
            self._audit(conn, now=now, at=at, actor=who.name, action=exc_action("manual_vend"), entity="vend",
                        entity_id=vend_id, details=exc_details(why, lane=lane, vend_id=vend_id, direction=direction,
                                                               retry_of=retry_of, by_hand=by_hand))
        return vend_id

    def vend_fault_of(self, vend_id: int) -> tuple[str | None, str | None]:
        """``(outcome, message)`` of the vend ``vend_id`` as recorded (``opened`` or ``fault``)."""
        with self._reading() as conn:
            row = conn.execute(select(VEND.c.outcome, VEND.c.message).where(VEND.c.id == vend_id)).first()
        return (row.outcome, row.message) if row else (None, None)
