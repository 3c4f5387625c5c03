"""The console's corrections (F11, and the command palette): void, manual entry, move, anti-passback
reset, count check and count adjust (issue 10 items 4 and 5).

:class:`CorrectionsMenu` -> ``str | None`` picks one (its key letter or ↑↓ Enter);
:class:`CorrectionDialog` -> :class:`CorrectionRequest` ``| None`` asks for what
that correction needs, with a reason picked from the reason codes
(:data:`attendant.core.exceptions.DEFAULT_REASON_CODES`, ↑↓) and free text;
:func:`run_correction` makes the one service call in a thread worker and tells
the result (a notification; the count check's list in a dialog). The services
check the roles (an attendant's supervisor-only correction is refused with
the service's message) and the bay map follows through the service listeners.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from attendant.core.errors import AttendantError, InputError
from attendant.core.exceptions import DEFAULT_REASON_CODES, parse_reason
from attendant.core.vocab import VehicleClass
from attendant.tui.dialogs import FormDialog, PrintoutDialog, _row
from attendant.tui.widgets.pickers import KeyChoice

KINDS: list[tuple[str, str, str]] = [
    ("v", "void", "Void a ticket issued in error (gate not passed, unpaid)"),
    ("m", "manual_entry", "Manual entry: a vehicle found inside without a session"),
    ("b", "move", "Move a vehicle to another bay"),
    ("a", "apb_reset", "Anti-passback reset: let a plate held as 'inside' enter"),
    ("c", "count_check", "Count check: bays, open sessions and lanes"),
    ("j", "count_adjust", "Count adjust: resolve one disagreement (supervisor)"),
    ("g", "manual_vend", "Open a lane's gate by hand (manual vend; retry after a gate fault)"),
]
TITLES = {kind: title for _key, kind, title in KINDS}
ADJUSTMENTS = [("close", "close session"), ("occupy", "occupy its bay"), ("free", "free a bay")]


@dataclass(frozen=True, slots=True)
class CorrectionRequest:
    """What a correction dialog asked for. ``target``: ticket code, number or plate (a plate for a manual
    entry and a reset; a session id for a count adjustment of a session); ``at``: claimed entry time."""

    kind: str
    reason: str
    target: str = ""
    bay: str = ""
    vehicle: str = VehicleClass.CAR.value
    at: datetime | None = None
    adjustment: str = ""


class CorrectionsMenu(ModalScreen[str | None]):
    """Pick a correction: its key letter, or ↑↓ and Enter; Escape cancels."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "Cancel"),
                *[Binding(key, f"pick('{kind}')", show=False) for key, kind, _t in KINDS]]
    DEFAULT_CSS = """
    CorrectionsMenu > Vertical { border: thick $border; background: $surface; padding: 1 2; width: 72;
                                 height: auto; }
    CorrectionsMenu OptionList { height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Corrections"
            yield OptionList(*[Option(f"{key}  {title}", id=kind) for key, kind, title in KINDS],
                             id="correction-kinds")
            yield Static("letter or ↑↓ Enter pick  Esc cancel", classes="hint")

    def on_mount(self) -> None:
        kinds = self.query_one(OptionList)
        kinds.highlighted = 0
        kinds.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_pick(self, kind: str) -> None:
        self.dismiss(kind)

    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_claimed_time(text: str, tz, today) -> datetime | None:
    """A claimed time as typed: empty (now), ``HH:MM`` (today, facility time) or ISO 8601 (no offset:
    facility time). Raises :class:`InputError`."""
    from attendant.core.time_bounds import resolve_local

    typed = text.strip()
    if not typed:
        return None
    try:
        if len(typed) <= 5 and ":" in typed:
            value = datetime.combine(today, time.fromisoformat(typed.zfill(5)))
        else:
            value = datetime.fromisoformat(typed)
    except ValueError:
        raise InputError(f"not a time: {typed[:32]!r} (HH:MM today, or 2026-11-21T09:30)") from None
    return resolve_local(value, tz, "time") if value.tzinfo is None else value


class CorrectionDialog(FormDialog[CorrectionRequest]):
    """The fields one correction needs, and the reason: a code picked from the list (↑↓) and free text."""

    DEFAULT_CSS = """
    CorrectionDialog #reason-codes { height: 8; margin-bottom: 1; }
    """
    HINT = ("[$accent b]Tab[/] next field  [$accent b]↑↓[/] reason  [$accent b]Enter[/] confirm  "
            "[$accent b]Esc[/] cancel")

    def __init__(self, kind: str, *, tz=None, today=None, codes=DEFAULT_REASON_CODES) -> None:
        super().__init__(title=TITLES[kind])
        self.kind = kind
        self.tz = tz
        self.today = today
        self.codes = dict(codes)

    def fields(self) -> ComposeResult:
        kind = self.kind
        if kind in ("void", "move"):
            yield _row("Ticket", Input(placeholder="ticket code, number or plate", id="c-target", max_length=64))
        if kind in ("manual_entry", "apb_reset"):
            yield _row("Plate", Input(placeholder="e.g. AB12 CDE", id="c-target", max_length=20))
        if kind == "manual_entry":
            yield _row("Class", KeyChoice([(v.value, v.value) for v in VehicleClass], value="car", id="c-vehicle"))
            yield _row("Entered", Input(placeholder="HH:MM today or ISO; empty = now (earlier: supervisor)",
                                        id="c-at", max_length=32))
        if kind in ("manual_entry", "move"):
            yield _row("Bay", Input(placeholder="label on the map, e.g. L0-C01", id="c-bay", max_length=16))
        if kind == "count_adjust":
            yield _row("Do", KeyChoice(ADJUSTMENTS, value="close", id="c-adjust"))
            yield _row("Session", Input(placeholder="session id (close / occupy) from the count check",
                                        id="c-target", max_length=12))
            yield _row("Bay", Input(placeholder="bay to free (free a bay)", id="c-bay", max_length=16))
        yield OptionList(*[Option(f"{code:<17} {meaning}", id=code) for code, meaning in self.codes.items()],
                         id="reason-codes")
        yield _row("Reason", Input(placeholder="free text (required for OTHER)", id="c-reason", max_length=200))

    def on_mount(self) -> None:
        codes = self.query_one("#reason-codes", OptionList)
        preferred = {"void": "ISSUED_IN_ERROR", "manual_entry": "NO_SESSION", "move": "BAY_ISSUE",
                     "apb_reset": "GATE_FAULT", "count_adjust": "COUNT_CORRECTION"}.get(self.kind)
        ids = list(self.codes)
        codes.highlighted = ids.index(preferred) if preferred in ids else 0

    @on(OptionList.OptionSelected, "#reason-codes")
    def _code_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#c-reason", Input).focus()

    def _text(self, selector: str) -> str:
        found = self.query(selector)
        return found.first(Input).value.strip() if found else ""

    def value(self) -> CorrectionRequest:
        codes = self.query_one("#reason-codes", OptionList)
        if codes.highlighted is None:
            raise InputError("pick a reason code (↑↓)")
        code = codes.get_option_at_index(codes.highlighted).id or ""
        text = self._text("#c-reason")
        reason = f"{code}: {text}" if text else code
        parse_reason(reason, codes=self.codes)  # shows a bad reason here, before any call
        target, bay = self._text("#c-target"), self._text("#c-bay").upper()
        kind = self.kind
        if kind == "count_adjust":
            adjustment = self.query_one("#c-adjust", KeyChoice).value
            if adjustment == "free" and not bay:
                raise InputError("type the bay to free")
            if adjustment != "free" and not (target.isascii() and target.isdigit()):
                raise InputError("type the session id the count check listed")
            return CorrectionRequest(kind, reason, target, bay, adjustment=adjustment)
        if not target:
            raise InputError("type the plate" if kind in ("manual_entry", "apb_reset") else
                             "type or scan the ticket, or type its number or plate")
        if kind in ("manual_entry", "move") and not bay:
            raise InputError("type the bay")
        if kind == "manual_entry":
            at = parse_claimed_time(self._text("#c-at"), self.tz, self.today)
            vehicle = self.query_one("#c-vehicle", KeyChoice).value
            return CorrectionRequest(kind, reason, target, bay, vehicle, at)
        return CorrectionRequest(kind, reason, target, bay)


def count_check_text(service) -> str:
    """The count check as the console shows it (the CLI's table, in lines)."""
    check = service.count_check()
    lines = [f"Occupied bays {check.occupied_bays}   open sessions {check.open_sessions}",
             f"Stale after {check.stale_after.total_seconds() / 3600:g} h", ""]
    for lane in check.lanes:
        lines.append(f"Lane {lane.lane} ({lane.direction}) today: {lane.sessions} sessions, {lane.openings} "
                     f"openings, {lane.openings_without_session} without a session")
    lines.append("")
    if check.ok:
        lines.append("Counts agree.")
    for d in check.disagreements:
        lines.append(f"✗ {d.kind.replace('_', ' ')}: {d.message}")
        if d.session_id is not None:
            lines.append(f"    session {d.session_id}: F11 j to close or occupy")
        else:
            lines.append("    F11 j, free a bay")
    return "\n".join(lines)


def apply(service, request: CorrectionRequest, actor, lane: str | None) -> str:
    """Make the correction ``request`` asks for as ``actor``; returns the line to show. Raises as the service."""
    kind = request.kind
    if kind == "void":
        done = service.void_ticket(request.target, reason=request.reason, actor=actor, lane=lane)
        return f"Ticket {done.ticket_no} voided; bay {done.from_spot} freed, nothing charged"
    if kind == "move":
        done = service.move_vehicle(request.target, request.bay, reason=request.reason, actor=actor, lane=lane)
        return f"Ticket {done.ticket_no} moved from bay {done.from_spot} to {done.spot}"
    if kind == "apb_reset":
        done = service.reset_anti_passback(request.target, reason=request.reason, actor=actor, lane=lane)
        owed = f"; IOU for {service.describe_amount(done.amount_cents)}" if done.iou_id else ""
        return f"{done.plate} may enter: ticket {done.ticket_no} closed{owed}"
    if kind == "manual_entry":
        e = service.manual_entry(request.target, request.vehicle, bay=request.bay, reason=request.reason,
                                 actor=actor, at=request.at, lane=lane)
        return f"Manual entry: ticket {e.ticket_no} {e.plate} in bay {e.spot_label}, entered " \
               f"{service.local(e.entry_at):%d %b %H:%M}"
    if kind == "count_adjust":
        if request.adjustment == "free":
            done = service.count_adjust(reason=request.reason, actor=actor, free_bay=request.bay)
            return f"Bay {done.spot} freed"
        done = service.count_adjust(reason=request.reason, actor=actor, session_id=int(request.target),
                                    close=request.adjustment == "close", occupy=request.adjustment == "occupy")
        return f"Ticket {done.ticket_no}: {done.adjustment.replace('_', ' ')}"
    raise InputError(f"unknown correction {kind!r}")


def open_corrections(app, kind: str | None = None) -> None:
    """F11: the exceptions menu (corrections and the manual vend) (or straight to ``kind``'s dialog), then the service call in a worker."""
    service = app.service
    lane = app.entry_lane.code if getattr(app, "entry_lane", None) else None

    def run(request: CorrectionRequest | None) -> None:
        if request is None:
            return
        actor = app.actor

        def work() -> None:
            try:
                text = apply(service, request, actor, lane)
            except AttendantError as exc:
                app.call_from_thread(app.notify, str(exc), title=TITLES[request.kind], severity="error",
                                     timeout=8)
                return
            app.call_from_thread(app.notify, text, title=TITLES[request.kind], timeout=6)

        app.run_worker(work, name=request.kind, group="corrections", thread=True, exit_on_error=False)

    def chosen(picked: str | None) -> None:
        if picked is None:
            return
        if picked == "manual_vend":  # the lane picker and reason of the main screen (ExceptionActions)
            from attendant.tui.screens.main import MainScreen

            main = next((s for s in reversed(app.screen_stack) if isinstance(s, MainScreen)), None)
            if main is not None:
                main.action_manual_vend()
            return
        if picked == "count_check":
            def check() -> None:
                try:
                    text = count_check_text(service)
                except AttendantError as exc:
                    app.call_from_thread(app.notify, str(exc), severity="error")
                    return
                app.call_from_thread(app.push_screen, PrintoutDialog("Count check", text))

            app.run_worker(check, name="count_check", group="corrections", thread=True, exit_on_error=False)
            return
        today = service.local(service.clock()).date()
        app.push_screen(CorrectionDialog(picked, tz=service.tz, today=today), run)

    if kind is None:
        app.push_screen(CorrectionsMenu(), chosen)
    else:
        chosen(kind)


def palette_commands(app) -> list[tuple[str, str, object]]:
    """(title, help, callback) of the corrections for the command palette."""
    from functools import partial

    return [(f"Correction: {title}", f"F11 {key}", partial(open_corrections, app, kind))
            for key, kind, title in KINDS]
