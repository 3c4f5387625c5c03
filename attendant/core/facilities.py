"""Creating facilities from layout files and activating rate-plan versions.

Rate plans are versioned, never edited in place: activating a plan adds a new
``rate_plan_version`` row and marks the others inactive; sessions keep the
version they entered under (rate locked at entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update

from attendant.core import audit
from attendant.core.auth import Actor, Role, authorize
from attendant.core.clock import utc_now
from attendant.core.errors import InputError, NotFound
from attendant.core.layout import FacilityLayout
from attendant.core.rates import RatePlan
from db.models import Facility, Level, RatePlanVersion, Spot

F, L, S, RPV = (t.__table__ for t in (Facility, Level, Spot, RatePlanVersion))


@dataclass(frozen=True, slots=True)
class FacilityInfo:
    """A facility's identity and settings as the services use them."""

    id: int
    code: str
    name: str
    address: str | None
    timezone: str
    currency: str
    capacity: int


def list_facilities(engine: Engine) -> list[FacilityInfo]:
    """All facilities in the database, by code."""
    with engine.connect().execution_options(readonly=True) as conn:
        rows = conn.execute(
            select(F.c.id, F.c.code, F.c.name, F.c.address, F.c.timezone, F.c.currency, F.c.capacity).order_by(
                F.c.code
            )
        ).all()
    return [FacilityInfo(*row) for row in rows]


def facility_position(engine: Engine, facility_id: int) -> tuple[float, float] | None:
    """(latitude, longitude) of a facility, from its layout's ``[facility] latitude``/``longitude``
    (:attr:`attendant.core.layout.FacilityLayout.position`, stored with the layout), or None."""
    from attendant.core.layout import layout_position

    with engine.connect().execution_options(readonly=True) as conn:
        text = conn.execute(select(F.c.layout_source).where(F.c.id == facility_id)).scalar()
    return layout_position(text) if text else None


def get_facility(engine: Engine, code: str | None = None) -> FacilityInfo:
    """The facility with ``code``, or the only/first one when ``code`` is None.

    Raises :class:`NotFound` with a hint to run ``attendant init`` when none exists.
    """
    facilities = list_facilities(engine)
    if not facilities:
        raise NotFound("no facility in this database: run `attendant init --demo` or `attendant init --layout FILE`")
    if code is None:
        return facilities[0]
    for facility in facilities:
        if facility.code == code.upper():
            return facility
    known = ", ".join(f.code for f in facilities)
    raise NotFound(f"no facility {code!r} in this database (known: {known})")


def create_facility(
    engine: Engine,
    layout: FacilityLayout,
    *,
    actor: Actor | str,
    rate_plan: RatePlan | None = None,
    now: datetime | None = None,
) -> FacilityInfo:
    """Create a facility, its levels and spots from ``layout``, and activate its rate plan.

    Admins only (the setup actor is one). ``rate_plan`` defaults to the plan
    named by the layout's ``rate_plan`` key. One transaction; raises
    :class:`InputError` if the code exists or no plan is given.
    """
    actor = authorize(engine, actor, Role.ADMIN, "creating a facility").name
    now = now or utc_now()
    if rate_plan is None:
        if layout.rate_plan_path is None:
            raise InputError("the layout names no rate_plan: give one with --rates FILE")
        from attendant.core.rates import (
            load_rate_plan,  # the TOML validator loads only when a file is read
        )

        rate_plan = load_rate_plan(layout.rate_plan_path)
    with engine.begin() as conn:
        if conn.execute(select(F.c.id).where(F.c.code == layout.code)).first():
            raise InputError(f"facility {layout.code} already exists in this database")
        facility_id = conn.execute(
            insert(F)
            .values(
                code=layout.code,
                name=layout.name,
                address=layout.address,
                timezone=layout.timezone,
                currency=layout.currency,
                capacity=layout.capacity,
                next_ticket_no=0,
                revision=0,
                allocation_strategy="nearest",
                layout_source=layout.source,
                created_at=now,
            )
            .returning(F.c.id)
        ).scalar_one()
        for level in layout.levels:
            level_id = conn.execute(
                insert(L)
                .values(
                    facility_id=facility_id,
                    code=level.code,
                    name=level.name,
                    ordinal=level.ordinal,
                    map="\n".join(level.rows),
                )
                .returning(L.c.id)
            ).scalar_one()
            conn.execute(
                insert(S),
                [
                    dict(
                        facility_id=facility_id,
                        level_id=level_id,
                        label=s.label,
                        zone=s.zone,
                        spot_type=s.spot_type.value,
                        status="available",
                        row=s.row,
                        col=s.col,
                        rank=s.rank,
                    )
                    for s in level.spots
                ],
            )
        _insert_plan(conn, facility_id, rate_plan, source=str(layout.rate_plan_path or ""), actor=actor, now=now)
        audit.record(conn, facility_id=facility_id, actor=actor, action="facility.create", entity="facility",
                     entity_id=facility_id, now=now,
                     details={"code": layout.code, "spots": layout.capacity, "levels": len(layout.levels)})
    return FacilityInfo(facility_id, layout.code, layout.name, layout.address, layout.timezone, layout.currency,
                        layout.capacity)


def _insert_plan(conn, facility_id: int, plan: RatePlan, *, source: str, actor: str, now: datetime) -> int:
    if plan.zone_names:  # a zone no bay is in would silently never price a stay (docs/rates.md, Bay zones)
        zones = {z.lower() for (z,) in conn.execute(select(S.c.zone).where(S.c.facility_id == facility_id)
                                                    .distinct())}
        missing = sorted(plan.zone_names - zones)
        if missing:
            known = ", ".join(sorted(zones, key=lambda z: (len(z), z)))
            raise InputError(
                f"rate plan {plan.name!r} prices zone {missing[0]!r} (a tariff's zones), which no bay of this "
                f"facility is in (its zones: {known}): name it in the layout file, zones = {{ {missing[0]} = "
                '["A", ...] } on a [[levels]] table, or take it out of the plan')
    version = (conn.execute(select(func.max(RPV.c.version)).where(RPV.c.facility_id == facility_id)).scalar() or 0) + 1
    conn.execute(update(RPV).where(RPV.c.facility_id == facility_id).values(active=False))
    return conn.execute(
        insert(RPV)
        .values(
            facility_id=facility_id,
            version=version,
            name=plan.name,
            body=plan.to_dict(),
            source=source,
            active=True,
            created_at=now,
            created_by=actor,
        )
        .returning(RPV.c.id)
    ).scalar_one()


def activate_rate_plan(
    engine: Engine, facility_id: int, plan: RatePlan, *, source: str, actor: Actor | str, now: datetime | None = None
) -> int:
    """Add ``plan`` as the facility's new active version (supervisors); returns the version number.

    Sessions already inside keep the version they entered under.
    """
    actor = authorize(engine, actor, Role.SUPERVISOR, "activating a rate plan").name
    now = now or utc_now()
    with engine.begin() as conn:
        plan_id = _insert_plan(conn, facility_id, plan, source=source, actor=actor, now=now)
        version = conn.execute(select(RPV.c.version).where(RPV.c.id == plan_id)).scalar_one()
        audit.record(conn, facility_id=facility_id, actor=actor, action="rates.activate",
                     entity="rate_plan_version", entity_id=plan_id, now=now,
                     details={"version": version, "name": plan.name, "source": source})
    return version
