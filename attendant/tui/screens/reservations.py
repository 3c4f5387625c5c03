"""The reservations screen: today's reservations by what the booth must do (issue 11 item 8).

Opened with ``ctrl+e`` (or the command palette) from the lanes. Sections, from
:meth:`attendant.core.reservations.ReservationOps.reservation_board`: arriving
(booked, the window not started), late (booked, past the start), checked in,
overstaying now (checked in, past the end) and no-shows. Each line: code,
window in facility time, vehicle, the held bay, plate, prepaid. Keys: ``r``
refresh, ``s`` sweep now (holds and no-shows, as the console does every minute),
``escape`` back to the lanes. The board is read in a thread worker (group
``reservations``) that touches no widget and posts one message.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from attendant.core.errors import AttendantError
from attendant.core.money import format_money
from attendant.tui.console_app import ConsoleApp
from attendant.tui.widgets.footer import ConsoleFooter

TITLES = {"arriving": "Arriving", "late": "Late (not checked in)", "checked_in": "Checked in",
          "overstaying": "Overstaying now", "no_show": "No-shows"}


def board_content(board: dict, tz, now, report: dict | None = None) -> Content:
    """The board as text: the day's money and the pools' use now (from
    :meth:`~attendant.core.reservations.ReservationOps.reservation_report`), then a title per section with
    its count and a line per reservation (``none``)."""
    parts: list = [(f"Reservations {now.astimezone(tz):%a %d %b %Y %H:%M}\n", "b")]
    if report is not None:
        cur = report["currency"]
        parts.append(f"Today: prepaid {format_money(report['prepaid'], cur)} · no-show fees "
                     f"{format_money(report['no_show_fees'], cur)} · overstay {format_money(report['overstay'], cur)}"
                     f" · cancelled {report['counts']['cancelled']} · no-shows {report['counts']['no_show']}\n")
        hour = now.astimezone(tz).strftime("%H:00")
        for pool in report["pools"]:
            used = next((h["reserved"] for h in pool["hours"] if h["hour"] == hour), 0)
            parts.append(f"Pool {pool['spot_type']}{' zone ' + pool['zone'] if pool['zone'] else ''}: "
                         f"{used} of {pool['capacity']} reserved at {hour}\n")
    for key, title in TITLES.items():
        rows = board.get(key, [])
        parts.append((f"\n{title} ({len(rows)})\n", "b $accent" if key not in ("late", "overstaying")
                      or not rows else "b $warning"))
        if not rows:
            parts.append(("  none\n", "$muted"))
        for r in rows:
            window = f"{r.start_at.astimezone(tz):%H:%M}-{r.end_at.astimezone(tz):%H:%M}"
            bay = r.held_spot or r.spot or (f"zone {r.zone}" if r.zone else r.spot_type)
            parts.append(f"  {r.code or r.id}  {window}  {r.vehicle_class:<10} {bay:<10} "
                         f"{r.plate or '(no plate)':<10} prepaid {format_money(r.amount_prepaid, r.currency)}\n")
    return Content.assemble(*parts)


class ReservationScreen(Screen):
    """Today's reservations (module docstring)."""

    app: ConsoleApp
    BINDINGS: ClassVar = [
        Binding("escape", "app.pop_screen", "Lanes"),
        Binding("r", "refresh_board", "Refresh"),
        Binding("s", "sweep", "Sweep now"),
    ]

    class BoardRead(Message):
        """The board, read off the UI thread (or the error that stopped it)."""

        def __init__(self, content: Content | None, error: str | None = None) -> None:
            super().__init__()
            self.content = content
            self.error = error

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Reading today's reservations…", id="reservation-board")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.action_refresh_board()

    def action_refresh_board(self) -> None:
        self.read_board(sweep=False)

    def action_sweep(self) -> None:
        self.read_board(sweep=True)

    @work(thread=True, exclusive=True, group="reservations", exit_on_error=False)
    def read_board(self, sweep: bool) -> None:
        """ReservationOps.reservation_board (and a sweep first when asked): blocking database reads."""
        service = self.app.service
        try:
            if sweep:
                service.sweep(actor=self.app.actor or "console")
            now = service.clock()
            report = service.reservation_report(service.local(now).date())
            self.post_message(self.BoardRead(board_content(service.reservation_board(now), service.tz, now,
                                                           report)))
        except AttendantError as exc:
            self.post_message(self.BoardRead(None, str(exc)))

    @on(BoardRead)
    def _board_read(self, message: BoardRead) -> None:
        if message.error:
            self.notify(message.error, title="Reservations", severity="error", timeout=6)
            return
        self.query_one("#reservation-board", Static).update(message.content)
