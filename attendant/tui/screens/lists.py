"""The lists a booth needs (issue 12 item 7): vehicles inside and recent transactions.

:class:`ListsScreen` (``l`` on the shift screen, or "Lists: vehicles inside and
recent transactions" in the command palette) shows two tables over the
facility's store (:mod:`attendant.core.booth_lists`):

- **Vehicles inside**: the open sessions, newest entry first (ticket, plate,
  class, bay, entry time in facility time, entry lane);
- **Recent transactions**: the newest payment rows, newest first (time,
  ticket, plate, method, amount, status, lane, who).

One search field filters both as it is typed, by plate (any part, spaces and
dashes ignored) or ticket number (digits: ``42`` finds ``00000042``). On a
highlighted row, ``Enter`` looks the ticket up: a vehicle still inside is
loaded into the exit form of the main screen (the fee as if it left now, as a
scan would); a closed session's summary is shown here. ``ctrl+r`` reprints
the highlighted row's ticket on the entry lane's printer
(:meth:`attendant.booth.Booth.reprint`: audited, the same signed code).
``Tab`` moves search → inside → transactions; ``↓`` from the search goes to
the first table; ``Esc`` goes back.

Reads and prints run in thread workers that touch no widget and post
messages; times are shown in facility time; money is integer minor units.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from attendant.core.booth_lists import (
    SEARCH_MAX,
    TransactionRow,
    recent_transactions,
    vehicles_inside,
)
from attendant.core.errors import AttendantError
from attendant.core.money import format_money
from attendant.core.payment_methods import label as method_label
from attendant.core.views import SessionView
from attendant.tui.console_app import ConsoleApp
from attendant.tui.widgets.footer import ConsoleFooter


class ListsLoaded(Message):
    """Both lists for ``query`` (read in a worker)."""

    def __init__(self, query: str, inside: list[SessionView], transactions: list[TransactionRow]) -> None:
        super().__init__()
        self.query = query
        self.inside = inside
        self.transactions = transactions


class ListsSaid(Message):
    """A line for the result area (``ok``: a tick, else a cross)."""

    def __init__(self, text: str, ok: bool = True) -> None:
        super().__init__()
        self.text = text
        self.ok = ok


class ListsScreen(Screen):
    """Vehicles inside and recent transactions, searchable, with lookup and reprint (see the module docstring)."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "back", "Back"),
        Binding("enter", "lookup", "Look up", show=True),
        Binding("ctrl+r", "reprint", "Reprint ticket"),
        Binding("down", "to_table", "Table", show=False),
    ]

    DEFAULT_CSS = """
    ListsScreen #lists-body { height: 1fr; padding: 0 1; }
    ListsScreen #lists-search { width: 48; margin-top: 1; }
    ListsScreen .lists-title { height: 1; margin-top: 1; text-style: bold; }
    ListsScreen DataTable { height: 1fr; min-height: 3; }
    ListsScreen DataTable:focus { border-left: thick $accent; }
    ListsScreen #lists-result { height: auto; min-height: 1; }
    """

    app: ConsoleApp

    def __init__(self, query: str = "") -> None:
        super().__init__(id="lists")
        self.initial = query
        self.inside: dict[str, SessionView] = {}
        self.transactions: dict[str, TransactionRow] = {}
        self.query_text = query
        self.shown_query: str | None = None  # the search the tables show (None: not loaded yet)
        self.focus_when_loaded = False  # Enter in the search while its results were on their way

    def compose(self) -> ComposeResult:
        with Vertical(id="lists-body"):
            yield Input(self.initial, placeholder="search: plate or ticket number", id="lists-search",
                        max_length=SEARCH_MAX)
            yield Static("Vehicles inside", id="lists-inside-title", classes="lists-title")
            yield DataTable(id="lists-inside", cursor_type="row", zebra_stripes=True)
            yield Static("Recent transactions", id="lists-tx-title", classes="lists-title")
            yield DataTable(id="lists-tx", cursor_type="row", zebra_stripes=True)
            yield Static("", id="lists-result", classes="result")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#lists-inside", DataTable).add_columns("Ticket", "Plate", "Class", "Bay", "Entered", "Lane")
        self.query_one("#lists-tx", DataTable).add_columns(
            "Time", "Ticket", "Plate", "Method", "Amount", "Status", "Lane", "By")
        self.query_one("#lists-search", Input).focus()
        self.load(self.initial)

    # ---------------------------------------------------------------- reads
    def load(self, query: str) -> None:
        """Read both lists for ``query`` in a worker (the newest request wins)."""
        self.query_text = query
        self.run_worker(partial(self._load_body, query), name="lists-load", group="lists-load", thread=True,
                        exclusive=True, exit_on_error=False)

    def _load_body(self, query: str) -> None:
        service = self.app.service
        try:
            inside = vehicles_inside(service, query)
            transactions = recent_transactions(service, query)
        except AttendantError as exc:
            self.post_message(ListsSaid(str(exc), ok=False))
            return
        self.post_message(ListsLoaded(query, inside, transactions))

    @on(Input.Changed, "#lists-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.load(event.value)

    @on(Input.Submitted, "#lists-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_to_table()

    @on(ListsLoaded)
    def _loaded(self, message: ListsLoaded) -> None:
        if message.query != self.query_text:
            return  # an older search: a newer one is on its way
        self.shown_query = message.query
        service = self.app.service
        cur = service.facility.currency
        when = "%a %d %H:%M"
        inside = self.query_one("#lists-inside", DataTable)
        inside.clear()
        self.inside = {}
        for view in message.inside:
            key = f"in-{view.session_id}"
            self.inside[key] = view
            inside.add_row(view.ticket_no, view.plate or "–", view.vehicle_class, view.spot_label,
                           service.local(view.entry_at).strftime(when), view.entry_lane or "–", key=key)
        tx = self.query_one("#lists-tx", DataTable)
        tx.clear()
        self.transactions = {}
        for row in message.transactions:
            key = f"tx-{row.payment_id}"
            self.transactions[key] = row
            tx.add_row(service.local(row.at).strftime(when), row.ticket_no, row.plate or "–", method_label(row.method),
                       format_money(row.amount, cur), row.status, row.lane or "–", row.actor, key=key)
        found = f" matching {message.query.strip()!r}" if message.query.strip() else ""
        self.query_one("#lists-inside-title", Static).update(f"Vehicles inside{found}: {len(message.inside)}")
        self.query_one("#lists-tx-title", Static).update(
            f"Recent transactions{found}: {len(message.transactions)}")
        if self.focus_when_loaded:
            self.focus_when_loaded = False
            self.action_to_table()

    # --------------------------------------------------------------- the row
    def _table(self) -> DataTable | None:
        focused = self.focused
        if isinstance(focused, DataTable):
            return focused
        inside = self.query_one("#lists-inside", DataTable)
        return inside if inside.row_count else self.query_one("#lists-tx", DataTable)

    def selected(self) -> SessionView | TransactionRow | None:
        """The highlighted row's item (the focused table's, else the first row of vehicles inside)."""
        table = self._table()
        if table is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.inside.get(key) or self.transactions.get(key)

    def _say(self, text: str, ok: bool = True) -> None:
        self.query_one("#lists-result", Static).update(
            Content.assemble(("✓ " if ok else "✗ ", "$ok b" if ok else "$fault b"), (text, "" if ok else "$fault")))

    @on(ListsSaid)
    def _said(self, message: ListsSaid) -> None:
        self._say(message.text, message.ok)
        if not message.ok:
            self.notify(message.text, severity="error", timeout=6)

    # --------------------------------------------------------------- actions
    def action_back(self) -> None:
        self.dismiss(None)

    def action_to_table(self) -> None:
        if isinstance(self.focused, DataTable):
            return
        if self.shown_query != self.query_text:  # the rows on screen are an older search's: wait for these
            self.focus_when_loaded = True
            return
        for selector in ("#lists-inside", "#lists-tx"):
            table = self.query_one(selector, DataTable)
            if table.row_count:
                table.focus()
                return

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_lookup()

    def action_lookup(self) -> None:
        """Enter: a vehicle still inside goes to the exit form (its fee now); a closed one is summarised here."""
        item = self.selected()
        if item is None:
            self._say("nothing to look up: no row matches", ok=False)
            return
        inside = isinstance(item, SessionView) or item.session_status == "open"
        if item.code is None:
            self._say(f"ticket {item.ticket_no}: its code cannot be rebuilt here (an old ticket key)", ok=False)
            return
        if inside:
            self._to_exit_form(item.code)
            return
        self.run_worker(partial(self._summary_body, item.code), name="lists-lookup", group="lists-lookup",
                        thread=True, exclusive=True, exit_on_error=False)

    def _summary_body(self, code: str) -> None:
        service = self.app.service
        try:
            view = service.lookup(code)
        except AttendantError as exc:
            self.post_message(ListsSaid(str(exc), ok=False))
            return
        cur = service.facility.currency
        left = service.local(view.exit_at).strftime("%a %d %b %H:%M") if view.exit_at else "–"
        self.post_message(ListsSaid(
            f"Ticket {view.ticket_no} {view.plate or ''} {view.status}: in "
            f"{service.local(view.entry_at):%a %d %b %H:%M} bay {view.spot_label}, out {left}, "
            f"paid {format_money(view.amount_paid, cur)}"))

    def _to_exit_form(self, code: str) -> None:
        from attendant.tui.widgets.exit_form import ExitForm

        app = self.app
        while len(app.screen_stack) > 1 and app.screen is not app.main_screen:
            app.pop_screen()
        app.main_screen.query_one(ExitForm).fill(code)

    def action_reprint(self) -> None:
        """ctrl+r: reprint the highlighted row's ticket on the entry lane's printer (audited)."""
        item = self.selected()
        if item is None:
            self._say("nothing to reprint: no row matches", ok=False)
            return
        app = self.app
        lane = app.entry_lane.code if app.entry_lane else None
        actor = app.actor
        ticket_no = item.ticket_no

        def body() -> None:
            try:
                error = app.booth.reprint(ticket_no, lane=lane, actor=actor)
            except AttendantError as exc:
                self.post_message(ListsSaid(f"ticket {ticket_no} not reprinted: {exc}", ok=False))
                return
            if error:
                self.post_message(ListsSaid(f"ticket {ticket_no} not reprinted: {error}", ok=False))
            else:
                self.post_message(ListsSaid(f"ticket {ticket_no} reprinted at {lane or 'the booth'}"))

        self.run_worker(body, name="lists-reprint", group="print", thread=True, exclusive=True, exit_on_error=False)
