"""The one wiring of a booth: database, facility, ticket secret, services and lanes.

The console (:func:`attendant.tui.app.make_app`) and the CLI
(:class:`attendant.cli.common.Context`) both build their booth here, so the
two front ends run on the same services, signed with the same installation
secret (kept outside the database: ``attendant.paths``). Each one ends the
start-up pause of the garbage collector (:func:`attendant.startup.resume`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from attendant import startup
from attendant.core.clock import utc_now
from attendant.core.payments import ProcessorRegistry
from attendant.core.store import FacilityStore
from attendant.core.tickets import TicketSigner


def open_services(
    engine: Engine,
    *,
    facility_code: str | None = None,
    clock: Callable[[], datetime] | None = None,
    processors: ProcessorRegistry | None = None,
) -> "ParkingService":  # noqa: F821 - imported when called
    """The services of ``engine``'s facility ``facility_code`` (default: the first), signing tickets
    with the installation secret; ``clock`` (aware UTC) defaults to the wall clock."""
    from attendant.core.services import ParkingService

    service = ParkingService(engine, TicketSigner.from_site(), facility_code=facility_code,
                             clock=clock or utc_now, processors=processors)
    startup.resume()
    return service


def open_views(engine: Engine, *, facility_code: str | None = None,
               clock: Callable[[], datetime] | None = None) -> FacilityStore:
    """The live views of ``engine``'s facility (occupancy, availability, revenue, level drawings) without the
    entry and exit services: what a reading command needs, and all it imports."""
    views = FacilityStore(engine, TicketSigner.from_site(), facility_code=facility_code,
                          clock=clock or utc_now)
    startup.resume()
    return views


def open_booth(
    engine: Engine,
    config,
    *,
    facility_code: str | None = None,
    clock: Callable[[], datetime] | None = None,
    processors: ProcessorRegistry | None = None,
    printer_url: str | None = None,
    service=None,
    offline: bool = True,
    persist_sessions: bool = False,
):
    """The :class:`~attendant.booth.Booth` of ``config``'s lanes (a
    :class:`~hardware.config.ConsoleConfig`) on ``engine``'s facility ``facility_code`` (default: the first).

    ``clock`` (aware UTC, default the wall clock) drives the services;
    ``processors`` the electronic payment processors (stand-ins unless
    given); ``printer_url`` overrides every lane's printer; ``service``: the
    services already open (:func:`open_services`, or a
    :class:`~attendant.booth.offline.DetachedService` when the database is
    away). With ``offline`` (the default) the lanes keep working when the
    database cannot be reached (:class:`~attendant.booth.offline.OfflineLanes`,
    journal in the data folder; ``persist_sessions`` for a process that ends
    with its command). Raises :class:`~attendant.core.errors.NotFound` for an
    unknown facility.
    """
    from attendant.booth.booth import Booth

    service = service or open_services(engine, facility_code=facility_code, clock=clock, processors=processors)
    booth = Booth(service, config, printer_url=printer_url)
    if offline:
        attach_offline(booth, engine, persist_sessions=persist_sessions)
    startup.resume()
    return booth


def booth_journal(engine: Engine):
    """The :class:`~attendant.core.journal.Journal` of the booth whose central database is ``engine``'s."""
    from attendant.core.journal import Journal

    return Journal.for_database(engine.url.render_as_string(hide_password=False))


def attach_offline(booth, engine: Engine, *, persist_sessions: bool = False) -> None:
    """Give ``booth`` lanes that keep working when the database is away, with the journal of ``engine``'s
    database and the card limits of its config. Nothing is written until the booth's first operation (or
    the console's worker) keeps the reserve of offline ticket numbers and the snapshot current."""
    import socket

    from attendant.booth.offline import OfflineLanes, OfflineLimits

    config = booth.config
    limits = OfflineLimits(getattr(config, "offline_card_count", 10), getattr(config, "offline_card_total", 10_000))
    lanes = ",".join(lane.code for lane in config.lanes)
    booth.offline = OfflineLanes(booth.service, booth_journal(engine), limits=limits,
                                 booth_name=f"{socket.gethostname()}:{lanes}", persist_sessions=persist_sessions)
    booth.offline.on_service = lambda service: setattr(booth, "service", service)
