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
):
    """The :class:`~attendant.booth.Booth` of ``config``'s lanes (a
    :class:`~hardware.config.ConsoleConfig`) on ``engine``'s facility ``facility_code`` (default: the first).

    ``clock`` (aware UTC, default the wall clock) drives the services;
    ``processors`` the electronic payment processors (stand-ins unless
    given); ``printer_url`` overrides every lane's printer; ``service``: the
    services already open (:func:`open_services`). Raises
    :class:`~attendant.core.errors.NotFound` for an unknown facility.
    """
    from attendant.booth.booth import Booth

    service = service or open_services(engine, facility_code=facility_code, clock=clock, processors=processors)
    booth = Booth(service, config, printer_url=printer_url)
    startup.resume()
    return booth
