"""Typed dialogs of the device features (STYLE.md rule 9: each ``dismiss()``-es a value).

- :class:`TicketNumberDialog` -> ``str | None``: the number of a ticket to
  reprint (digits, e.g. ``42`` or ``00000042``), None on Escape.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class TicketNumberDialog(ModalScreen[str | None]):
    """Asks for a ticket number; dismisses with the digits typed, or None on Escape.

    Only digits are accepted (``restrict``); an empty Enter keeps the dialog
    open with a hint. The number is checked by the service (``NotFound``).
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    TicketNumberDialog #reprint-box { width: 56; }
    TicketNumberDialog #reprint-number { width: 100%; }
    """

    def __init__(self, title: str = "Reprint a ticket by number", hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="reprint-box", classes="dialog"):
            yield Input(placeholder="ticket number, e.g. 42", id="reprint-number", max_length=12, restrict=r"[0-9]*")
            yield Static(self.hint, id="reprint-hint", classes="hint")
            yield Static(Content.from_markup("[$accent b]Enter[/] reprint  [$accent b]Esc[/] cancel"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#reprint-box").border_title = self.title_text
        self.query_one("#reprint-number", Input).focus()

    @on(Input.Submitted, "#reprint-number")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        number = event.value.strip()
        if not number:
            self.query_one("#reprint-hint", Static).update(Content.from_markup("[$warn]type the ticket number[/]"))
            return
        self.dismiss(number)

    def action_cancel(self) -> None:
        self.dismiss(None)
