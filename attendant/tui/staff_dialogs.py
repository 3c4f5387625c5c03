"""Staff dialogs of the shift screen: unlock a user (supervisors; issue 12 item 6).

:class:`UnlockUserDialog` lists the users locked out now by wrong PINs (every
source they are locked at, with the time the lock ends in facility time) and
takes a pick or a typed user name; the shift screen then calls
:meth:`attendant.core.users.StaffDesk.unlock` (a supervisor or admin only,
one transaction with a ``user.unlock`` audit event).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from attendant.core.errors import InputError
from attendant.core.users import UserView
from attendant.tui.dialogs import FormDialog, _focus_pick_list, _row


class UnlockUserDialog(FormDialog[str]):
    """Supervisors: the user to unlock, picked from the locked ones or typed; the result is the user name."""

    TITLE_TEXT = "Unlock a user (supervisor)"
    DEFAULT_CSS = """
    UnlockUserDialog #unlock-choices { height: auto; max-height: 10; margin-bottom: 1; }
    """

    def __init__(self, choices: Sequence[UserView] = (), tz: tzinfo | None = None) -> None:
        super().__init__("Pick a locked user (↑↓ Enter) or type a user name." if choices
                         else "Nobody is locked out now; type a user name to clear their failed PINs.")
        self.choices = list(choices)
        self.tz = tz

    def _label(self, user: UserView) -> str:
        where = ", ".join(
            f"{source} until {(until.astimezone(self.tz) if self.tz else until):%H:%M}"
            for source, until in user.locked_sources
        )
        return f"{user.username:<12} {user.display_name[:20]:<20} {user.role.value:<10} {where}"

    def on_mount(self) -> None:
        if self.choices:
            _focus_pick_list(self, "#unlock-choices")

    @on(OptionList.OptionSelected, "#unlock-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#unlock-user", Input).value = event.option.id or ""
        self.action_submit()

    def fields(self) -> ComposeResult:
        if self.choices:
            yield OptionList(*[Option(self._label(u), id=u.username) for u in self.choices], id="unlock-choices")
        yield _row("User", Input(placeholder="user name, e.g. bob", id="unlock-user", max_length=40))

    def value(self) -> str:
        text = self.query_one("#unlock-user", Input).value.strip()
        if not text:
            raise InputError("type the user name")
        return text
