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

Each subcommand lives in a module of this package (``lanes``, ``reports``,
``rates``, ``payments``, ``spots``, ``staff``, ``devices``, ``watch``, ``audit``,
``backups``), named for it in
:data:`attendant.cli.common.COMMAND_MODULES` and loaded when it runs.
"""

from attendant.cli.common import COMMAND_MODULES, Context, app

__all__ = ["COMMAND_MODULES", "Context", "app", "main"]


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: run ``attendant`` with ``args`` (default: the command line); exits.

    The garbage collector is paused while the libraries load (:mod:`attendant.startup`).
    """
    from attendant import startup

    startup.pause()
    app(args=args, prog_name="attendant")
