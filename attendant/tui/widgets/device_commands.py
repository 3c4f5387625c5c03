"""Command-palette entries of the device features, on the main screen
(``MainScreen.COMMANDS``): reprints, the entry lane, device retries and, in
the demo, the device fault simulations.

The provider asks the screen for its current commands
(:meth:`attendant.tui.screens.main.MainScreen.device_commands`), so the demo
entries appear only in demo mode and follow the configured lanes.
"""

from __future__ import annotations

from attendant.tui.commands import CommandList


class DeviceCommands(CommandList):
    """Reprint last / by number, print queued tickets, entry lane, retry devices, demo faults."""

    def _commands(self):
        commands = getattr(self.screen, "device_commands", None)
        return commands() if callable(commands) else []
