"""The command palette's console commands (ctrl+p).

Every action of the console is listed here as well as bound to a key
(STYLE.md rule 10):

- :class:`ConsoleCommands` asks the app for its current commands
  (:meth:`AttendantApp.console_commands`), so per-level and per-theme entries
  follow the facility and the registered themes;
- :class:`MoneyCommands` lists the money and staff actions
  (:func:`money_commands`): the exit form's validation and let-go, the shift
  screen's open / drop / close / report / settle IOUs, log out, and for
  supervisors refund, new validation and closing another user's shift.

While nobody is logged in (the login screen is up) neither provider offers
anything: the palette keeps Textual's own commands (quit, keys). Supervisor
actions are left out for attendants; the services refuse them anyway.
Console commands act on the main screen, so from the shift screen they go
back to it first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

Command = tuple[str, str, Callable[[], object]]


def _on_main(app, callback: Callable[[], object]) -> Callable[[], object]:
    """``callback`` run on the main screen: the shift screens over it are closed first."""

    def run() -> object:
        while len(app.screen_stack) > 1 and app.screen is not app.main_screen:
            app.pop_screen()
        return callback()

    return run


def _push_lists(app) -> None:
    """The lists screen (vehicles inside, recent transactions) over the screen in front."""
    from attendant.tui.screens.lists import ListsScreen

    app.push_screen(ListsScreen())


def money_commands(app) -> list[Command]:
    """(title, help, callback) of the money and staff actions for the logged-in actor of ``app``."""
    if not getattr(app, "logged_in", True):
        return []
    from attendant.tui.widgets.exit_form import ExitForm

    main = app.main_screen
    form = main.query_one(ExitForm) if main.is_mounted else None
    commands: list[Command] = []
    if form is not None:
        commands += [
            ("Exit: apply a validation", "ctrl+n · a merchant's validation code off the ticket on screen",
             _on_main(app, form.action_validation)),
            ("Exit: let go with an IOU", "ctrl+g · never trap a car: gate opens, the balance becomes an IOU "
             "(reason required)", _on_main(app, form.action_let_go)),
        ]
    commands.append(("Lists: vehicles inside and recent transactions",
                     "ctrl+s, l · search by plate or ticket; Enter looks up, ctrl+r reprints",
                     partial(_push_lists, app)))
    if app.user is not None:
        shift = app.shift
        commands.append(("Shift: show my shift", "ctrl+s · figures so far, drops, report", app.action_shift))
        if shift is None:
            commands.append(("Shift: open with a float", "ctrl+s, o · count the float into the drawer",
                             partial(app.action_shift, "open_shift")))
        else:
            commands += [
                ("Shift: cash drop", "ctrl+s, d · cash from the drawer to the safe, with a note",
                 partial(app.action_shift, "drop")),
                ("Shift: close and count up", "ctrl+s, c · count the drawer by denomination, over/short, report",
                 partial(app.action_shift, "close_shift")),
            ]
        commands += [
            ("Shift: print the report", "ctrl+s, p · the shift report on screen and on the printer",
             partial(app.action_shift, "print_report")),
            ("Settle the IOUs of a plate", "ctrl+s, i · the prepay a plate with unpaid IOUs needs before entry",
             partial(app.action_shift, "settle_ious")),
        ]
        if app.is_supervisor:
            commands += [
                ("Refund a payment", "ctrl+s, r · supervisor: refund all or part of a payment, with a reason",
                 partial(app.action_shift, "refund")),
                ("Create a validation", "ctrl+s, v · supervisor: a merchant validation (amount, percent, minutes)",
                 partial(app.action_shift, "new_validation")),
                ("Close another user's shift", "ctrl+s, x · supervisor: count up and close a shift by number",
                 partial(app.action_shift, "close_other")),
                ("Bay out of service / back", "ctrl+s, b · supervisor: cone off a bay (reason) or reopen it",
                 partial(app.action_shift, "bay_service")),
                ("Unlock a user", "ctrl+s, u · supervisor: a user locked out by wrong PINs may log in again",
                 partial(app.action_shift, "unlock_user")),
            ]
    if getattr(app, "login_required", False):
        commands.append(("Log out", "ctrl+y · back to the login screen", app.action_logout))
    return commands


class CommandList(Provider):
    """A palette provider over a list of ``(title, help, callback)``: subclasses give :meth:`_commands`."""

    def _commands(self) -> list[Command]:  # pragma: no cover - overridden
        return []

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(callback), help=help_text)


class ConsoleCommands(CommandList):
    """Entry, exit, queues, lost ticket, levels, themes, printout, quit."""

    def _commands(self) -> list[Command]:
        app = self.app
        if not getattr(app, "logged_in", True):
            return []
        return [(title, help_text, _on_main(app, callback))
                for title, help_text, callback in app.console_commands()]  # type: ignore[attr-defined]


class MoneyCommands(CommandList):
    """Payments, validations, IOUs, the shift, refunds, log out (see :func:`money_commands`)."""

    def _commands(self) -> list[Command]:
        return money_commands(self.app)
