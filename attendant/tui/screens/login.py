"""The login screen: user name and PIN, checked by :func:`attendant.core.users.authenticate`.

Shown when users exist (``users.any_users``); in setup mode the console
starts without it. The PIN field is masked and takes digits only. Enter in
the user field moves to the PIN; Enter in the PIN field logs in, in a thread
worker (group ``login``: an argon2id check costs about 40 ms, plus the
database) that touches no widget and posts :class:`LoginScreen.Succeeded` or
:class:`LoginScreen.Refused`.

The rules are the service's (``attendant/core/users.py``): three wrong PINs
in a row lock the user for an hour; a locked user is refused even with the
right PIN, and the message says until when, in facility time; an unknown
user gets the same message as a wrong PIN. The time used is the console's
clock (the service clock: a test's fixed clock, the demo's accelerated one).

The screen dismisses with a :class:`LoginResult`: the :class:`Actor` every
later service call is made by, and that user's open shift here (or None).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState

from attendant.core import users
from attendant.core.auth import Actor
from attendant.core.errors import AttendantError
from attendant.core.shifts import ShiftView
from attendant.tui.console_app import ConsoleApp
from attendant.tui.widgets.footer import ConsoleFooter


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Who logged in, and their open shift at this facility (None: none open)."""

    actor: Actor
    shift: ShiftView | None


class LoginScreen(Screen[LoginResult]):
    """User name + PIN; see the module docstring."""

    BINDINGS = [
        Binding("escape", "clear", "Clear"),
    ]

    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    LoginScreen #login-box {
        border: thick $border; background: $surface; padding: 1 2; width: 68; height: auto;
    }
    LoginScreen #login-facility { margin-bottom: 1; }
    LoginScreen .form-row Input { width: 1fr; }
    LoginScreen #login-result { height: auto; min-height: 2; margin-top: 1; }
    """

    app: ConsoleApp

    class Succeeded(Message):
        def __init__(self, result: LoginResult) -> None:
            super().__init__()
            self.result = result

    class Refused(Message):
        """Wrong PIN, unknown user, locked (``locked``), deactivated, or a malformed PIN."""

        def __init__(self, error: str, locked: bool) -> None:
            super().__init__()
            self.error = error
            self.locked = locked

    def __init__(self) -> None:
        super().__init__(id="login")
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static("", id="login-facility")
            with Horizontal(classes="form-row"):
                yield Label("User", classes="field-label")
                yield Input(placeholder="user name", id="login-user", max_length=40)
            with Horizontal(classes="form-row"):
                yield Label("PIN", classes="field-label")
                yield Input(placeholder="4 to 8 digits", id="login-pin", password=True, restrict=r"[0-9]*",
                            max_length=8)
            yield Static("", id="login-result")
            yield Static(
                Content.from_markup(
                    "[$accent b]Enter[/] next / log in  [$accent b]Tab[/] next field  [$accent b]Esc[/] clear  "
                    "[$accent b]^Q[/] quit"
                ),
                classes="hint",
            )
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#login-box").border_title = "Log in"
        self.query_one("#login-user", Input).focus()
        self._tick()
        if self.app.timers:
            self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Facility and its local time (the console clock), so a 'locked until' reads against it."""
        service = self.app.service
        facility = service.facility
        local = service.local(service.clock())
        self.query_one("#login-facility", Static).update(
            Content.assemble(
                (facility.name, "b"), (f" ({facility.code})", "$muted"), "  ",
                local.strftime("%a %d %b %Y "), (local.strftime("%H:%M"), "b"), local.strftime(" %Z"),
                "\nLog in with your user name and PIN",
            )
        )

    # --------------------------------------------------------------- actions
    @on(Input.Submitted, "#login-user")
    def _user_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.query_one("#login-pin", Input).focus()
        else:
            self._show(Content.assemble(("✗ ", "$fault b"), ("type your user name", "$fault")))

    @on(Input.Submitted, "#login-pin")
    def _pin_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_login()

    def action_login(self) -> None:
        if self.busy:
            return
        username = self.query_one("#login-user", Input).value.strip()
        pin = self.query_one("#login-pin", Input).value
        if not username:
            self._show(Content.assemble(("✗ ", "$fault b"), ("type your user name", "$fault")))
            self.query_one("#login-user", Input).focus()
            return
        if not pin:
            self._show(Content.assemble(("✗ ", "$fault b"), ("type your PIN", "$fault")))
            self.query_one("#login-pin", Input).focus()
            return
        self.busy = True
        self._show(Content.from_markup("[$muted]checking…[/]"))
        self.run_login(username, pin)

    def action_clear(self) -> None:
        self.query_one("#login-user", Input).value = ""
        self.query_one("#login-pin", Input).value = ""
        self._show("")
        self.query_one("#login-user", Input).focus()

    def _show(self, content: Content | str) -> None:
        self.query_one("#login-result", Static).update(content)

    # ---------------------------------------------------------------- worker
    @work(thread=True, exclusive=True, group="login", exit_on_error=False)
    def run_login(self, username: str, pin: str) -> None:
        """The booth's login (PIN, at the console clock), then the user's open shift (blocking)."""
        booth = self.app.booth
        try:
            actor = booth.login(username, pin)  # offline too, for users who logged in here before
            shift = booth.current_shift(actor)
        except users.UserLocked as exc:
            self.post_message(self.Refused(str(exc), locked=True))
            return
        except AttendantError as exc:
            self.post_message(self.Refused(str(exc), locked=False))
            return
        self.post_message(self.Succeeded(LoginResult(actor, shift)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.busy = False
            error = event.worker.error
            self._show(Content.assemble(("✗ login failed unexpectedly: ", "$fault b"), f"{type(error).__name__}: {error}"))

    @on(Succeeded)
    def _succeeded(self, message: Succeeded) -> None:
        self.busy = False
        pin = self.query_one("#login-pin", Input)
        pin.value = ""
        self.dismiss(message.result)

    @on(Refused)
    def _refused(self, message: Refused) -> None:
        self.busy = False
        pin = self.query_one("#login-pin", Input)
        pin.value = ""
        if message.locked:
            self._show(Content.assemble(("✗ LOCKED  ", "$fault b reverse"), " ", (message.error, "$fault b")))
        else:
            self._show(Content.assemble(("✗ ", "$fault b"), (message.error, "$fault")))
        pin.focus()
