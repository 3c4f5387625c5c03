"""Dialogs of the booth's exceptions (issue 10): every one asks for a reason from the booth's codes.

- :class:`ExceptionDialog` -> :class:`ExceptionEntry` ``| None``: a reason
  picked from the booth's codes (``CODE`` or ``CODE: text``, checked with
  :func:`attendant.core.exceptions.parse_reason` before the dialog closes),
  and, as the exception needs: a plate (lost ticket), a supervisor's user
  name and PIN (free exit: the services check the role). Escape returns None.

Used by the exit form (F6 lost ticket, ctrl+f free exit) and the lane
actions (F11: open the gate by hand; after a gate fault, retry or open by
hand with a reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from attendant.core.errors import InputError
from attendant.core.exceptions import REASONS_NEEDING_TEXT, parse_reason


@dataclass(frozen=True, slots=True)
class ExceptionEntry:
    """What the attendant gave: the reason as typed (``CODE`` or ``CODE: text``, valid), and the plate
    (lost ticket) or the supervisor's user name and PIN (free exit) when the dialog asked for them."""

    reason: str
    plate: str | None = None
    supervisor: str | None = None
    pin: str | None = None
    lane: str | None = None
    mode: str | None = None


class ExceptionDialog(ModalScreen[ExceptionEntry | None]):
    """A reason picker (↑↓ over the booth's codes, their meaning beside), free text, and the fields the
    exception needs. Enter in the last field (or on a code when nothing else is asked) confirms."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    ExceptionDialog #exc-box { width: 76; height: auto; max-height: 90%; }
    ExceptionDialog #exc-reasons { height: auto; max-height: 12; }
    ExceptionDialog #exc-error { color: $error; }
    """

    def __init__(self, title: str, codes: Mapping[str, str], *, context: str = "", ask_plate: bool = False,
                 ask_supervisor: bool = False, default: str | None = None,
                 lanes: list[tuple[str, str]] | None = None, lane: str | None = None,
                 modes: list[tuple[str, str]] | None = None, plate: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.codes = dict(codes)
        self.context = context
        self.ask_plate = ask_plate
        self.ask_supervisor = ask_supervisor
        self.default = default if default in self.codes else next(iter(self.codes))
        self.lanes = lanes or []  # (code, label): pick the lane (a manual vend)
        self.lane = lane
        self.plate = plate or ""  # a plate to start from (the exit lane camera's last read)
        self.modes = modes or []  # (id, label): how (a gate fault: retry it, or record it opened by hand)

    def compose(self) -> ComposeResult:
        with Vertical(id="exc-box", classes="dialog"):
            if self.context:
                yield Static(Content(self.context), id="exc-context")
            if self.lanes:
                yield Label("Lane")
                yield OptionList(*[Option(label, id=code) for code, label in self.lanes], id="exc-lanes")
            if self.modes:
                yield Label("How")
                yield OptionList(*[Option(label, id=mode) for mode, label in self.modes], id="exc-mode")
            if self.ask_plate:
                yield Label("Plate (empty: unknown vehicle)")
                yield Input(self.plate, placeholder="plate, e.g. AB12 CDE", id="exc-plate", max_length=16)
            yield Label("Reason")
            yield OptionList(*[Option(Content.assemble((code, "b"), f"  {meaning}"), id=code)
                               for code, meaning in self.codes.items()], id="exc-reasons")
            yield Input(placeholder="free text (required for OTHER)", id="exc-text", max_length=200)
            if self.ask_supervisor:
                yield Label("Supervisor's user name and PIN")
                yield Input(placeholder="user name", id="exc-user", max_length=40)
                yield Input(placeholder="PIN", id="exc-pin", password=True, max_length=12)
            yield Static("", id="exc-error")
            yield Static(Content.from_markup("[$accent b]↑↓[/] reason  [$accent b]Tab[/] next field  "
                                             "[$accent b]Enter[/] confirm  [$accent b]Esc[/] cancel"),
                         classes="hint")

    def on_mount(self) -> None:
        self.query_one("#exc-box").border_title = self.title_text
        reasons = self.query_one("#exc-reasons", OptionList)
        reasons.highlighted = list(self.codes).index(self.default)
        if self.modes:
            self.query_one("#exc-mode", OptionList).highlighted = 0
        if self.lanes:
            codes = [code for code, _label in self.lanes]
            self.query_one("#exc-lanes", OptionList).highlighted = codes.index(self.lane) if self.lane in codes else 0
        first = "#exc-lanes" if self.lanes else "#exc-plate" if self.ask_plate else "#exc-reasons"
        self.query_one(first).focus()
        if self.ask_plate and self.plate:
            self.query_one("#exc-plate", Input).select_all()  # typing replaces the camera's read

    @property
    def code(self) -> str:
        reasons = self.query_one("#exc-reasons", OptionList)
        index = reasons.highlighted if reasons.highlighted is not None else 0
        return list(self.codes)[index]

    def reason_text(self) -> str:
        """The reason as the services read it: ``CODE`` or ``CODE: text``."""
        text = self.query_one("#exc-text", Input).value.strip()
        return f"{self.code}: {text}" if text else self.code

    @on(OptionList.OptionSelected, "#exc-lanes")
    def _lane_picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#exc-mode" if self.modes else "#exc-reasons", OptionList).focus()

    @on(OptionList.OptionSelected, "#exc-mode")
    def _mode_picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#exc-reasons", OptionList).focus()

    @on(OptionList.OptionSelected, "#exc-reasons")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id in REASONS_NEEDING_TEXT or self.ask_supervisor:
            self.query_one("#exc-text", Input).focus()
        else:
            self._confirm()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "exc-plate":
            self.query_one("#exc-reasons", OptionList).focus()
            return
        if event.input.id == "exc-text" and self.ask_supervisor:
            self.query_one("#exc-user", Input).focus()
            return
        if event.input.id == "exc-user":
            self.query_one("#exc-pin", Input).focus()
            return
        self._confirm()

    def _confirm(self) -> None:
        error = self.query_one("#exc-error", Static)
        reason = self.reason_text()
        try:
            parse_reason(reason, codes=self.codes)
        except InputError as exc:
            error.update(str(exc))
            self.query_one("#exc-text", Input).focus()
            return
        plate = self.query_one("#exc-plate", Input).value.strip() or None if self.ask_plate else None
        user = pin = None
        if self.ask_supervisor:
            user = self.query_one("#exc-user", Input).value.strip()
            pin = self.query_one("#exc-pin", Input).value.strip()
            if not user or not pin:
                error.update("a supervisor's user name and PIN are needed")
                self.query_one("#exc-user" if not user else "#exc-pin", Input).focus()
                return
        lane = None
        if self.lanes:
            lanes = self.query_one("#exc-lanes", OptionList)
            lane = self.lanes[lanes.highlighted if lanes.highlighted is not None else 0][0]
        mode = None
        if self.modes:
            modes = self.query_one("#exc-mode", OptionList)
            mode = self.modes[modes.highlighted if modes.highlighted is not None else 0][0]
        self.dismiss(ExceptionEntry(reason, plate, user, pin, lane, mode))

    def action_cancel(self) -> None:
        self.dismiss(None)
