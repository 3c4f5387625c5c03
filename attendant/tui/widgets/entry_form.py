"""The entry form: plate, vehicle class, EV / accessible flags, issue the ticket.

Keys: type the plate; ``up``/``down`` in the plate field (or ``1``-``5`` on the
class row) choose the vehicle class; Tab reaches the EV and accessible flags
(Space toggles); Enter anywhere in the form issues the ticket; Escape clears
it. The form owns only its fields: it posts :class:`EntryRequested` and the
screen runs the entry (Booth.enter in a worker) and hands the
outcome back through :meth:`show_result` / :meth:`show_error`.

Plate reads: the lane camera's read arrives through :meth:`EntryForm.offer_read`
and fills the plate with its confidence shown. A read below the confirmation
threshold (the lane's ``confirm_below``, by default 90 %:
:data:`attendant.core.plate_match.DEFAULT_CONFIRM_THRESHOLD`) must be
confirmed: the form shows "confirm plate (72%)" and the first Enter confirms
it (nothing is issued); the next Enter issues the ticket. Editing the plate
makes it the attendant's own, which needs no confirmation. Beside a read to
confirm the form shows the camera's picture of the plate (``PlateRead.image``,
drawn by :class:`~attendant.tui.widgets.plate_picture.PlatePicture`: 44
columns by at most 6 rows below 30 rows, 48 by 8 from 30 rows, 64 by 11 on
a terminal of 160x50 or more; from 100 to 159 columns, where the form is
narrow beside the map, 56 by 8 under the note), or says "no picture from the camera"; the picture goes when
the read is confirmed, edited away, cleared or replaced by the next read.

Plate lists: while a plate is typed (or read) the form asks the service
whether it is on the deny or allow list (confusables tolerated,
:mod:`attendant.core.plate_lists`) and shows it under the plate: a deny
entry that refuses ("✗ deny list: entry will be refused"), one that flags
("⚑ flag"), or an allow entry (free exit). A flagged entry's ticket shows
the flag again with the result.

Printer: the screen tells the form the lane printer's health
(:meth:`EntryForm.set_printer`); when it cannot print (offline, paper out,
cover open, faulted) the form says the vehicle enters by plate (ticketless)
and the ticket is queued for a reprint.

Keyboard-wedge scans: a ticket, pass or validation code typed into the plate
field (a scanner's burst while the plate field had focus) is recognised by
its shape (``<facility>-<8 digits>-``, ``V-XXXX-``, ``P-XXXX-``): the plate
goes back to what it was and the rest of the burst, up to Enter, is kept out
of it and posted as :class:`WedgeScanned` for the exit form.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import tzinfo

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Label, Static

from attendant.booth import EntryOutcome
from attendant.core.plate_match import DEFAULT_CONFIRM_THRESHOLD, needs_confirmation
from attendant.core.tickets import SCANNED_CODE, scan_prefix
from attendant.core.vocab import GateOutcome, VehicleClass
from attendant.tui.messages import EntryRequested, WedgeScanned
from attendant.tui.widgets.device_health import device_badge
from attendant.tui.widgets.pickers import Flag, KeyChoice, cycle_focus
from attendant.tui.widgets.plate_picture import PlatePicture

CLASS_OPTIONS = [(v.value, v.value) for v in VehicleClass]
PLATE_MAX = 20  # room for a ticket code's recognisable start (facility code of up to 8 + 10)
#: Printer states in which a ticket cannot print (hardware.base.DeviceState values).
NO_PRINT = ("offline", "paper_out", "cover_open", "faulted")


class PlateInput(Input):
    """The plate field: ``up``/``down`` change the vehicle class while typing;
    a scanned code typed into it is diverted (see the module docstring)."""

    BINDINGS = [
        Binding("up", "cycle_class(-1)", "Class ◂", show=False),
        Binding("down", "cycle_class(1)", "Class ▸", show=False),
    ]

    def __init__(self, *args, scan_pattern: re.Pattern[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scan_pattern = scan_pattern
        self._history: deque[tuple[str, object]] = deque(maxlen=PLATE_MAX + 4)
        self.diverted: list[str] | None = None  # the scan being kept out of the field

    def action_cycle_class(self, step: int) -> None:
        form = self._form()
        if form is not None:
            form.query_one("#entry-class", KeyChoice).action_move(step)

    def _form(self) -> EntryForm | None:
        return next((a for a in self.ancestors if isinstance(a, EntryForm)), None)

    # Textual calls ``_on_key``/``_on_paste`` of every class in the MRO (this
    # one first) until a handler calls ``prevent_default()``: Input's own
    # handlers run after these unless they are prevented here.
    async def _on_key(self, event: events.Key) -> None:
        if self.diverted is not None:
            if event.key == "escape":
                self._divert(None)  # abandoned; Escape goes on to clear the form
                return
            event.stop()
            event.prevent_default()
            if event.key == "enter":
                self._finish_scan()
            elif event.key == "backspace":
                self._divert(self.diverted[:-1])
            elif event.is_printable and event.character:
                self._divert([*self.diverted, event.character])
            return
        if event.is_printable:
            self._history.append((self.value, self.selection))
            await super()._on_key(event)  # inserts the character and prevents the default
            self._check_scan()

    def _on_paste(self, event: events.Paste) -> None:
        lines = event.text.splitlines()
        text = lines[0].strip() if lines else ""
        if text and SCANNED_CODE.match(text.upper()):
            event.stop()
            event.prevent_default()  # Input must not insert it
            self._divert(list(text))
            if event.text.rstrip(" ") != event.text.rstrip(" \r\n"):  # the scanner's Enter came with it
                self._finish_scan()

    def _on_blur(self, event: events.Blur) -> None:
        if self.diverted is not None:
            self._divert(None)  # focus moved away mid-scan: drop it

    def _check_scan(self) -> None:
        if self.scan_pattern is None:
            return
        match = self.scan_pattern.search(self.value.upper())
        if match is None or self.cursor_position != len(self.value):
            return
        typed = len(match.group(0))
        if typed > len(self._history):
            return  # not typed key by key here (pasted): leave it
        value, selection = self._history[-typed]
        scanned = list(self.value[-typed:])
        self._history.clear()
        self.value = value
        self.selection = selection  # type: ignore[assignment]
        self._divert(scanned)

    def _divert(self, chars: list[str] | None) -> None:
        self.diverted = chars
        form = self._form()
        if form is not None:
            form.show_scan_progress("".join(chars) if chars is not None else None)

    def _finish_scan(self) -> None:
        code = "".join(self.diverted or ())
        self._divert(None)
        if code:
            self.post_message(WedgeScanned(code))


class EntryForm(Vertical):
    """Issue a ticket at the attendant's entry lane."""

    BINDINGS = [
        Binding("enter", "submit", "Issue ticket", priority=False),
        Binding("escape", "clear", "Clear", show=False),
        # Tab stays inside the form (issue 12): it cycles the form's fields, never the map or the other form
        Binding("tab", "cycle_focus(1)", "Next field", show=False),
        Binding("shift+tab", "cycle_focus(-1)", "Previous field", show=False),
    ]

    # Every rule below names EntryForm itself; the picture's sizes start at Screen (its size classes),
    # which Textual's scoping would prefix with "EntryForm " (never matching): no scoping here.
    SCOPED_CSS = False
    DEFAULT_CSS = """
    EntryForm { height: auto; }
    EntryForm .entry-note { height: auto; display: none; }
    EntryForm .entry-note.-shown { display: block; }
    EntryForm #entry-read-row { height: auto; }
    EntryForm #entry-read { width: 1fr; }
    EntryForm #entry-read.-confirm { background: $warning 20%; }
    EntryForm #entry-picture { display: none; margin-left: 1; width: 44; max-height: 6; }
    EntryForm #entry-picture.-shown { display: block; }
    Screen.-short EntryForm #entry-picture, Screen.-tall EntryForm #entry-picture { width: 48; max-height: 8; }
    Screen.-wide.-tall EntryForm #entry-picture { width: 64; max-height: 11; }
    /* 100-159 columns: the form is about 70 wide beside the map; the picture goes under the note */
    Screen.-medium EntryForm #entry-read-row { layout: vertical; }
    Screen.-medium EntryForm #entry-read { width: 100%; }
    Screen.-medium EntryForm #entry-picture { margin: 0; width: 56; max-height: 8; }
    EntryForm #entry-list.-deny { background: $error 20%; }
    """

    def action_cycle_focus(self, step: int) -> None:
        """Tab / shift+Tab: the next / previous field of this form, wrapping (:func:`cycle_focus`)."""
        cycle_focus(self, step)

    def __init__(self, lane_title: str, *, facility_code: str = "", threshold: float = DEFAULT_CONFIRM_THRESHOLD,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.lane_title = lane_title
        self.facility_code = facility_code
        self.busy = False
        self.threshold = threshold  # the lane's confirm_below (hardware.config.LaneConfig), 0..1
        self.read: tuple[str, float] | None = None  # (plate as read, confidence 0..1)
        self.read_picture: bytes | None = None  # the camera's picture of that read (PNG/JPEG bytes)
        self.read_confirmed = False
        self.printer: tuple[str, str] | None = None  # (DeviceState value, message) of the lane printer
        self.reprints = 0
        self._scan_note: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label("Plate", classes="field-label")
            yield PlateInput(
                placeholder="e.g. AB12 CDE",
                id="entry-plate",
                max_length=PLATE_MAX,
                scan_pattern=scan_prefix(self.facility_code) if self.facility_code else None,
            )
            yield Flag("EV", id="entry-ev")
            yield Flag("Accessible", id="entry-accessible")
        with Horizontal(classes="form-row"):
            yield Label("Class", classes="field-label")
            yield KeyChoice(CLASS_OPTIONS, value=VehicleClass.CAR.value, id="entry-class")
        with Horizontal(id="entry-read-row"):
            yield Static("", id="entry-read", classes="entry-note")
            yield PlatePicture(id="entry-picture")
        yield Static("", id="entry-list", classes="entry-note")
        yield Static("", id="entry-printer", classes="entry-note")
        yield Static("", id="entry-result", classes="result")
        yield Static(
            Content.from_markup(
                "[$accent b]Enter[/] issue ticket  [$accent b]↑↓[/] class  "
                "[$accent b]Tab[/] EV/accessible ([$accent b]Space[/])  [$accent b]Esc[/] clear"
            ),
            classes="hint",
        )

    def on_mount(self) -> None:
        self.set_lane_title(self.lane_title)
        self.border_subtitle = "^L lane · F2"

    def set_lane_title(self, title: str) -> None:
        """Show the lane this form issues tickets at (``"E1 Entry 1"``)."""
        self.lane_title = title
        self.border_title = f"Entry ▸ {title}"

    # ---------------------------------------------------------------- values
    @property
    def plate(self) -> str:
        return self.query_one("#entry-plate", Input).value.strip()

    @property
    def vehicle_class(self) -> str:
        return self.query_one("#entry-class", KeyChoice).value

    @property
    def needs_confirmation(self) -> bool:
        """True while the plate is an unconfirmed camera read below the threshold."""
        if self.read is None or self.read_confirmed:
            return False
        plate, confidence = self.read
        return self.plate == plate and needs_confirmation(confidence, self.threshold)

    @property
    def can_print(self) -> bool:
        """False when the lane printer is known not to print (offline, paper out...)."""
        return self.printer is None or self.printer[0] not in NO_PRINT

    def focus_plate(self) -> None:
        self.screen.set_focus(self.query_one("#entry-plate", Input))

    def _select_plate(self) -> None:
        plate = self.query_one("#entry-plate", Input)
        self.screen.set_focus(plate)
        plate.select_all()

    def fill(self, plate: str, vehicle_class: str) -> None:
        """Put a queued vehicle in the form (plate read + class)."""
        self.forget_read()
        self.query_one("#entry-plate", Input).value = plate
        self._set_class(vehicle_class)
        self.query_one("#entry-ev", Flag).value = False
        self.query_one("#entry-accessible", Flag).value = False
        self.focus_plate()

    def _set_class(self, vehicle_class: str | None) -> None:
        choice = self.query_one("#entry-class", KeyChoice)
        if vehicle_class and any(v == vehicle_class for v, _ in choice.options):
            choice.value = vehicle_class

    # ------------------------------------------------------------ plate reads
    def offer_read(self, plate: str, confidence: float, vehicle_class: str | None = None,
                   picture: bytes | None = None) -> bool:
        """A camera read at this lane: ``plate`` with ``confidence`` (0..1) and the
        camera's ``picture`` of it (PNG/JPEG bytes, None: the camera sent none).

        Fills the plate unless the form is issuing a ticket or the attendant
        typed a different plate (then the read is only shown, without its
        picture). Returns True when the plate field now holds the read.
        """
        field = self.query_one("#entry-plate", Input)
        typed = field.value.strip()
        own = bool(typed) and (self.read is None or typed != self.read[0])
        if self.busy or own:
            self._show_read(other=(plate, confidence))
            return False
        self.read, self.read_confirmed, self.read_picture = (plate, float(confidence)), False, picture
        with field.prevent(Input.Changed):
            field.value = plate
        field.cursor_position = len(plate)
        self._set_class(vehicle_class)
        self._show_read()
        return True

    def forget_read(self) -> None:
        """Drop the camera read (the vehicle left, the lane changed)."""
        self.read, self.read_confirmed, self.read_picture = None, False, None
        self._show_read()

    @on(Input.Changed, "#entry-plate")
    def _plate_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show_read()
        self.check_plate_list(event.value.strip())

    @work(thread=True, exclusive=True, group="entry-list", exit_on_error=False)
    def check_plate_list(self, plate: str) -> None:
        """Look ``plate`` up on the deny and allow lists (a read; a partial plate is no plate) and show it."""
        from attendant.core.errors import AttendantError

        service = getattr(self.app, "service", None)
        listed = None
        if service is not None and len(plate) >= 2:
            try:
                listed = service.plate_list_match(plate)
            except AttendantError:
                listed = None
            except Exception:  # noqa: BLE001 - the database away: the entry itself will say so
                listed = None
        self.app.call_from_thread(self._show_list, plate, listed)

    def _show_list(self, plate: str, listed) -> None:
        if plate != self.plate:
            return  # typed on since: a newer look-up follows
        note = self.query_one("#entry-list", Static)
        parts: list = []
        if listed is not None:
            near = f" (as {listed.plate})" if listed.matched == "confusable" else ""
            if listed.kind == "deny" and listed.action == "refuse":
                parts = [("✗ deny list", "$fault b"), f"{near}: entry will be refused — {listed.reason}"]
            elif listed.kind == "deny":
                parts = [("⚑ flag", "$warn b"), f"{near}: deny list — {listed.reason}; check before letting in"]
            else:
                parts = [("✓ allow list", "$ok b"), f"{near}: free exit — {listed.reason}"]
        note.update(Content.assemble(*parts) if parts else "")
        note.set_class(bool(parts), "-shown")
        note.set_class(listed is not None and listed.kind == "deny", "-deny")

    def _show_read(self, other: tuple[str, float] | None = None) -> None:
        note = self.query_one("#entry-read", Static)
        if self._scan_note is not None:
            note.update(Content.assemble(("⌁ scan → exit form: ", "$accent b"), (self._scan_note, "b"),
                                         ("  Esc drops it", "$muted")))
            note.set_class(True, "-shown")
            note.set_class(False, "-confirm")
            self._show_picture(False)
            return
        parts: list = []
        confirm = self.needs_confirmation
        pictured = self._show_picture(confirm)
        if self.read is not None and self.plate == self.read[0]:
            plate, confidence = self.read
            if confirm:
                parts += [(f"⚠ confirm plate ({confidence:.0%})", "$warn b"), ": ", (plate, "b"),
                          " — check it against the picture" if pictured else " — check it",
                          ", edit if wrong · ", ("Enter", "$accent b"), " confirms"]
                if not pictured:
                    parts += ["\n", ("no picture from the camera: look at the plate itself", "$muted")]
            elif self.read_confirmed:
                parts += [("✓ plate confirmed", "$ok b"), f" (camera {confidence:.0%}) — ",
                          ("Enter", "$accent b"), " issues the ticket"]
            else:
                parts += [("◉ camera read", "$ok b"), f" {confidence:.0%}"]
        if other is not None:
            if parts:
                parts.append("\n")
            parts += [("◉ camera read ", "$muted"), (other[0], "b"), (f" {other[1]:.0%}", "$muted"),
                      (" — not used: the form holds your plate (Esc clears it)", "$muted")]
        note.update(Content.assemble(*parts) if parts else "")
        note.set_class(bool(parts), "-shown")
        note.set_class(confirm, "-confirm")

    def _show_picture(self, confirm: bool) -> bool:
        """Show the read's picture while it waits for confirmation (else hide it); True when drawn."""
        widget = self.query_one("#entry-picture", PlatePicture)
        shown = confirm and self.read_picture is not None and widget.show(self.read_picture)
        if not shown:
            widget.show(None)
        widget.set_class(shown, "-shown")
        return shown

    @property
    def picture_shown(self) -> bool:
        """True while the camera's picture of the read is on the form."""
        return self.query_one("#entry-picture", PlatePicture).has_class("-shown")

    def show_scan_progress(self, code: str | None) -> None:
        """A scanned code is being kept out of the plate field (None: done)."""
        self._scan_note = code
        self._show_read()

    # ---------------------------------------------------------------- printer
    def set_printer(self, state: str | None, message: str = "", reprints: int = 0) -> None:
        """The lane printer's health (a DeviceState value; None: no printer) and
        how many tickets wait for a reprint."""
        self.printer = (state, message) if state is not None else None
        self.reprints = reprints
        note = self.query_one("#entry-printer", Static)
        parts: list = []
        if state is not None and state in NO_PRINT:
            glyph, word, _var = device_badge(state)
            parts += [(f"{glyph} printer {word}", "$fault b"), ": ticketless entry by plate, ticket queued"]
            if reprints:
                parts += [" · ", (f"⎙ {reprints}", "$warn b"), " (", ("^O", "$accent b"), ")"]
            else:
                parts.append(" for reprint")
        elif reprints:
            parts += [(f"⎙ {reprints} ticket{'s' if reprints != 1 else ''} to reprint", "$warn b"), " · ",
                      ("^O", "$accent b"), " prints them"]
        if state == "paper_low":
            parts += ["\n" if parts else "", ("! printer paper low", "$warn b"), ": change the roll soon"]
        note.update(Content.assemble(*parts) if parts else "")
        note.set_class(bool(parts), "-shown")

    # --------------------------------------------------------------- actions
    @on(Input.Submitted, "#entry-plate")
    def _plate_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        if self.busy:
            return
        plate = self.plate
        if not plate:
            self.show_error("type the plate first (or press F4 for the next vehicle waiting)")
            self.focus_plate()
            return
        if self.needs_confirmation:
            self.read_confirmed = True  # Enter confirms the read; the next Enter issues
            self._show_read()
            self.focus_plate()
            return
        self.busy = True
        self.add_class("-busy")
        self.query_one("#entry-result", Static).update(Content.from_markup("[$muted]issuing ticket…[/]"))
        self.post_message(
            EntryRequested(
                plate,
                self.vehicle_class,
                self.query_one("#entry-ev", Flag).value,
                self.query_one("#entry-accessible", Flag).value,
            )
        )

    def action_clear(self) -> None:
        """Escape: empty the form for the next vehicle."""
        self.forget_read()
        self.query_one("#entry-plate", Input).value = ""
        self.query_one("#entry-class", KeyChoice).value = VehicleClass.CAR.value
        self.query_one("#entry-ev", Flag).value = False
        self.query_one("#entry-accessible", Flag).value = False
        self.focus_plate()

    # ----------------------------------------------------------- from screen
    def show_result(self, outcome: EntryOutcome, tz: tzinfo, queued: int = 0) -> None:
        """Show an issued ticket and clear the fields for the next vehicle.

        ``queued``: tickets now waiting for a reprint at this lane (shown when
        this one did not print).
        """
        self.busy = False
        self.remove_class("-busy")
        e = outcome.entry
        local = e.entry_at.astimezone(tz).strftime("%a %d %b %H:%M")
        printed = "printed ✓ (F10 shows it)" if outcome.printed else "NOT PRINTED ✗"
        print_style = "$ok" if outcome.printed else "$fault b"
        gate_style = "$gate-open" if outcome.gate == GateOutcome.OPENED else "$fault b"
        parts: list = [
            (f"✓ Ticket {e.ticket_no}", "$ok b"),
            "  ",
            (e.plate or "(no plate)", "b"),
            f"  {e.vehicle_class}  bay ",
            (f" {e.spot_label} ", "reverse b"),
            f" {e.level_name}\n  in ",
            (local, "b"),
            "  ",
            (printed, print_style),
            "  gate ",
            (outcome.gate, gate_style),
        ]
        if e.flag:
            parts += ["\n  ", ("⚑ FLAG", "$warn b reverse"), f" {e.flag}"]
        if not outcome.printed and outcome.print_error:
            parts += ["\n  ", ("entered by plate (ticketless)", "$warn b"),
                      f", ticket queued for reprint ({queued} waiting, ", ("^O", "$accent b"), ")\n  ",
                      (outcome.print_error, "$fault")]
        self.query_one("#entry-result", Static).update(Content.assemble(*parts))
        self.action_clear()

    def show_error(self, message: str) -> None:
        """Show why nothing was issued; the fields are kept for a correction (plate selected)."""
        self.busy = False
        self.remove_class("-busy")
        self.query_one("#entry-result", Static).update(
            Content.assemble(("✗ Not issued: ", "$fault b"), message)
        )
        self._select_plate()  # type over it, or an arrow key to correct it
