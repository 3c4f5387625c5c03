"""The one wiring of a booth: database, facility, ticket secret, services and lanes.

The console (:func:`attendant.tui.app.make_app`) and the CLI
(:class:`attendant.cli.common.Context`) both build their booth here, so the
two front ends run on the same services, signed with the same installation
secret (kept outside the database: ``attendant.paths``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from attendant.booth.booth import Booth
from attendant.core.clock import utc_now
from attendant.core.payments import ProcessorRegistry
from attendant.core.services import ParkingService
from attendant.core.tickets import TicketSigner
from attendant.paths import load_or_create_secret
from hardware.config import ConsoleConfig


def open_booth(
    engine: Engine,
    config: ConsoleConfig,
    *,
    facility_code: str | None = None,
    clock: Callable[[], datetime] | None = None,
    processors: ProcessorRegistry | None = None,
    printer_url: str | None = None,
) -> Booth:
    """The booth of ``config``'s lanes on ``engine``'s facility ``facility_code`` (default: the first).

    ``clock`` (aware UTC, default the wall clock) drives the services;
    ``processors`` the electronic payment processors (stand-ins unless
    given); ``printer_url`` overrides every lane's printer. Raises
    :class:`~attendant.core.errors.NotFound` for an unknown facility.
    """
    service = ParkingService(engine, TicketSigner(load_or_create_secret()), facility_code=facility_code,
                             clock=clock or utc_now, processors=processors)
    return Booth(service, config, printer_url=printer_url)
