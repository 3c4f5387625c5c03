"""The ``attendant`` command line (typer): the console and every booth operation as a subcommand.

With no subcommand it opens the console on the configured facility. Every
subcommand goes through the same booth as the console
(:class:`attendant.booth.Booth`, wired by :func:`attendant.booth.open_booth`).
``--json`` output is a stable contract for scripts: money as decimal strings
in major units, times ISO 8601.

Errors: one line on stderr, ``attendant: <message>``, and exit status 2 for
bad input or a refused operation (nothing changed); exit status 1 for an
unexpected failure, whose traceback goes to ``attendant-errors.log`` in the
data folder, not the screen (:class:`attendant.cli.common.AttendantGroup`).

The command modules are imported here by name: each adds its commands to
:data:`app` when imported.
"""

from attendant.cli import devices, lanes, payments, rates, reports, spots, staff  # noqa: F401 - they register
from attendant.cli.common import Context, app

__all__ = ["Context", "app", "main"]


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: run ``attendant`` with ``args`` (default: the command line); exits."""
    app(args=args, prog_name="attendant")
