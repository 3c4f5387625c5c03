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

A screen with more keys than a narrow terminal has room for sets
``FOOTER_FITS = True``: its footer then shows only the keys that fit whole
(the screen's own first, in the order of its ``BINDINGS``, then the app's),
labelled by the screen's ``FOOTER_LABELS`` (action -> short label) where it
has one, and ends with ``f1 Help`` whenever a key was left out; F1's help
lists every key, shown or not, with its full description. No key is ever
cut in the middle.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Cells the command palette's key takes at the right end: its border, "^p", a space, "palette".
_PALETTE_CELLS = 12


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

    _fitted_width: int | None = None

    def on_resize(self) -> None:
        """Below 120 columns the keys go closer together (Textual's compact footer), so more fit."""
        self.compact = self.size.width < 120
        if getattr(self.screen, "FOOTER_FITS", False) and self.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)  # a fitted footer picks its keys again for the new width

    def key_cells(self, key_display: str, description: str) -> int:
        """Cells one key takes in the footer (Textual's FooterKey padding and margin, compact or not)."""
        if self.compact:
            return len(key_display) + 1 + len(description) + 1
        return len(key_display) + 2 + len(description) + 1

    def compose(self) -> ComposeResult:
        """Textual's footer; on a ``FOOTER_FITS`` screen, only the keys that fit whole, then ``f1 Help``."""
        screen = self.screen
        if not getattr(screen, "FOOTER_FITS", False) or not self._bindings_ready:
            yield from super().compose()
            return
        width = self.size.width or self.app.size.width
        self._fitted_width = self.size.width or None
        active = screen.active_bindings
        shown = [(node, binding, enabled, tooltip) for node, binding, enabled, tooltip in active.values()
                 if binding.show]
        shown.sort(key=lambda item: item[0] is self.app)  # the screen's own keys first (stable)
        help_ = active.get("f1")
        help_cells = self.key_cells(self.app.get_key_display(help_[1]), "Help") if help_ else 0
        labels = getattr(screen, "FOOTER_LABELS", {})
        room = width - (_PALETTE_CELLS if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE else 0)
        keys: list[FooterKey] = []
        used, dropped, seen = 0, False, set()
        for index, (_node, binding, enabled, tooltip) in enumerate(shown):
            if binding.action in seen:
                continue
            seen.add(binding.action)
            display = self.app.get_key_display(binding)
            label = labels.get(binding.action, binding.description)
            cells = self.key_cells(display, label)
            last = index == len(shown) - 1
            if dropped or used + cells + (0 if last else help_cells) > room:
                dropped = True
                continue
            used += cells
            keys.append(FooterKey(binding.key, display, label, binding.action,
                                  disabled=not enabled, tooltip=tooltip or binding.description,
                                  ).data_bind(compact=Footer.compact))
        if dropped and help_ is not None:
            binding = help_[1]
            keys.append(FooterKey(binding.key, self.app.get_key_display(binding), "Help", binding.action,
                                  tooltip="every key of this screen").data_bind(compact=Footer.compact))
        self.styles.grid_size_columns = len(keys)
        yield from keys
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None:
                _node, binding, enabled, _tooltip = palette
                yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                                binding.action, classes="-command-palette", disabled=not enabled)

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        shown = self.shown_keys(screen)
        if shown == self._shown:
            return
        self._shown = shown
        self.call_after_refresh(self.recompose)
