"""The top bar: facility, facility-local date and time, occupancy, today's revenue,
and who is logged in (with their role and shift).

Time comes from the service clock (the demo's accelerated clock, a test's
fixed clock), shown in the facility's time zone, never the machine's.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from textual.content import Content
from textual.widgets import Static

from attendant.core.money import format_money


class FacilityBar(Static):
    """One line across the top of the main screen."""

    DEFAULT_CSS = """
    FacilityBar { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, facility_name: str, facility_code: str, currency: str, tz: tzinfo, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.facility_name = facility_name
        self.facility_code = facility_code
        self.currency = currency
        self.tz = tz
        self.now: datetime | None = None
        self.occupied = 0
        self.capacity = 0
        self.revenue: int | None = None
        self.replay: str = ""
        self.user: str = ""  # "bob (attendant) · shift #3", set by the app on login/logout
        self.offline: str = ""  # "OFFLINE · 3 waiting" while the database is away (attendant.booth.offline)

    def set_figures(
        self,
        *,
        now: datetime | None = None,
        occupied: int | None = None,
        capacity: int | None = None,
        revenue: int | None = None,
        replay: str | None = None,
        user: str | None = None,
        offline: str | None = None,
    ) -> None:
        """Change some figures and repaint. ``revenue`` in minor units; ``now`` aware; ``user`` who is logged in."""
        if now is not None:
            self.now = now
        if occupied is not None:
            self.occupied = occupied
        if capacity is not None:
            self.capacity = capacity
        if revenue is not None:
            self.revenue = revenue
        if replay is not None:
            self.replay = replay
        if user is not None:
            self.user = user
        if offline is not None:
            self.offline = offline
        self.update(self._content())

    def _content(self) -> Content:
        parts: list = [(f"{self.facility_name}", "b"), (f" ({self.facility_code})", "$muted"), "  │  "]
        if self.now is not None:
            local = self.now.astimezone(self.tz)
            parts += [local.strftime("%a %d %b %Y "), (local.strftime("%H:%M"), "b"), local.strftime(" %Z")]
        parts.append("  │  ")
        if self.capacity:
            pct = round(100 * self.occupied / self.capacity)
            style = "$fault b" if self.occupied >= self.capacity else ("$warn b" if pct >= 90 else "b")
            parts += ["occupied ", (f"{self.occupied}/{self.capacity}", style), f" ({pct}%)"]
            parts += ["  free ", (str(self.capacity - self.occupied), "b")]
        parts.append("  │  today ")
        parts.append(("…" if self.revenue is None else format_money(self.revenue, self.currency), "$money b"))
        if self.replay:
            parts += ["  │  ", (self.replay, "$muted")]
        if self.user:
            parts += ["  │  ", (self.user, "$accent b")]
        if self.offline:
            parts += ["  │  ", (self.offline, "$fault b" if self.offline.startswith("OFFLINE") else "$warn b")]
        return Content.assemble(*parts)
