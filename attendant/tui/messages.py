"""Typed messages of the console.

Workers and device/service threads never touch a widget (STYLE.md rules 2-3):
they post one of these, and an ``@on`` handler on the UI thread updates the
widgets. Forms post the ``*Requested`` messages upward to the screen, which
runs the blocking work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from attendant.booth import EntryOutcome, ExitOutcome
from attendant.core.views import Checkout, LevelMap, SessionView
from attendant.core.vocab import SpotStatus

if TYPE_CHECKING:  # the hub imports this module to build its messages
    from attendant.tui.devices import HealthChange, HealthReport
    from hardware.base import PlateRead


# ------------------------------------------------------------------ from threads
class SpotsChanged(Message):
    """Bays changed status (posted by the service listener; drained in batches)."""


class OthersChanged(Message):
    """Other booths committed entries, exits, payments or lane states (posted by the change watcher).

    ``kinds``: the change kinds in the batch (``entry``, ``exit``, ``payment``, ``lane``...).
    """

    def __init__(self, kinds: frozenset[str] = frozenset({"entry"})) -> None:
        super().__init__()
        self.kinds = kinds


class RemoteLanes(Message):
    """The lanes other booths published (:func:`attendant.core.lane_status.other_lanes`), read by a worker."""

    def __init__(self, reports: list) -> None:
        super().__init__()
        self.reports = reports


class LiveState(Message):
    """The change watcher's connection: ``"live"``, ``"offline: <why>"``, or ``"resync"`` (reload everything)."""

    def __init__(self, state: str) -> None:
        super().__init__()
        self.state = state


class QueuesChanged(Message):
    """The replay's lane queues changed (posted from the replay thread)."""


class GateChanged(Message):
    """A gate moved (posted from the gate's event thread)."""

    def __init__(self, lane: str, state: str) -> None:
        super().__init__()
        self.lane = lane
        self.state = state


class CodeScanned(Message):
    """A serial/stand-in scanner at the attendant's exit lane read ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code


class FacilityLoaded(Message):
    """The start-up load finished: maps, bay statuses, figures."""

    def __init__(self, maps: list[LevelMap], statuses: dict[int, SpotStatus], revenue: int, day: str) -> None:
        super().__init__()
        self.maps = maps
        self.statuses = statuses
        self.revenue = revenue
        self.day = day


class FiguresRefreshed(Message):
    """Today's revenue (minor units) for facility-local ``day`` (ISO date)."""

    def __init__(self, revenue: int, day: str) -> None:
        super().__init__()
        self.revenue = revenue
        self.day = day


# ------------------------------------------------------------------ entry flow
class EntryRequested(Message):
    """The entry form asks for a ticket."""

    def __init__(self, plate: str, vehicle_class: str, ev: bool, accessible: bool) -> None:
        super().__init__()
        self.plate = plate
        self.vehicle_class = vehicle_class
        self.ev = ev
        self.accessible = accessible


class EntryDone(Message):
    """A ticket was issued; ``printout`` is the stand-in printer's text (or "")."""

    def __init__(self, outcome: EntryOutcome, printout: str) -> None:
        super().__init__()
        self.outcome = outcome
        self.printout = printout


class EntryFailed(Message):
    """The entry was refused or failed; nothing changed."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


# ------------------------------------------------------------------- exit flow

class PlateLookupRequested(Message):
    """Find the open session of ``plate`` (lost ticket)."""

    def __init__(self, plate: str) -> None:
        super().__init__()
        self.plate = plate




class PlateFound(Message):
    def __init__(self, session: SessionView) -> None:
        super().__init__()
        self.session = session


class PlateNotFound(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error



class ExitDone(Message):
    def __init__(self, outcome: ExitOutcome, printout: str) -> None:
        super().__init__()
        self.outcome = outcome
        self.printout = printout


# --------------------------------------------------------------------- devices
# Posted by attendant.tui.devices.DeviceHub (device and monitor threads) and by
# the device workers of the main screen. The hub's value types live in
# attendant.tui.devices (imported here for type checking only: the hub imports
# this module to build the messages).


class DeviceHealthChanged(Message):
    """Some device's health changed (monitor thread). ``report`` is the whole
    :class:`~attendant.tui.devices.HealthReport`; ``changes`` the devices whose
    state changed (alerts are made from these, once per change)."""

    def __init__(self, report: HealthReport, changes: tuple[HealthChange, ...] = ()) -> None:
        super().__init__()
        self.report = report
        self.changes = changes


class DeviceEvents(Message):
    """Plate reads or gate changes are waiting: drain them with
    ``DeviceHub.drain_events()`` (posted once per batch, STYLE.md rule 5)."""


class LaneCodeScanned(Message):
    """The scanner of lane ``lane`` read ``code`` (a serial or stand-in scanner's thread)."""

    def __init__(self, lane: str, code: str) -> None:
        super().__init__()
        self.lane = lane
        self.code = code


class WedgeScanned(Message):
    """A keyboard-wedge burst (a code typed at scanner speed, ending in Enter)
    that arrived while a field other than the exit form's ticket field had
    focus; it was kept out of that field and goes to the exit form."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code


class ScanIdentified(Message):
    """``service.identify`` said what a scanned ``code`` is: ``kind`` is
    ``ticket``, ``pass`` or ``validation``."""

    def __init__(self, lane: str | None, code: str, kind: str) -> None:
        super().__init__()
        self.lane = lane
        self.code = code
        self.kind = kind


class ScanRejected(Message):
    """A scanned ``code`` is none of ticket, pass or validation (nothing changed)."""

    def __init__(self, lane: str | None, code: str, error: str) -> None:
        super().__init__()
        self.lane = lane
        self.code = code
        self.error = error


class ValidationScanned(Message):
    """A merchant validation code (``V-XXXX-XXXX``) was scanned at exit lane ``lane``.

    Posted to the exit form (``ExitForm``); it bubbles to the main screen.
    ``ticket_code`` is the signed code of the ticket on the exit form when the
    validation was scanned (None: no ticket loaded yet). The exit form should
    handle it and call ``message.stop()``; if it does not, the main screen's
    fallback applies the validation to ``ticket_code`` (``apply_validation``
    in a worker, then a new quote) or asks for the ticket first.
    """

    def __init__(self, code: str, lane: str | None, ticket_code: str | None) -> None:
        super().__init__()
        self.code = code
        self.lane = lane
        self.ticket_code = ticket_code


class PassScanned(Message):
    """A pass code (``P-XXXX-XXXX``, monthly/contract parker) was scanned at exit lane ``lane``.

    Same contract as :class:`ValidationScanned`: posted to the exit form,
    which should handle it (pay by pass with ``reference=code``) and call
    ``message.stop()``; the main screen's fallback only tells the attendant.
    """

    def __init__(self, code: str, lane: str | None, ticket_code: str | None) -> None:
        super().__init__()
        self.code = code
        self.lane = lane
        self.ticket_code = ticket_code


class ValidationApplied(Message):
    """The screen's fallback applied validation ``code``: ``amount_off`` minor
    units off the ticket; ``checkout`` is the session with its new balance."""

    def __init__(self, code: str, amount_off: int, checkout: Checkout) -> None:
        super().__init__()
        self.code = code
        self.amount_off = amount_off
        self.checkout = checkout


class ScanActionFailed(Message):
    """Applying a scanned validation failed (refused, not found): nothing changed."""

    def __init__(self, code: str, error: str) -> None:
        super().__init__()
        self.code = code
        self.error = error


class ExitPlateFound(Message):
    """The attended exit lane's camera read a plate whose vehicle is inside:
    ``session`` (its ticket code loads the exit form: ticketless exit by plate)."""

    def __init__(self, read: PlateRead, session: SessionView) -> None:
        super().__init__()
        self.read = read
        self.session = session


class ExitPlateNotFound(Message):
    def __init__(self, read: PlateRead, error: str) -> None:
        super().__init__()
        self.read = read
        self.error = error


class ReprintDone(Message):
    """A reprint job finished: ``printed`` tickets came out (``ticket_no`` for a
    single reprint; None for the queue); ``error`` says why the rest did not;
    ``printout`` is the stand-in printer's last text (or "")."""

    def __init__(self, ticket_no: str | None, printed: int, error: str | None, printout: str = "",
                 lane: str | None = None) -> None:
        super().__init__()
        self.ticket_no = ticket_no
        self.printed = printed
        self.error = error
        self.printout = printout
        self.lane = lane
