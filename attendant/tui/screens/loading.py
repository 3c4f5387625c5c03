"""The console's first screen while its facility opens: the main screen's layout in a loading state.

:func:`attendant.tui.app.run_console` paints this screen first and opens
the database, the services and the facility in a thread after that paint
(issue 12 item 10: start-up to first paint within 2x a bare Textual app,
``benchmarks/bench_console.py``). It has the main screen's regions, ids
and panel titles, so the breakpoints of ``themes/console.tcss`` lay it out
as the main screen, and each region says what it is waiting for; the main
screen replaces it as soon as the booth is open.

Only Textual is imported here: no database layer, no services, no widget
that needs them (they load in the opening thread).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

#: What the top bar says while the facility opens (``bench_console.py`` looks for the panel titles instead).
OPENING = "opening the database and the facility…"


class LoadingScreen(Screen):
    """The main screen's layout with every panel waiting for the facility (see the module docstring)."""

    DEFAULT_CSS = """
    LoadingScreen #facility-bar { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    LoadingScreen #map { height: 1fr; }
    LoadingScreen #exit-form { height: 1fr; }
    LoadingScreen .panel { color: $text-muted; }
    """

    def __init__(self, title: str = "") -> None:
        super().__init__(id="loading")
        self.title_text = title

    def compose(self) -> ComposeResult:
        title = f"[b]{self.title_text}[/b]  │  " if self.title_text else ""
        yield Static(f"{title}{OPENING}", id="facility-bar", markup=True)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield self._panel("Levels", "Loading the level maps…", id="map")
                yield self._panel("Devices", "The lanes' devices start once the facility is open.", id="devices")
            with Vertical(id="right"):
                yield self._panel("Availability (free bays)", "Counting the bays…", id="availability")
                yield self._panel("Entry", "The entry form opens with the facility.", id="entry-form")
                yield self._panel("Exit", "The exit form opens with the facility.", id="exit-form")
                yield self._panel("Lanes", "Loading the lanes…", id="lanes")
        yield Footer()

    @staticmethod
    def _panel(title: str, text: str, *, id: str) -> Static:
        panel = Static(text, id=id, classes="panel")
        panel.border_title = title
        return panel
