"""The attendant console: a Textual app over :class:`attendant.booth.Booth`.

One factory, :func:`make_app`, builds the app for the CLI (:func:`run_console`)
and for the tests, so the tests run the wiring the attendant gets
(STYLE.md rule 1). The app owns the services and the threads around them:

- the :class:`Booth` of the configured lanes (its services sign tickets with
  the installation secret), built by :func:`attendant.booth.open_booth`, the
  same wiring the CLI uses;
- the service listener, called on whatever thread changed a bay: it records
  the change and posts at most one :class:`SpotsChanged` per batch;
- the :class:`~attendant.tui.devices.DeviceHub` (started on mount, stopped
  on unmount): every lane's scanner, camera and gate listener, and the device
  health monitor; device threads only post messages to the main screen;
- in the demo, the :class:`TrafficReplayer` thread (started after the
  first paint, stopped on unmount) and its lane queues.

Start-up (issue 12 item 10; ``benchmarks/bench_console.py`` measures first
paint, usable and quit): :func:`run_console`, what the CLI runs, paints
first and opens after (:func:`deferred_app`). Its first screen is the main
screen's layout in a loading state (:mod:`attendant.tui.screens.loading`),
built from Textual alone; after that paint a thread imports the database
layer, opens the database and the booth (:func:`open_console`) and imports
the main screen, which then replaces the loading screen (in the app's
``console`` mode). The tests build the console with :func:`make_app`, which
opens the booth first, so every screen they see is the opened console. The
count signs, the change watcher, the journal worker, the sweeps and the
replay start after the main screen's first paint
(:meth:`AttendantApp.start_background_work`), so it is not kept waiting by
their threads.

Staff: once users exist (``users.any_users``) the console starts on the
login screen (:mod:`attendant.tui.screens.login`) and the logged-in
:class:`~attendant.core.auth.Actor` makes every service call (entries,
exits, payments); its role and shift show in the top bar. ``ctrl+s`` opens
the shift screen (:mod:`attendant.tui.screens.shift`), ``ctrl+y`` logs out.
In setup mode (no users yet) the named actor acts, as before.

Quitting (``ctrl+q``) asks every thread to stop at once, closes the devices
in parallel (``Booth.close``) and waits at most :data:`QUIT_JOIN_S` for the
replay and the change watcher.
"""

from __future__ import annotations

import getpass
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from attendant import startup
from attendant.core.auth import Actor, Role
from attendant.tui.commands import ConsoleCommands, MoneyCommands
from themes import (
    DEFAULT_THEME,
    STYLESHEET,
    THEMES,
    domain_defaults,
    next_theme,
    register_themes,
)

# Everything below is imported when the console opens its facility, not at start-up: the database layer
# (SQLAlchemy, SQLModel, pydantic), the services, the main screen and its widgets load in a thread after the
# first paint of a deferred console (run_console; issue 12 item 10, benchmarks/bench_console.py).
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from attendant.booth import Booth
    from attendant.core.shifts import ShiftView
    from attendant.core.vocab import SpotStatus
    from attendant.demo import QueuedVehicle, TrafficReplayer
    from attendant.tui.screens.login import LoginResult
    from attendant.tui.screens.main import MainScreen
    from hardware.config import ConsoleConfig, LaneConfig

log = logging.getLogger(__name__)
#: The longest quitting waits, in seconds, for the replay and the change watcher to end (both together).
QUIT_JOIN_S = 1.0
#: Who the console's minute-by-minute reservation sweep acts as (an automaton of this installation).
RESERVATION_SWEEPER = Actor("console:reservations", Role.ATTENDANT, system=True)

__all__ = ["AttendantApp", "OpenedConsole", "deferred_app", "make_app", "open_console", "run_console"]


@dataclass
class OpenedConsole:
    """What the console runs on, once its facility is open (:func:`open_console`): the booth, who acts
    (``actor``; None until a login when ``login``), the demo's replay (or None), and ``notes`` to show the
    attendant once the console is up (plain sentences)."""

    booth: Booth
    actor: Actor | str | None
    login: bool
    replayer: TrafficReplayer | None = None
    theme: str | None = None
    notes: tuple[str, ...] = ()


class ConsoleOpened(Message):
    """The deferred console's facility is open (posted by the opening thread)."""

    def __init__(self, opened: OpenedConsole) -> None:
        super().__init__()
        self.opened = opened


class ConsoleOpenFailed(Message):
    """The deferred console could not open its facility (posted by the opening thread); ``error`` is raised
    again by :func:`run_console` once the terminal is restored, so the CLI reports it as any command's error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


def _messages():
    """:mod:`attendant.tui.messages`, imported once the console has opened (it brings the services' types)."""
    from attendant.tui import messages

    return messages


class AttendantApp(App[None]):
    """The console. Build it with :func:`make_app`."""

    CSS_PATH = STYLESHEET
    TITLE = "attendant console"
    # Size classes on every screen (Textual breakpoints), used by themes/console.tcss: the layout
    # adapts from 80x24 (one column, one form open at a time) to 160x50 and up (map beside the forms).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-medium"), (160, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-tiny"), (30, "-short"), (50, "-tall")]
    COMMANDS = App.COMMANDS | {ConsoleCommands, MoneyCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f9", "cycle_theme", "Theme"),
        # staff: the shift screen and log out (hidden when nobody is logged in, see check_action)
        Binding("ctrl+s", "shift", "Shift"),
        Binding("ctrl+y", "logout", "Log out"),
        Binding("ctrl+b", "reports", "Reports"),
        # void, manual entry, move, anti-passback reset, counts (attendant/tui/corrections.py; also in the palette)
        Binding("f11", "corrections", "Corrections", show=False),
        # help for the screen in front: Textual's HelpPanel, generated from the active bindings (shown or not)
        Binding("f1", "help", "Help", show=False),
        # today's reservations (arriving, late, checked in, overstaying, no-shows); priority: a form's field
        # never takes it (its ctrl+e "end of line" is the End key too)
        Binding("ctrl+e", "reservations", "Reservations", show=False, priority=True),
    ]

    def __init__(
        self,
        booth: Booth | None,
        *,
        actor: Actor | str | None,
        login: bool = False,
        replayer: TrafficReplayer | None = None,
        replay_speed: float | None = None,
        theme: str | None = None,
        timers: bool = True,
        opener: Callable[[], OpenedConsole] | None = None,
        loading_title: str = "",
    ) -> None:
        """``booth`` open (:func:`make_app`), or None with ``opener``: the console paints its layout in a
        loading state (:class:`~attendant.tui.screens.loading.LoadingScreen`, ``loading_title`` in its top
        bar) and calls ``opener`` in a thread after the first paint (:func:`run_console`)."""
        super().__init__()
        if booth is None and opener is None:
            raise ValueError("AttendantApp needs a booth or an opener")
        self.timers = timers  # the periodic clock, figures and login ticks (tests turn them off)
        self.booth: Booth = None  # type: ignore[assignment] - set by _attach (at once, or once opened)
        self.service = None  # the booth's services (read-only views, back office)
        # staff: who every service call is made by (None while logged out), and their open shift here
        self.actor: Actor | str | None = None
        self.login_required = False
        self.shift: ShiftView | None = None
        self.replayer: TrafficReplayer | None = None
        self.change_watcher = None  # follows other booths' commits (start_change_watcher)
        self.booth_name = ""  # this console among the booths (ATTENDANT_BOOTH, else host-pid; set by _attach)
        self.lane_publisher = None  # writes this booth's lanes for the other consoles (start_change_watcher)
        self.backup_schedule = None  # scheduled backups (start_backup_schedule)
        self.replay_speed = replay_speed
        self.entry_lane: LaneConfig | None = None
        self.exit_lane: LaneConfig | None = None
        self._pending_lock = threading.Lock()
        self._pending: dict[int, SpotStatus] = {}
        self._tickets: OrderedDict[str, tuple[str, str]] = OrderedDict()  # code -> (ticket_no, label)
        self._services_closed = False
        self._background_started = False  # start_background_work ran (after the first paint)
        self._journal_stop = threading.Event()  # stops the journal worker (start_journal_worker)
        self._opener = opener
        self._loading_title = loading_title
        self.open_error: BaseException | None = None  # the deferred opening failed: run_console raises it
        self.notes: tuple[str, ...] = ()
        self.main_screen: MainScreen = None  # type: ignore[assignment] - built by _attach
        self.device_hub = None
        register_themes(self)
        self._theme_warning = None
        self._set_theme(theme)
        if booth is not None:
            self._attach(OpenedConsole(booth, actor, login, replayer))

    def _set_theme(self, theme: str | None) -> None:
        wanted = theme or DEFAULT_THEME
        if wanted not in THEMES:
            self._theme_warning = f"unknown theme {wanted!r}: using {DEFAULT_THEME} (themes: {', '.join(THEMES)})"
            wanted = DEFAULT_THEME
        self.theme = wanted

    @property
    def opened(self) -> bool:
        """True once the console has its booth (at once from :func:`make_app`; after loading when deferred)."""
        return self.main_screen is not None

    def _attach(self, opened: OpenedConsole) -> None:
        """Take the open booth: the lanes, the main screen and the device hub (not started yet)."""
        from attendant.core.lane_status import booth_name
        from attendant.core.vocab import LaneDirection
        from attendant.tui.devices import DeviceHub
        from attendant.tui.screens.main import MainScreen

        booth = opened.booth
        self.booth = booth
        self.service = booth.service
        self.actor = None if opened.login else opened.actor
        self.login_required = opened.login
        self.replayer = opened.replayer
        self.notes = opened.notes
        self.booth_name = booth_name()
        self.entry_lane = booth.lane(None, LaneDirection.ENTRY)
        self.exit_lane = booth.lane(None, LaneDirection.EXIT)
        for lane in booth.config.lanes:  # stand-ins and configured drivers: no blocking I/O here
            booth.devices(lane)
        self.main_screen = MainScreen()
        # Device wiring (see attendant/tui/devices.py): the hub starts every lane's
        # scanner, camera and gate listener on mount and stops them on unmount; its
        # threads only post messages to the main screen.
        self.device_hub = DeviceHub(booth, self.main_screen.post_message, clock=booth.service.clock)

    # ----------------------------------------------------------- life cycle
    def get_default_screen(self) -> Screen:
        if self.main_screen is not None:
            return self.main_screen
        from attendant.tui.screens.loading import LoadingScreen

        return LoadingScreen(self._loading_title)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return domain_defaults()

    def on_mount(self) -> None:
        if self._theme_warning:
            self.notify(self._theme_warning, severity="warning")
        if self.main_screen is None:
            # Deferred (run_console): the layout is on screen in its loading state; the database layer, the
            # services and the facility load in a thread once it is painted (issue 12 item 10).
            self.call_after_refresh(self._open_facility)
            return
        self._start_console()

    def _start_console(self) -> None:
        self.service.listeners.append(self._spot_listener)
        self.device_hub.start()  # device wiring: scanners, cameras, gate listeners, health monitor
        if self.login_required:  # staff: users exist, so the console asks for a PIN first
            self.show_login()
        else:
            self.call_after_refresh(self.staff_changed)
        for note in self.notes:
            self.notify(note, timeout=12)
        # The background work starts once the first screen is painted: its threads (the replay's prefill
        # above all) would otherwise hold the interpreter while Textual lays out and paints (issue 12 item 10,
        # measured with benchmarks/bench_console.py).
        self.call_after_refresh(self.start_background_work)

    def _open_facility(self) -> None:
        """After the first paint of a deferred console: run the opener in a thread (the database layer's
        imports, the schema check, the facility, the booth); it posts :class:`ConsoleOpened` or
        :class:`ConsoleOpenFailed`."""
        opener = self._opener
        # What start-up built is frozen out of the collector's passes and the CLI's pause starts again for the
        # database layer's imports (attendant/startup.py bounds a pause at 2 s: counted from the process's start,
        # it could end in the middle of them on a busy machine; opening the services ends it, as for any command).
        startup.renew()

        def run() -> None:
            try:
                opened = opener()
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the CLI, which reports it
                self.post_message(ConsoleOpenFailed(exc))
            else:
                if self._services_closed:  # the attendant quit while it opened: nobody will take the booth
                    opened.booth.close()
                    return
                self.post_message(ConsoleOpened(opened))

        threading.Thread(target=run, name="console-open", daemon=True).start()

    async def on_console_opened(self, message: ConsoleOpened) -> None:
        if self._services_closed:  # quit while opening: close what was opened
            message.opened.booth.close()
            return
        startup.pause()  # the main screen's widgets are built with the collector paused, as at a first paint
        self._attach(message.opened)
        if message.opened.theme and message.opened.theme != self.theme:
            self._set_theme(message.opened.theme)
            if self._theme_warning:
                self.notify(self._theme_warning, severity="warning")
        # The loading screen is the default mode's (Textual cannot switch away from a default screen): the
        # console runs in its own mode from here on, the main screen at the bottom of its stack.
        self.add_mode("console", lambda: self.main_screen)
        await self.switch_mode("console")
        self._start_console()

    def open_now(self) -> None:
        """Open the facility of a deferred console here and now, before it runs (blocking; raises what the
        opening raises): for a console whose output is not a terminal, where painting first gains nothing."""
        if self.main_screen is None:
            opened = self._opener()
            self._attach(opened)
            if opened.theme:
                self._set_theme(opened.theme)

    def on_console_open_failed(self, message: ConsoleOpenFailed) -> None:
        self.open_error = message.error
        self.exit(return_code=2)

    def start_background_work(self) -> None:
        """After the first paint: the count signs, the change watcher, scheduled backups, the journal worker,
        the reservation sweep (``timers``) and the demo's traffic replay. Does nothing once quitting began."""
        if self._services_closed or self._background_started:
            return
        self._background_started = True
        startup.resume()  # run_console's pause of the garbage collector ends with the first paint
        self.start_signs()
        if self.timers:  # other booths' changes, live (a background thread: off when tests drive time)
            self.start_change_watcher()
            self.start_backup_schedule()
            self.start_journal_worker()
            self.start_reservation_sweep()
        if self.replayer is not None:
            self.replayer.on_change = self._queues_changed
            self.replayer.start(prefill=True)

    def on_unmount(self) -> None:
        if self.login_required and self.user is not None:
            self._record_logout(self.user, "quit", wait=True)
        self.shutdown_services()

    def _record_logout(self, user: Actor | None, reason: str, *, wait: bool = False) -> None:
        """Audit ``user``'s logout off the UI thread (``wait``: at quit, finish before leaving).

        A database that refuses is logged, never raised: leaving the console must always work.
        """
        if user is None:
            return

        def record() -> None:
            try:
                self.booth.staff.logout(user, reason=reason)
            except Exception:  # noqa: BLE001 - an audit failure must not trap the attendant in the console
                logging.getLogger(__name__).exception("could not audit the logout of %s", user.name)

        worker = threading.Thread(target=record, name="audit-logout", daemon=not wait)
        worker.start()
        if wait:
            worker.join(timeout=5)

    def shutdown_services(self) -> None:
        """Stop the replay, the watchers and the devices; idempotent.

        Every thread is told to stop first, so they wind down together; the devices close in parallel
        (``Booth.close``); then the replay and the change watcher are waited for, together at most
        :data:`QUIT_JOIN_S` seconds: the replay ends after the vehicle it is processing (one transaction),
        the watcher after its current poll. A thread still running then is a daemon: whatever it had not
        committed is rolled back by the database, nothing acknowledged is lost (issue 12 item 10).
        """
        if self._services_closed:
            return
        self._services_closed = True
        if self.booth is None:  # quit before the facility opened (a deferred console): nothing runs yet
            return
        for listener in (self._spot_listener, getattr(self.booth.sign_board, "spot_changed", None)):
            try:
                self.service.listeners.remove(listener)
            except ValueError:
                pass
        if self.replayer is not None:
            self.replayer.stop(timeout=0)  # asks; waited for below
        if self.change_watcher is not None:
            self.change_watcher.stop(timeout=0)
        self._journal_stop.set()
        self.device_hub.stop()  # device wiring: the health monitor (woken at once, joins with a timeout)
        if self.lane_publisher is not None:
            try:  # other consoles stop showing this booth's lanes now, not when its rows go stale
                self.lane_publisher.withdraw()
            except Exception:  # noqa: BLE001 - a database that is away: the rows go stale by themselves
                pass
        self.booth.close()
        deadline = time.monotonic() + QUIT_JOIN_S
        for worker in (self.replayer, self.change_watcher):
            if worker is not None:
                worker.stop(timeout=max(0.0, deadline - time.monotonic()))

    def start_backup_schedule(self) -> None:
        """Scheduled backups (console config ``backup_every_minutes``, ``backup_dir``, ``backup_keep``): the
        console's timer starts each one in a worker thread (:class:`attendant.core.backup.BackupSchedule`),
        so the lane never waits; a failure is shown, never raised."""
        config = self.booth.config
        if not config.backup_every_minutes or not config.backup_dir:
            return
        from attendant.core.backup import BackupSchedule

        def done(path, error) -> None:  # the worker's thread
            if error:
                try:
                    self.call_from_thread(self.notify, f"Scheduled backup failed: {error}", severity="error",
                                          timeout=10)
                except RuntimeError:  # the console is closing
                    logging.getLogger(__name__).error("scheduled backup failed: %s", error)

        self.backup_schedule = BackupSchedule(self.service.engine, config.backup_dir, config.backup_keep,
                                              on_done=done)
        self.set_interval(config.backup_every_minutes * 60, self.backup_schedule.start)

    def start_journal_worker(self, every: float = 3.0) -> None:
        """While the database is away the lanes journal (:mod:`attendant.booth.offline`); this thread, never the
        UI, replays the journal when the database is back, keeps the reserve of offline ticket numbers and the
        snapshot current, and has the map reloaded after a replay. The status bar shows OFFLINE from memory."""
        offline = self.booth.offline
        if offline is None:
            return
        offline.inline_retry = False  # the lanes never wait for a connect timeout: this worker probes
        attached = offline.on_service

        def reattached(service) -> None:  # started without the database, which is back: its real services
            if attached is not None:
                attached(service)
            self.service = service
            self.main_screen.post_message(_messages().LiveState("resync"))

        offline.on_service = reattached

        def run() -> None:
            while not self._journal_stop.wait(every):
                before = offline.state().waiting
                try:
                    offline.tick()
                except Exception:  # noqa: BLE001 - the worker must outlive any one failure; it says so
                    logging.getLogger(__name__).exception("journal worker")
                if before and not offline.state().waiting:
                    # replayed: reload bays and figures
                    self.main_screen.post_message(_messages().LiveState("resync"))

        threading.Thread(target=run, name="journal-worker", daemon=True).start()

    def start_change_watcher(self) -> None:
        """Follow what other booths commit (:mod:`attendant.core.changes`): bays repaint and today's figures
        refresh within a second; a lost connection shows, then everything is reloaded once it is back."""
        from attendant.core.changes import ChangeWatcher
        from attendant.core.lane_status import LanePublisher

        self.lane_publisher = LanePublisher(self.service.engine, self.service.facility.id, self.booth_name)

        def changed(changes) -> None:  # the watcher's thread
            if self.booth.sign_board is not None:  # every booth's commits reach the count signs
                self.booth.sign_board.changed(changes)
            for spot_id, status in self.service.apply_changes(changes):
                self._spot_listener(spot_id, status)
            kinds = frozenset(c.kind for c in changes
                              if c.kind != "spot" and not (c.kind == "lane" and c.body.get("booth") == self.booth_name))
            if kinds:
                self.main_screen.post_message(_messages().OthersChanged(kinds))

        self.change_watcher = ChangeWatcher(
            self.service.engine, changed, facility_id=self.service.facility.id,
            on_resync=self._resynced,
            on_state=self._feed_state,
        ).start()

    def _feed_state(self, state: str) -> None:
        """The change watcher's state (its thread): shown on screen; once live, the signs count again, so a
        commit made between their first count and the feed's start is not missed."""
        if state == "live" and self.booth.config.signs:
            if self.booth.sign_board is not None:
                self.booth.sign_board.resync()
            else:  # the database was away when the console started: the signs start now
                self._open_signs_quietly()
        self.main_screen.post_message(_messages().LiveState(state))

    def _open_signs_quietly(self) -> None:
        try:
            board = self.booth.open_signs()
        except Exception:  # still away: the next time the feed is live tries again
            logging.getLogger(__name__).warning("count signs could not be opened", exc_info=True)
            return
        if board is not None and board.spot_changed not in self.service.listeners:
            self.service.listeners.append(board.spot_changed)

    def _resynced(self) -> None:
        """The change feed is back after a loss (watcher thread): reload the signs' counts and the screen."""
        if self.booth.sign_board is not None:
            self.booth.sign_board.resync()
        self.main_screen.post_message(_messages().LiveState("resync"))

    def start_signs(self) -> None:
        """Open the count signs of the config (:mod:`attendant.booth.signs`): this console's own bay changes
        reach them at once (a service listener), other booths' through the change watcher; their health
        shows in the device panel. A board that cannot open (the database away) is shown, never raised."""
        try:
            board = self.booth.open_signs()
        except Exception as exc:  # signs are information only: the lanes go on without them
            logging.getLogger(__name__).exception("count signs could not be opened")
            self.notify(f"Count signs not started: {exc}", severity="warning", timeout=10)
            return
        if board is not None:
            self.service.listeners.append(board.spot_changed)

    # ------------------------------------------------- from other threads
    def _spot_listener(self, spot_id: int, status: SpotStatus) -> None:
        """Service listener (any thread): record; post one message per batch."""
        if self.queue_spot_change(spot_id, status):
            self.main_screen.post_message(_messages().SpotsChanged())

    def queue_spot_change(self, spot_id: int, status: SpotStatus) -> bool:
        """Record a bay change; True if it starts a new batch (thread-safe)."""
        with self._pending_lock:
            first = not self._pending
            self._pending[spot_id] = status
        return first

    def drain_spot_changes(self) -> dict[int, SpotStatus]:
        """Take the bay changes recorded since the last call (latest status per bay)."""
        with self._pending_lock:
            changes, self._pending = self._pending, {}
        return changes

    def _queues_changed(self) -> None:
        self.main_screen.post_message(_messages().QueuesChanged())

    # ------------------------------------------------------ lanes & devices
    @staticmethod
    def lane_title(lane: LaneConfig | None) -> str:
        return f"{lane.code} {lane.name}" if lane else "no lane configured"

    @property
    def replay_label(self) -> str:
        if self.replayer is None:
            return ""
        speed = f" ×{self.replay_speed:g}" if self.replay_speed else ""
        return f"replay{speed} · {self.replayer.processed} vehicles"

    def take_queued(self, lane: LaneConfig | None) -> QueuedVehicle | None:
        """The next vehicle waiting at ``lane`` (replay only), removed from its queue."""
        if self.replayer is None or lane is None:
            return None
        return self.replayer.take(lane.code)

    def printout_text(self, lane: LaneConfig | None) -> str:
        """Plain-text picture of the last job of ``lane``'s printer ("" if it keeps none)."""
        if lane is None:
            return ""
        printer = self.booth.devices(lane).printer
        return getattr(printer, "last_text", "") or ""

    def _exit_scanner(self):
        return self.booth.devices(self.exit_lane).scanner if self.exit_lane else None

    def can_scan(self) -> bool:
        """True when the exit lane's scanner is a stand-in that takes pushed codes."""
        scanner = self._exit_scanner()
        return self.device_hub.started and hasattr(scanner, "push")

    def scan(self, code: str) -> None:
        """Demo: present ``code`` to the exit lane's stand-in scanner."""
        scanner = self._exit_scanner()
        if scanner is not None and hasattr(scanner, "push"):
            scanner.push(code)

    # --------------------------------------------------- tickets issued here
    def remember_ticket(self, code: str, ticket_no: str, plate: str | None, bay: str) -> None:
        self._tickets[code] = (ticket_no, f"{ticket_no}  {plate or '(no plate)':<10} bay {bay}")
        while len(self._tickets) > 50:
            self._tickets.popitem(last=False)

    def forget_ticket(self, ticket_no: str) -> None:
        for code, (number, _label) in list(self._tickets.items()):
            if number == ticket_no:
                del self._tickets[code]

    def open_tickets(self) -> list[tuple[str, str]]:
        """(code, label) of tickets issued at this console and not yet exited, newest first."""
        return [(code, label) for code, (_n, label) in reversed(self._tickets.items())]

    # -------------------------------------------------------------- actions
    def action_cycle_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"Theme: {self.theme}", timeout=2)

    def set_theme(self, name: str) -> None:
        self.theme = name

    def get_system_commands(self, screen: Screen):
        for command in super().get_system_commands(screen):
            if command.title != "Theme":  # the console's own theme commands replace it
                yield command

    # ---------------------------------------------------- staff: login, shift
    @property
    def logged_in(self) -> bool:
        """True when an actor is set (a logged-in user, or the named actor of setup mode and scripts)."""
        return self.actor is not None

    @property
    def user(self) -> Actor | None:
        """The logged-in user (an Actor with a user id), or None."""
        actor = self.actor
        return actor if isinstance(actor, Actor) and actor.user_id is not None else None

    @property
    def is_supervisor(self) -> bool:
        """True for a logged-in supervisor or admin (the services check again: RBAC is theirs)."""
        actor = self.actor
        return isinstance(actor, Actor) and actor.role.rank >= Role.SUPERVISOR.rank

    @property
    def actor_label(self) -> str:
        """``"bob (attendant)"``; a named actor without a login says so."""
        actor = self.actor
        if actor is None:
            return "logged out"
        if isinstance(actor, Actor):
            return f"{actor.name} ({actor.role.value})"
        return f"{actor} (no login)"

    def show_login(self) -> None:
        """Put the login screen over the console (screens.login)."""
        from attendant.tui.screens.login import LoginScreen

        self.push_screen(LoginScreen(), self._logged_in)

    def _logged_in(self, result: LoginResult | None) -> None:
        if result is None:  # popped without a login (never by keys): ask again
            self.call_later(self.show_login)
            return
        self.actor, self.shift = result.actor, result.shift
        self.staff_changed()
        hint = "" if self.shift else "  No shift open: ctrl+s, then o, to open one."
        self.notify(f"Logged in as {self.actor_label}.{hint}", title="Welcome", timeout=6)
        if getattr(result.actor, "weak_pin", False):
            self.notify("Your PIN has fewer than 6 digits: set a new one "
                        f"(attendant user passwd {result.actor.name} --pin NEW) or ask a supervisor.",
                        title="PIN too short",
                        severity="warning", timeout=12)

    def set_shift(self, shift: ShiftView | None) -> None:
        """The logged-in user's open shift changed (opened, closed, reloaded)."""
        if shift != self.shift:
            self.shift = shift
            self.staff_changed()

    def staff_changed(self) -> None:
        """Show who is logged in and their shift in the top bar; warn the exit form; refresh the footer."""
        label = self.actor_label if self.login_required else ""  # setup mode: the bar stays as it was
        notice = None
        if self.user is not None:
            label += f" · shift #{self.shift.id}" if self.shift else " · no shift"
            if self.shift is None:
                notice = "no open shift: payments are refused until one is open (ctrl+s, then o)"
        if self.main_screen is not None and self.main_screen.is_mounted:
            from attendant.tui.widgets.exit_form import ExitForm
            from attendant.tui.widgets.facility_bar import FacilityBar

            self.main_screen.query_one(FacilityBar).set_figures(user=label)
            self.main_screen.query_one(ExitForm).set_shift_notice(notice)
        self.refresh_bindings()

    def action_shift(self, then: str | None = None) -> None:
        """ctrl+s: the shift screen (screens.shift); ``then`` runs one of its actions (palette). Without staff
        users (the demo, setup mode) there are no shifts: it says so and how to add a user."""
        if not self.logged_in:
            return
        if self.user is None:
            url = self.service.engine.url.render_as_string(hide_password=True)
            self.notify("Shifts belong to staff users, and this console runs without logins. Add one with "
                        f"`attendant --db {url} user add NAME --role admin --pin PIN`, then start the console "
                        "again to log in.", title="No shifts without users", severity="warning", timeout=10)
            return
        from attendant.tui.screens.shift import ShiftScreen

        screen = self.screen if isinstance(self.screen, ShiftScreen) else None
        if screen is None:
            while len(self.screen_stack) > 1 and self.screen is not self.main_screen:
                self.pop_screen()
            screen = ShiftScreen()
            self.push_screen(screen)
        if then:
            self.call_after_refresh(screen.run_action, then)

    def action_reports(self, period: str = "daily") -> None:
        """ctrl+b: the reports screen (day, week, month of revenue, traffic and occupancy)."""
        from attendant.tui.screens.reports import ReportScreen

        if isinstance(self.screen, ReportScreen):
            self.screen.action_period(period)
            return
        while len(self.screen_stack) > 1 and self.screen is not self.main_screen:
            self.pop_screen()
        self.push_screen(ReportScreen(period))

    def action_corrections(self) -> None:
        """F11: corrections (void, manual entry, move, anti-passback reset, count check and adjust)."""
        if not self.logged_in:
            return
        from attendant.tui.corrections import open_corrections

        open_corrections(self)

    def action_exceptions_report(self) -> None:
        """The reports screen's exceptions tab (today), from the command palette."""
        from attendant.tui.screens.reports import ReportScreen

        self.action_reports("daily")
        self.call_after_refresh(lambda: isinstance(self.screen, ReportScreen) and not self.screen.exceptions_tab
                                and self.screen.action_exceptions())

    def action_help(self) -> None:
        """F1: show or hide the keys of the screen in front (Textual's HelpPanel lists every active binding,
        footer or not, with the focused widget's own help)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def unfinished_work(self) -> str | None:
        """What quitting or logging out would interrupt, in words (None: nothing): a payment being taken or a
        fee on screen at the exit form, an open shift of the logged-in user (issue 12 item 3)."""
        if self.main_screen is not None and self.main_screen.is_mounted:
            from attendant.tui.widgets.exit_form import ExitForm

            form = self.main_screen.query_one(ExitForm)
            if form.busy:
                return "a payment is being taken at the exit form"
            if form.checkout is not None:
                return f"ticket {form.checkout.code} is on the exit form, not paid yet"
        if self.shift is not None:
            return f"your shift #{self.shift.id} is open (it stays open; close it with ctrl+s)"
        return None

    def _confirm_then(self, what: str, label: str, then: Callable[[], object]) -> None:
        from attendant.tui.dialogs import ConfirmDialog

        pending = self.unfinished_work()
        if pending is None or isinstance(self.screen, ConfirmDialog):
            then()
            return
        self.push_screen(ConfirmDialog(f"{what}?", f"{pending[0].upper()}{pending[1:]}.\n\n{what} anyway?",
                                       confirm=label), lambda yes: then() if yes else None)

    async def action_quit(self) -> None:
        """ctrl+q: quit, after a confirmation while a shift is open or a payment is in progress."""
        self._confirm_then("Quit", "quit", self.exit)

    def action_reservations(self) -> None:
        """ctrl+e: today's reservations (arriving, late, checked in, overstaying, no-shows)."""
        from attendant.tui.screens.reservations import ReservationScreen

        if isinstance(self.screen, ReservationScreen):
            self.screen.action_refresh_board()
            return
        while len(self.screen_stack) > 1 and self.screen is not self.main_screen:
            self.pop_screen()
        self.push_screen(ReservationScreen())

    def start_reservation_sweep(self, every: float = 60.0) -> None:
        """Every minute, in a worker thread: hold the bays whose hold begins and mark no-shows
        (:meth:`attendant.core.reservations.ReservationOps.sweep`, what ``attendant reservation sweep`` runs);
        a no-show is notified, a failure logged (the lanes never wait for it)."""
        self.set_interval(every, self.sweep_reservations)

    def sweep_reservations(self) -> None:
        def run() -> None:
            try:
                done = self.service.sweep(actor=RESERVATION_SWEEPER)
            except Exception:  # noqa: BLE001 - a database away: the next minute tries again
                log.warning("reservation sweep failed", exc_info=True)
                return
            missed = done["no_show"] + done["expired"]
            if missed:
                try:
                    self.call_from_thread(self.notify, f"No-show: {', '.join(missed)} (hold released)",
                                          title="Reservations", timeout=8)
                except RuntimeError:  # the console is closing
                    pass

        threading.Thread(target=run, name="reservation-sweep", daemon=True).start()

    def set_allocation_strategy(self, name: str) -> None:
        """Switch the facility's allocation strategy (supervisors; audited), off the UI thread."""

        def run() -> None:
            try:
                self.service.set_strategy(name, actor=self.actor)
                message, severity = f"Allocation strategy: {name.replace('_', ' ')} (every booth)", "information"
            except Exception as exc:  # noqa: BLE001 - refused (role) or the database away: say so
                message, severity = str(exc), "error"
            try:
                self.call_from_thread(self.notify, message, title="Allocation", severity=severity, timeout=6)
            except RuntimeError:
                pass

        threading.Thread(target=run, name="set-strategy", daemon=True).start()

    def action_logout(self) -> None:
        """ctrl+y: log out (after a confirmation while a shift is open or a payment is in progress): back to the
        login screen; the next user logs in with their PIN."""
        if not (self.login_required and self.logged_in):
            return
        self._confirm_then("Log out", "log out", self._logout_now)

    def _logout_now(self) -> None:
        if not (self.login_required and self.logged_in):
            return
        name = self.actor_label
        self._record_logout(self.user, "logout")
        self.actor, self.shift = None, None
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if self.main_screen.is_mounted:
            from attendant.tui.widgets.exit_form import ExitForm

            self.main_screen.query_one(ExitForm).action_clear()
        self.staff_changed()
        self.show_login()
        self.notify(f"{name} logged out", timeout=4)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "shift":
            return self.logged_in  # without users it explains (action_shift)
        if action == "logout":
            return self.login_required and self.logged_in
        if action in ("reports", "reservations"):
            return self.logged_in
        return True

    def console_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) of every console action, for the command palette."""
        main = self.main_screen
        entry = self.lane_title(self.entry_lane)
        exit_ = self.lane_title(self.exit_lane)
        commands: list[tuple[str, str, Callable[[], object]]] = [
            ("Entry: issue a ticket", f"F2 · plate, class, Enter issues the ticket at {entry}", main.action_entry),
            ("Exit: take payment", f"F3 · scan or type the code, fee, pay, change at {exit_}", main.action_exit),
            ("Take next vehicle at entry", f"F4 · next vehicle waiting at {entry} into the entry form",
             main.action_take_entry),
            ("Take next vehicle at exit", f"F5 · next vehicle waiting at {exit_} into the exit form",
             main.action_take_exit),
            ("Lost ticket: charge the lost-ticket fee", "F6 · find the vehicle by plate (or an unknown stay), "
             "plan's lost-ticket fee, pay, gate", main.action_lost_ticket),
            ("Free exit (supervisor)", "ctrl+f · waive the balance of the ticket on the exit form, with a reason",
             lambda: main.query_one("ExitForm").action_free_exit()),
            ("Open a gate by hand", "F11 g · manual vend with a reason (after a gate fault: retry)",
             main.action_manual_vend),
            ("Next level", "F7 · scroll the map to the next level", main.action_next_level),
            ("Previous level", "shift+F7 · scroll the map to the previous level", main.action_previous_level),
            ("Go to bay…", "alt+g or ctrl+F7 (/ on the map) · a label such as L0-C01 marks that bay; L3 shows level L3",
             main.action_go_to_bay),
            ("Scan a ticket issued here", "F8 · demo: hand a ticket to the exit lane's stand-in scanner",
             main.action_scan_ticket),
            ("Show last printout", "F10 · the last ticket or receipt as printed", main.action_printout),
            ("Reports: today", "ctrl+b · revenue, traffic and occupancy by hour for a day",
             lambda: self.action_reports("daily")),
            ("Reports: this week", "ctrl+b w · the ISO week, day by day", lambda: self.action_reports("weekly")),
            ("Reports: this month", "ctrl+b m · the calendar month, day by day", lambda: self.action_reports("monthly")),
            ("Reports: exceptions today", "ctrl+b x · lost tickets, free exits, manual vends... by kind and actor",
             self.action_exceptions_report),
            ("Cycle theme", f"F9 · {' → '.join(THEMES)}", self.action_cycle_theme),
            ("Reservations: today", "ctrl+e · arriving, late, checked in, overstaying, no-shows", self.action_reservations),
        ]
        for name, words in (("nearest", "nearest to the entrance"), ("best_fit", "smallest fitting bay first"),
                            ("spread", "the emptiest level first")):
            commands.append((f"Allocation strategy: {name.replace('_', ' ')}",
                             f"supervisor · {words}, for every booth (audited)",
                             lambda n=name: self.set_allocation_strategy(n)))
        for name in THEMES:
            commands.append((f"Theme: {name}", f"switch to the {name} theme", lambda n=name: self.set_theme(n)))
        level_map = main.query_one("#map") if main.is_mounted else None
        for index, level in enumerate(getattr(level_map, "levels", []) or []):
            commands.append(
                (f"Go to level {level.code} {level.name}",
                 f"{index} on the map, alt+g {level.code} anywhere · scroll to this level" if index < 10
                 else f"alt+g {level.code} · scroll to this level",
                 lambda i=index: main.action_goto_level(i))
            )
        from attendant.tui.corrections import palette_commands

        commands += palette_commands(self)
        commands.append(("Quit", "ctrl+q · stop the replay and the devices, then leave", self.action_quit))
        return commands


def open_console(
    engine: Engine,
    config: ConsoleConfig,
    *,
    facility_code: str | None = None,
    clock: Callable[[], datetime] | None = None,
    replay_speed: float | None = None,
    actor: Actor | str | None = None,
    login: bool | None = None,
) -> OpenedConsole:
    """Open the booth the console runs on (blocking: the database, the facility, the lanes' devices).

    The arguments are :func:`make_app`'s. When the database is away the
    lanes start from the booth's journal (:mod:`attendant.booth.offline`).
    Raises :class:`~attendant.core.errors.NotFound` for an unknown facility.
    """
    from attendant.booth import open_booth
    from attendant.demo import SimClock, TrafficReplayer

    sim: SimClock | None = None
    if replay_speed is not None:
        sim = SimClock(replay_speed, start=clock() if clock else None)
    try:
        booth = open_booth(engine, config, facility_code=facility_code, clock=sim.now if sim else clock)
    except Exception as exc:  # the database is away: the lanes start from the booth's journal
        from attendant.booth.offline import detached_service
        from attendant.core.journal import database_unreachable

        if not database_unreachable(exc):
            raise
        service = detached_service(engine, facility_code, exc, clock=sim.now if sim else clock)
        booth = open_booth(engine, config, service=service)
    if login is None:
        authenticated = isinstance(actor, Actor) and actor.user_id is not None
        login = not authenticated and booth.any_users()
    replayer = TrafficReplayer(booth, clock=sim.now) if sim is not None else None
    return OpenedConsole(booth, actor or "console", login, replayer, theme=config.theme)


def make_app(
    engine: Engine,
    config: ConsoleConfig,
    *,
    facility_code: str | None = None,
    clock: Callable[[], datetime] | None = None,
    replay_speed: float | None = None,
    theme: str | None = None,
    actor: Actor | str | None = None,
    login: bool | None = None,
    timers: bool = True,
) -> AttendantApp:
    """Build the console on ``engine`` for the lanes of ``config``, its booth opened here (:func:`open_console`).

    ``clock`` (aware UTC) drives the service (tests pass a fixed clock).
    ``replay_speed`` (not None) runs the demo: a :class:`SimClock` that runs
    that many times faster (starting at ``clock()`` if given) drives the
    service, and a :class:`TrafficReplayer` is started on mount and stopped
    on unmount. ``theme``: dark, light or high-contrast (default: the
    config's, else dark). ``actor`` is recorded in the audit log.

    Staff: with ``login`` (default: whenever users exist,
    ``users.any_users``, unless ``actor`` is an already authenticated
    :class:`Actor`) the console starts on the login screen and every service
    call is made by the logged-in :class:`Actor`. Otherwise ``actor``
    (default ``"console"``) acts: in setup mode a named, unauthenticated
    attendant-level actor; once users exist the services refuse anything but
    a logged-in user (:func:`attendant.core.auth.authorize`).
    ``timers`` False leaves out the periodic work (the top bar's clock each
    second, today's figures every five, the login screen's clock): a test
    then drives time itself and waits for exactly the work it caused.
    Raises :class:`~attendant.core.errors.NotFound` for an unknown facility.
    """
    opened = open_console(engine, config, facility_code=facility_code, clock=clock, replay_speed=replay_speed,
                          actor=actor, login=login)
    return AttendantApp(
        opened.booth,
        actor=opened.actor,
        login=opened.login,
        replayer=opened.replayer,
        replay_speed=replay_speed,
        theme=theme or config.theme,
        timers=timers,
    )


def deferred_app(
    source: Callable[[], tuple[Engine, ConsoleConfig]],
    *,
    facility_code: str | None = None,
    replay_speed: float | None = None,
    theme: str | None = None,
    setup_note: str | None = None,
    title: str = "",
    timers: bool = True,
) -> AttendantApp:
    """The console as the CLI starts it: painted first, opened after (issue 12 item 10).

    The app shows the console's layout in its loading state at once; after
    that first paint a thread calls ``source()`` (which opens the database:
    ``(engine, config)``), decides on logins (``users.any_users``: a PIN
    login once users exist; in setup mode the audit actor is
    ``ATTENDANT_ACTOR`` or ``console:<login name>``) and opens the booth
    (:func:`open_console`); then the main screen replaces the loading one.
    ``setup_note`` is shown to the attendant when the console runs without
    logins. ``title``: the loading screen's top bar (e.g. the facility
    code). Any exception of the opening ends the app, which keeps it as
    :attr:`AttendantApp.open_error` (:func:`run_console` raises it).
    """
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers)
        user = "unknown"
    named = os.environ.get("ATTENDANT_ACTOR") or f"console:{user}"

    def opener() -> OpenedConsole:
        from attendant.core.users import any_users

        engine, config = source()
        login = any_users(engine)  # staff: a PIN login once users exist; no environment variable skips it
        opened = open_console(engine, config, facility_code=facility_code, replay_speed=replay_speed,
                              actor=None if login else named, login=login)
        if theme:
            opened.theme = theme
        if setup_note and not login:
            opened.notes = (setup_note,)
        import attendant.tui.screens.main  # noqa: F401 - its widgets' imports here, not on the UI thread

        return opened

    return AttendantApp(None, actor=None, replay_speed=replay_speed, theme=theme, timers=timers, opener=opener,
                        loading_title=title)


def run_console(source: Callable[[], tuple[Engine, ConsoleConfig]], **options) -> tuple[str, ...]:
    """Run the console full-screen until the attendant quits (ctrl+q): :func:`deferred_app`, whose keyword
    ``options`` it takes (facility_code, replay_speed, theme, setup_note, title, timers).

    Returns the notes shown to the attendant (the CLI repeats them on
    stderr once the terminal is back). Raises whatever opening the facility
    raised (a bad database URL, no facility, a missing secret...), after the
    terminal is restored, so the CLI reports it as it reports any command's.
    Without a terminal (stdin or stdout redirected) the facility is opened
    before the app starts, as the console did before it painted first.
    """
    import sys

    app = deferred_app(source, **options)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):  # no terminal to paint on early: open first, as before
        app.open_now()
    # The garbage collector stays paused until the first paint (the widgets Textual builds are as long-lived
    # as the libraries; start_background_work freezes them and collects again; attendant/startup.py bounds
    # the pause at 2 s): its passes cost about a tenth of the time to the first paint (bench_console.py).
    startup.pause()
    try:
        app.run()
    finally:
        app.shutdown_services()
    if app.open_error is not None:
        raise app.open_error
    return app.notes
