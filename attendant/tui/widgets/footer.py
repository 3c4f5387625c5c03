"""The console's footer: Textual's, recomposed only when the keys it shows change.

Textual's :class:`~textual.widgets.Footer` rebuilds all its keys whenever the
screen's bindings are refreshed, and Textual refreshes them on every focus
move. At the booth focus moves with almost every key (plate, class, method,
tendered...), and rebuilding some twenty keys each time is the costliest
thing a key press does. This footer compares what it would show (key,
label, action, enabled, tooltip of every shown binding) with what it shows,
and rebuilds only when that differs. Textual's own ``compose`` still draws
the keys, so the footer looks and behaves exactly as Textual's.

It overrides :meth:`Footer.bindings_changed` and sets the footer's
``_bindings_ready`` flag as that method does (textual is pinned, 8.2.8).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class ConsoleFooter(Footer):
    """A :class:`~textual.widgets.Footer` that skips rebuilds that would change nothing."""

    _shown: tuple | None = None

    @staticmethod
    def shown_keys(screen: Screen) -> tuple:
        """What the footer shows for ``screen``: (key, label, action, enabled, tooltip) of each shown binding."""
        return tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )

    def on_resize(self) -> None:
        """Below 120 columns the keys go closer together (Textual's compact footer), so more fit."""
        self.compact = self.size.width < 120

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        shown = self.shown_keys(screen)
        if shown == self._shown:
            return
        self._shown = shown
        self.call_after_refresh(self.recompose)
