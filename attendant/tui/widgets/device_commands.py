"""Command-palette entries of the device features, on the main screen
(``MainScreen.COMMANDS``): reprints, the entry lane, device retries and, in
the demo, the device fault simulations.

The provider asks the screen for its current commands
(:meth:`attendant.tui.screens.main.MainScreen.device_commands`), so the demo
entries appear only in demo mode and follow the configured lanes.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class DeviceCommands(Provider):
    """Reprint last / by number, print queued tickets, entry lane, retry devices, demo faults."""

    def _commands(self):
        commands = getattr(self.screen, "device_commands", None)
        return commands() if callable(commands) else []

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(callback), help=help_text)
