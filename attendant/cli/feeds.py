"""``attendant feed datex2|datex2-json|apds|parkapi [--out FILE]``: an availability feed of every facility of
``--db`` (or of ``--facility CODE`` only), the document ``GET /v1/feeds/...`` serves
(:mod:`attendant.api.feeds`), printed or written.

Figures: each facility's live views through :func:`attendant.api.feeds.snapshot` (the same call as
``attendant status --json``). Bad input (an unknown feed name, a folder that does not exist) gets
one line on stderr and writes nothing.
"""

from pathlib import Path
from typing import Annotated

import typer

from attendant.cli.common import state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named


@commands.command("feed")
def feed(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="datex2 (DATEX II Parking Publication Light, XML), "
                                        "datex2-json (the same, JSON encoding), apds or parkapi (JSON).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the feed to FILE (default: stdout).")] = None,
) -> None:
    """Print (or write) an availability feed of every facility (or --facility's): DATEX II light, APDS or ParkAPI."""
    import sys

    from attendant.api.feeds import FEEDS, render, snapshot
    from attendant.core.errors import InputError

    name = name.strip().lower()
    if name not in FEEDS:
        raise InputError(f"unknown feed {name!r}: one of {', '.join(FEEDS)}")
    if out is not None and not out.parent.is_dir():
        raise InputError(f"--out {out}: no such folder {out.parent}")
    cli = state(ctx)
    one = cli.facility is not None and not cli.all_facilities
    snaps = [snapshot(views) for views in ([cli.views()] if one else cli.facility_views())]
    body, _media = render(name, snaps)
    if out is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(body)
    tmp.replace(out)  # readers never see half a feed
