"""SQLModel tables: the persistent state of one or several facilities.

Shapes and units:
- Money columns are integers in the facility currency's minor units (pence).
- Time columns are :class:`db.types.UTCDateTime` (aware UTC).
- Enumerated columns hold the lower-case values of :mod:`attendant.core.vocab`.

Two partial unique indexes make the core rules hold in the database itself,
whatever the number of booths writing: one open parking session per spot
(no double allocation) and one open session per plate and facility
(anti-passback), see ``ParkingSession.__table_args__``.

Every table derives from :class:`Table`, whose pydantic validator is built on
first use only (``defer_build``): the services write through SQLAlchemy Core
on ``Model.__table__`` and never validate rows through pydantic, so a command
that starts does not pay for building sixteen validators.
"""

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from db.types import UTCDateTime


class Table(SQLModel):
    """The base of every table model (see the module docstring)."""

    model_config = SQLModelConfig(defer_build=True)


OPEN = text("status = 'open'")


class Facility(Table, table=True):
    """A car park (lot). Several may share one database."""

    __tablename__ = "facility"

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=8, unique=True, description="Short code printed in ticket codes, A-Z0-9")
    name: str = Field(max_length=120)
    address: Optional[str] = Field(default=None, max_length=200)
    timezone: str = Field(max_length=64, description="IANA zone for rates, reports and tickets")
    currency: str = Field(max_length=3, description="ISO 4217 code")
    capacity: int = Field(default=0, description="Number of spots, all types")
    next_ticket_no: int = Field(default=0, description="Last ticket number issued")
    next_offline_ticket_no: int = Field(default=89_999_999, description="Last ticket number reserved by a booth for "
                                        "offline entries (90,000,000 up; migration 0014_journal_applied)")
    revision: int = Field(default=0, description="Bumped by every change of spot state")
    allocation_strategy: str = Field(default="nearest", max_length=20)
    layout_source: Optional[str] = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_type=UTCDateTime)
    # The window of times requests may give (``--at``), in seconds (attendant/core/time_bounds.py, 0013_time_bounds)
    at_before_s: int = Field(default=86_400, sa_column=Column(BigInteger, nullable=False, server_default="86400"),
                             description="Earliest: oldest open entry (or now) minus this")
    at_ahead_s: int = Field(default=60, sa_column=Column(BigInteger, nullable=False, server_default="60"),
                            description="Latest: now plus this")
    at_widen_s: int = Field(default=31_622_400,
                            sa_column=Column(BigInteger, nullable=False, server_default="31622400"),
                            description="Earliest a supervisor may back-date to, with a reason: now minus this")
    # A facility replaying history: attendant-level actors may back-date within the window (0017_lostvend)
    at_replay: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()),
                            description="Back-dating within the window needs no supervisor (replays)")
    # The count-up policy (attendant/core/shifts.py, 0021_staff)
    count_blind: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()),
                              description="The console hides the expected amounts until the count is entered")
    over_short_reason_above: int = Field(default=500,
                                         sa_column=Column(BigInteger, nullable=False, server_default="500"),
                                         description="Minor units: an over/short larger than this needs a reason")


class Level(Table, table=True):
    """One level (floor) of a facility; ``map`` is its drawing from the layout file."""

    __tablename__ = "level"
    __table_args__ = (UniqueConstraint("facility_id", "code"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id", index=True)
    code: str = Field(max_length=8)
    name: str = Field(max_length=60)
    ordinal: int = Field(description="0 for the level nearest the entrance, then 1, 2, ...")
    map: str = Field(sa_column=Column(Text, nullable=False))


class Spot(Table, table=True):
    """One bay; ``row``/``col`` are its cell in the level drawing."""

    __tablename__ = "spot"
    __table_args__ = (
        UniqueConstraint("facility_id", "label"),
        # Free bays in the strategies' orders: a claim walks one of these and stops at the first fit
        # (attendant/core/store.py, migration 0010_bay_claims).
        Index("ix_spot_free_rank", "facility_id", "rank", "id", sqlite_where=text("status = 'available'"),
              postgresql_where=text("status = 'available'")),
        Index("ix_spot_free_type_rank", "facility_id", "spot_type", "rank", "id",
              sqlite_where=text("status = 'available'"), postgresql_where=text("status = 'available'")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id", index=True)
    level_id: int = Field(foreign_key="level.id", index=True)
    label: str = Field(max_length=16, description="e.g. L2-C07: level code, zone letter, number")
    zone: str = Field(max_length=32, description="Row letter, or the zone the layout names (short_stay)")
    spot_type: str = Field(max_length=12)
    status: str = Field(default="available", max_length=16)
    row: int
    col: int
    rank: int = Field(description="Distance order from the facility entrance (smaller is nearer)")


class RatePlanVersion(Table, table=True):
    """An immutable version of a facility's rate plan; sessions lock the version at entry."""

    __tablename__ = "rate_plan_version"
    __table_args__ = (UniqueConstraint("facility_id", "version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id", index=True)
    version: int
    name: str = Field(max_length=120)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source: Optional[str] = Field(default=None, max_length=300)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)


class Vehicle(Table, table=True):
    """A vehicle known by its normalised plate."""

    __tablename__ = "vehicle"

    id: Optional[int] = Field(default=None, primary_key=True)
    plate: str = Field(max_length=64, unique=True,
                       description="Blind index of the normalised plate (attendant/core/personal_data.py), never "
                                   "the plate")
    vehicle_class: str = Field(max_length=12)
    ev: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ParkingSession(Table, table=True):
    """A stay, from entry to exit, and the ticket that records it."""

    __tablename__ = "parking_session"
    __table_args__ = (
        UniqueConstraint("facility_id", "ticket_no"),
        Index("uq_open_session_spot", "spot_id", unique=True, sqlite_where=OPEN, postgresql_where=OPEN),
        Index(  # on the plate's blind index (0012_personal_data): the plate itself is ciphertext
            "uq_open_session_plate", "facility_id", "plate_hash", unique=True, sqlite_where=OPEN,
            postgresql_where=OPEN
        ),
        Index("ix_session_open_plate_fold", "facility_id", "plate_fold", sqlite_where=OPEN, postgresql_where=OPEN),
        Index("ix_session_plate_hash", "plate_hash"),
        Index("ix_session_facility_status", "facility_id", "status"),
        Index("ix_session_facility_exit_at", "facility_id", "exit_at"),
        Index("ix_session_facility_entry_at", "facility_id", "entry_at"),  # reports (migration 0003)
        Index("uq_session_entry_key", "facility_id", "entry_key", unique=True),  # retried entries (0016)
        Index("uq_session_exit_key", "facility_id", "exit_key", unique=True),  # retried exits, nothing paid (0016)
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    ticket_no: int
    code: str = Field(max_length=64, unique=True,
                      description="Keyed hash of the signed ticket code (the QR payload), not the code")
    vehicle_id: Optional[int] = Field(default=None, foreign_key="vehicle.id", index=True)
    plate: Optional[str] = Field(default=None, max_length=120,
                                 description="Normalised plate at entry, AES-GCM ciphertext (personal_data.py)")
    plate_hash: Optional[str] = Field(default=None, max_length=32, description="Blind index of the plate")
    plate_fold: Optional[str] = Field(default=None, max_length=32,
                                      description="Blind index of the confusable-folded plate")
    retention_hold: Optional[str] = Field(default=None, max_length=200,
                                          description="Why the plate is kept past the retention period (dispute)")
    vehicle_class: str = Field(max_length=12)
    ev: bool = Field(default=False)
    spot_id: int = Field(foreign_key="spot.id")
    spot_type: str = Field(max_length=12)
    rate_plan_version_id: Optional[int] = Field(default=None, foreign_key="rate_plan_version.id")
    status: str = Field(default="open", max_length=12)
    entry_lane: Optional[str] = Field(default=None, max_length=16)
    exit_lane: Optional[str] = Field(default=None, max_length=16)
    entry_at: datetime = Field(sa_type=UTCDateTime)
    exit_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    amount_due: Optional[int] = Field(default=None, description="Fee at exit, minor units")
    amount_paid: int = Field(default=0, description="Sum of completed payments, minor units")
    fee_lines: Optional[list[dict[str, Any]]] = Field(default=None, sa_column=Column(JSON))
    entry_actor: str = Field(max_length=80)
    exit_actor: Optional[str] = Field(default=None, max_length=80)
    discount: int = Field(default=0, description="Validations applied, minor units")
    exit_reason: Optional[str] = Field(default=None, max_length=200, description="IOU or free-exit reason")
    paid_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime, description="When the balance reached 0")
    entry_key: Optional[str] = Field(default=None, max_length=80,
                                     description="Idempotency key of the entry request (a retry returns this session)")
    exit_key: Optional[str] = Field(default=None, max_length=80,
                                    description="Idempotency key of the exit request (a retry returns this exit)")
    allow_entry_id: Optional[int] = Field(default=None, description="The allow-list entry (plate_list_entry.id) "
                                          "that made the exit free (0017_accounts_plate_lists)")
    reservation_id: Optional[int] = Field(default=None, description="The reservation checked in by this entry "
                                          "(0020_reserve; no foreign key: added to a live table)")


class Payment(Table, table=True):
    """Money taken (or attempted) against a parking session."""

    __tablename__ = "payment"
    __table_args__ = (Index("ix_payment_facility_at", "facility_id", "created_at"),
                      Index("ix_payment_account", "facility_id", "method", "processor_ref"))  # an account's charges

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    session_id: int = Field(foreign_key="parking_session.id", index=True)
    method: str = Field(max_length=16)
    status: str = Field(max_length=12)
    amount: int = Field(description="Amount applied to the fee, minor units")
    tendered: Optional[int] = Field(default=None, description="Cash handed over, minor units")
    change: Optional[int] = Field(default=None, description="Cash given back, minor units")
    idempotency_key: str = Field(max_length=80, unique=True)
    processor_ref: Optional[str] = Field(default=None, max_length=80)
    lane: Optional[str] = Field(default=None, max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)
    shift_id: Optional[int] = Field(default=None, foreign_key="shift.id", index=True)
    user_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    refund_of_id: Optional[int] = Field(default=None, foreign_key="payment.id", description="Refunded payment")
    message: Optional[str] = Field(default=None, max_length=200, description="Decline or failure reason")
    updated_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class Vend(Table, table=True):
    """One gate opening the booth commanded: what caused it, why, and what the gate did."""

    __tablename__ = "vend"
    # reports count real openings by source over a period from the index alone (0004, outcome added in 0005)
    __table_args__ = (Index("ix_vend_facility_at", "facility_id", "at", "source", "outcome"),
                      Index("ix_vend_session", "session_id"))  # a session's vends, for its audit rows (0011)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id", index=True)
    lane: Optional[str] = Field(default=None, max_length=16)
    direction: str = Field(max_length=8)
    source: str = Field(max_length=16)
    reason: Optional[str] = Field(default=None, max_length=200)
    session_id: Optional[int] = Field(default=None, foreign_key="parking_session.id")
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)
    # what the gate did (0005): "opened" (commanded) or "fault" (refused: offline, in fault), with its message
    outcome: str = Field(default="opened", max_length=12, sa_column_kwargs={"server_default": "opened"})
    message: Optional[str] = Field(default=None, max_length=200)


class AuditEvent(Table, table=True):
    """Append-only record of every state change, naming the actor.

    ``at`` is when it was recorded (wall clock, UTC); ``effective_at`` is the
    time the operation claims (differs for ``--at`` replays and back-dated
    corrections).
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_facility_at", "facility_id", "at"),
                      Index("uq_audit_chain_seq", "chain", "seq", unique=True),  # one event per place (0017)
                      Index("ix_audit_entity", "entity", "entity_id"))  # an entity's events (0011)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: Optional[int] = Field(default=None, foreign_key="facility.id")
    at: datetime = Field(sa_type=UTCDateTime)
    effective_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=30)
    entity_id: Optional[int] = None
    details: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    # The hash chain (0011_audit_chain, attendant/core/audit.py): ``seq`` is the event's place in the
    # chain (1, 2, ...), ``rows`` the non-personal fields of the rows it records as they stood at commit,
    # ``hash`` = SHA-256 over the event's content, ``rows`` and ``prev_hash`` (the previous event's hash).
    seq: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    # ``chain``: which of the parallel chains the event is in (0017_audit_chains; ``seq`` counts per chain)
    chain: int = Field(default=1, sa_column=Column(SmallInteger, nullable=False, default=1, server_default="1"))
    prev_hash: Optional[str] = Field(default=None, max_length=64)
    hash: Optional[str] = Field(default=None, max_length=64)
    rows: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))


class AuditChainHead(Table, table=True):
    """One row per audit chain (``id`` = the chain, 1..:data:`attendant.core.audit.CHAINS`) naming its
    newest event and that event's hash.

    A writer locks the first head nobody holds (``SELECT ... FOR UPDATE SKIP
    LOCKED``) in the transaction that appends events, so concurrent booths
    chain side by side instead of one after another (attendant/core/audit.py;
    migrations 0011_audit_chain, 0017_audit_chains).
    """

    __tablename__ = "audit_chain_head"

    id: int = Field(primary_key=True)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    event_id: Optional[int] = Field(default=None, description="The newest audit event's id (None: no event)")
    hash: str = Field(max_length=64, description="Its hash (64 zeros before the first event)")


OPEN_SHIFT = text("status = 'open'")


class User(Table, table=True):
    """A person who logs in: attendant, supervisor or admin. PINs are argon2 hashes."""

    __tablename__ = "app_user"

    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=40, unique=True)
    display_name: str = Field(max_length=80)
    role: str = Field(max_length=12, description="attendant, supervisor or admin")
    pin_hash: str = Field(max_length=200)
    # Superseded by login_guard (0008: lock-outs per user and source); kept so older readers still work.
    failed_attempts: int = Field(default=0)
    locked_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class LoginGuard(Table, table=True):
    """Wrong PINs for one user from one source (a CLI account on a host, a console, an API client).

    A lock-out holds only for that source, so a stranger elsewhere cannot lock
    a user out of the booth (attendant/core/users.py has the back-off rule).
    """

    __tablename__ = "login_guard"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    source: str = Field(max_length=80, primary_key=True)
    failures: int = Field(default=0, description="Consecutive wrong PINs since the last lock or success")
    locks: int = Field(default=0, description="Locks since the last success: the back-off's exponent")
    locked_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_failure_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class Shift(Table, table=True):
    """A user's shift at a facility: float in, takings, drops, count-up at close.

    ``expected`` and ``counted`` map payment method -> minor units;
    ``count_detail`` maps denomination (minor units, as text) -> count.
    """

    __tablename__ = "shift"
    __table_args__ = (
        Index("uq_open_shift_user", "facility_id", "user_id", unique=True, sqlite_where=OPEN_SHIFT,
              postgresql_where=OPEN_SHIFT),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    terminal: Optional[str] = Field(default=None, max_length=40)
    status: str = Field(default="open", max_length=12)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    float_amount: int = Field(default=0)
    expected: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    counted: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    count_detail: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    over_short: Optional[int] = Field(default=None, description="Counted cash minus expected cash")
    closed_by: Optional[str] = Field(default=None, max_length=80)
    over_short_reason: Optional[str] = Field(default=None, sa_column=Column(Text),
                                             description="Why the count was over or short (0021_staff)")


class CashMovement(Table, table=True):
    """Cash in or out of a shift's drawer that is not a payment: float, drop, paid in/out."""

    __tablename__ = "cash_movement"

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    shift_id: int = Field(foreign_key="shift.id", index=True)
    kind: str = Field(max_length=12, description="float, drop, paid_in, paid_out")
    amount: int = Field(description="Minor units, positive")
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)
    note: Optional[str] = Field(default=None, max_length=200)


class Iou(Table, table=True):
    """A debt left when a vehicle was let go without full payment (never trap a car)."""

    __tablename__ = "iou"
    __table_args__ = (Index("ix_iou_plate_status", "facility_id", "plate_hash", "status"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    session_id: int = Field(foreign_key="parking_session.id", index=True)
    plate: Optional[str] = Field(default=None, max_length=120, description="AES-GCM ciphertext")
    plate_hash: Optional[str] = Field(default=None, max_length=32, description="Blind index of the plate")
    amount: int = Field(description="Unpaid amount, minor units")
    reason: str = Field(max_length=200)
    status: str = Field(default="open", max_length=12, description="open, settled, written_off")
    created_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)
    settled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    settled_payment_id: Optional[int] = Field(default=None, foreign_key="payment.id")


class Validation(Table, table=True):
    """A merchant validation (discount): amount, percent or minutes off."""

    __tablename__ = "validation"

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    code: str = Field(max_length=40, unique=True)
    merchant: str = Field(max_length=80)
    kind: str = Field(max_length=10, description="amount, percent or minutes")
    value: int = Field(description="Minor units, percent (0-100) or minutes")
    reusable: bool = Field(default=False)
    max_uses: Optional[int] = None
    uses: int = Field(default=0)
    expires_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)


class ValidationUse(Table, table=True):
    """One application of a validation to a parking session."""

    __tablename__ = "validation_use"
    __table_args__ = (UniqueConstraint("validation_id", "session_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    validation_id: int = Field(foreign_key="validation.id", index=True)
    session_id: int = Field(foreign_key="parking_session.id", index=True)
    amount_off: int = Field(description="Minor units taken off the fee")
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)


class PassHolder(Table, table=True):
    """A pass (monthly/contract parker): its code or plate covers fees while valid."""

    __tablename__ = "pass_holder"

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    code: str = Field(max_length=40, unique=True)
    plate: Optional[str] = Field(default=None, max_length=120, description="AES-GCM ciphertext")
    plate_hash: Optional[str] = Field(default=None, max_length=32, index=True, description="Blind index of the plate")
    holder_name: str = Field(sa_column=Column(Text, nullable=False), description="AES-GCM ciphertext")
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_to: datetime = Field(sa_type=UTCDateTime)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


ACTIVE_ENTRY = text("removed_at IS NULL")


class Account(Table, table=True):
    """An account payments are invoiced to (issue 10 item 7; migration 0017_accounts_plate_lists).

    ``reference`` (upper case) is unique per facility and never reused, so the payments that name it
    (``payment.method = 'account'``, ``payment.processor_ref = reference``) are the account's charges.
    ``holder`` is AES-GCM ciphertext (:mod:`attendant.core.personal_data`): a holder may be a person or a
    sole trader trading under their own name, so every holder name is treated as personal data.
    ``credit_limit`` minor units, None for no limit. ``status`` ``open`` or ``closed``.
    """

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("facility_id", "reference", name="uq_account_reference"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    reference: str = Field(max_length=40)
    holder: str = Field(sa_column=Column(Text, nullable=False), description="AES-GCM ciphertext")
    credit_limit: Optional[int] = Field(default=None, description="Most the balance may reach, minor units")
    status: str = Field(default="open", max_length=12, description="open or closed")
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)
    closed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    closed_by: Optional[str] = Field(default=None, max_length=80)
    close_reason: Optional[str] = Field(default=None, max_length=240)


class PlateListEntry(Table, table=True):
    """A plate on the facility's deny or allow list (issue 10 item 8; migration 0017_accounts_plate_lists).

    ``kind`` ``deny`` (``action`` ``refuse``: entry refused; ``flag``: admitted, the attendant warned) or
    ``allow`` (``action`` ``free``: the exit charges nothing). The plate is stored as sessions store it:
    ciphertext, exact blind index and confusable-folded blind index (:mod:`attendant.core.personal_data`).
    ``valid_until`` None: until removed. Removed entries keep their row (``removed_at``): sessions and
    audit events name them. One live entry per plate and facility.
    """

    __tablename__ = "plate_list_entry"
    __table_args__ = (
        Index("uq_plate_list_live", "facility_id", "plate_hash", unique=True, sqlite_where=ACTIVE_ENTRY,
              postgresql_where=ACTIVE_ENTRY),
        Index("ix_plate_list_fold", "facility_id", "plate_fold"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    kind: str = Field(max_length=8, description="deny or allow")
    action: str = Field(max_length=8, description="refuse or flag (deny), free (allow)")
    # None once the retention rule erased the plate of an entry removed or expired long ago (retention.py)
    plate: Optional[str] = Field(default=None, max_length=120, description="AES-GCM ciphertext")
    plate_hash: Optional[str] = Field(default=None, max_length=32, description="Blind index of the plate")
    plate_fold: Optional[str] = Field(default=None, max_length=32,
                                      description="Blind index of the confusable-folded plate")
    reason: str = Field(max_length=240, description="CODE or 'CODE: text' (attendant/core/exceptions.py)")
    valid_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)
    removed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    removed_by: Optional[str] = Field(default=None, max_length=80)


TABLES = SQLModel.metadata


class SessionConcession(Table, table=True):
    """A concession recorded on a session (``disabled_badge``), priced by the tariffs naming it (0020_tariffs).

    ``badge`` is the badge number's AES-GCM ciphertext (personal_data.py); the retention rule erases it.
    """

    __tablename__ = "session_concession"
    __table_args__ = (UniqueConstraint("session_id", "name", name="uq_session_concession"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    session_id: int = Field(foreign_key="parking_session.id")
    name: str = Field(max_length=32)
    badge: Optional[str] = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)


class ChangeLog(Table, table=True):
    """One committed change other consoles follow live: written by database triggers (migration
    0009_change_feed), never by the application, so every writer (a booth, the CLI, a replayed
    journal) feeds it. ``kind``: spot, entry, exit, payment or lane (0015); ``body``: a JSON object (no personal
    data). Pruned by the same triggers to the last 20,000 rows; read by :mod:`attendant.core.changes`.
    """

    __tablename__ = "change_log"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused: readers follow them in order

    id: Optional[int] = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                             primary_key=True))
    facility_id: int = Field(description="The facility the change belongs to (no foreign key: a log)")
    kind: str = Field(max_length=12)
    body: str = Field(sa_column=Column(Text, nullable=False))


class LaneStatus(Table, table=True):
    """What one booth's console shows of one lane it drives, for every other console (migration
    0015_lane_status): gate, devices in trouble, tickets waiting for a reprint and the queue.

    One row per (facility, booth, lane), upserted by :mod:`attendant.core.lane_status` when it
    changes and at least every heartbeat; database triggers log each write to ``change_log``
    (kind ``lane``). ``queue`` holds the waiting vehicles' classes only and ``devices`` maps a
    device kind to ``[state, message]``: no plates, no personal data. ``updated_at`` UTC: a row
    older than a few heartbeats is a booth that has gone away.
    """

    __tablename__ = "lane_status"

    facility_id: int = Field(foreign_key="facility.id", primary_key=True)
    booth: str = Field(max_length=64, primary_key=True)
    lane: str = Field(max_length=16, primary_key=True)
    direction: str = Field(max_length=8)
    gate: Optional[str] = Field(default=None, max_length=12)
    gate_reason: Optional[str] = Field(default=None, max_length=200)
    devices: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    queue: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    reprints: int = Field(default=0)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ApiToken(Table, table=True):
    """A credential of the HTTP API (migration 0016_api_tokens): a name, a role, and the HMAC-SHA256 of the
    token's text (:mod:`attendant.core.api_tokens`), never the text. Revoked, never deleted: a name is
    used once, so the audit actor ``api:<name>`` always means one token."""

    __tablename__ = "api_token"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True)
    role: str = Field(max_length=12, description="attendant, supervisor or admin")
    token_hash: str = Field(max_length=64, unique=True, description="hex HMAC-SHA256 of the token")
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class JournalApplied(Table, table=True):
    """One booth journal event already applied to this database (migration 0014_journal_applied).

    Written by :mod:`attendant.core.journal_sync` in the same transaction as
    the event's effect, so a replay interrupted half-way can run again and
    applies each event exactly once. ``event_id`` is the journal's uuid;
    ``session_id`` the session the event entered or closed (an exit of a
    vehicle that entered offline finds its session through it).
    """

    __tablename__ = "journal_applied"

    event_id: str = Field(primary_key=True, max_length=36)
    facility_id: int = Field(foreign_key="facility.id")
    kind: str = Field(max_length=12)
    session_id: Optional[int] = Field(default=None)
    booth: str = Field(max_length=80)
    applied_at: datetime = Field(sa_type=UTCDateTime)


class ReservationPool(Table, table=True):
    """The bays of one spot type (optionally in one zone) that reservations may book (migration 0020_reserve).

    ``bays`` (a number) or ``share_pct`` (a share of that type's bays, in whole percent, rounded down): one of
    them is set. The row is also what bookings lock (``SELECT ... FOR UPDATE`` on PostgreSQL) so that two booths
    booking the last slot of a pool at the same moment are serialised (attendant/core/reservations.py).
    """

    __tablename__ = "reservation_pool"
    __table_args__ = (UniqueConstraint("facility_id", "spot_type", "zone"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id", index=True)
    spot_type: str = Field(max_length=12)
    zone: str = Field(default="", max_length=8, description="'' for the whole facility")
    bays: Optional[int] = Field(default=None, description="Reservable bays (a number)")
    share_pct: Optional[int] = Field(default=None, description="Reservable share of the type's bays, percent")
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=80)


class Reservation(Table, table=True):
    """A bay of a spot type (or zone, or one bay) booked for a window (migration 0020_reserve).

    Status ``booked`` -> ``checked_in`` -> ``completed``, or ``cancelled``, ``no_show``, ``expired``.
    Times UTC; money minor units. Plate, holder name and contact are AES-GCM ciphertext with blind indexes of
    the plate (attendant/core/personal_data.py); ``code`` is the keyed hash of the signed reservation code.
    """

    __tablename__ = "reservation"
    __table_args__ = (
        Index("ix_reservation_pool_window", "pool_id", "status", "start_at"),
        Index("ix_reservation_facility_status", "facility_id", "status", "hold_from_at"),
        Index("ix_reservation_plate", "facility_id", "plate_hash", "status"),
        Index("ix_reservation_plate_fold", "facility_id", "plate_fold", "status"),
        Index("uq_reservation_booking_key", "facility_id", "booking_key", unique=True),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    pool_id: int = Field(foreign_key="reservation_pool.id")
    code: Optional[str] = Field(default=None, max_length=64, unique=True,
                                description="Keyed hash of the signed reservation code, not the code")
    status: str = Field(default="booked", max_length=12)
    vehicle_class: str = Field(max_length=12)
    ev: bool = Field(default=False)
    accessible: bool = Field(default=False)
    spot_type: str = Field(max_length=12)
    zone: Optional[str] = Field(default=None, max_length=8)
    spot_id: Optional[int] = Field(default=None, foreign_key="spot.id", description="A specific bay booked")
    held_spot_id: Optional[int] = Field(default=None, foreign_key="spot.id", description="The bay held now")
    session_id: Optional[int] = Field(default=None, foreign_key="parking_session.id")
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    hold_from_at: datetime = Field(sa_type=UTCDateTime, description="start_at minus the arrival allowance")
    no_show_at: datetime = Field(sa_type=UTCDateTime, description="start_at plus the no-show grace")
    plate: Optional[str] = Field(default=None, max_length=120, description="AES-GCM ciphertext")
    plate_hash: Optional[str] = Field(default=None, max_length=32)
    plate_fold: Optional[str] = Field(default=None, max_length=32)
    holder_name: Optional[str] = Field(default=None, sa_column=Column(Text), description="AES-GCM ciphertext")
    holder_contact: Optional[str] = Field(default=None, sa_column=Column(Text), description="AES-GCM ciphertext")
    rate_plan_version_id: Optional[int] = Field(default=None, foreign_key="rate_plan_version.id")
    price: int = Field(default=0, description="Price of the window, minor units")
    amount_prepaid: int = Field(default=0, description="Prepayment completed, net of refunds, minor units")
    no_show_fee: int = Field(default=0, description="Kept from the prepayment for a no-show, minor units")
    booking_key: Optional[str] = Field(default=None, max_length=80, description="Idempotency key of the booking")
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)
    checked_in_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    closed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    reason: Optional[str] = Field(default=None, max_length=200, description="Cancellation reason")


class ReservationPayment(Table, table=True):
    """Money moved for a reservation (migration 0020_reserve): ``kind`` prepay, refund; ``amount`` minor
    units (a refund is negative); ``status`` pending, completed, failed; ``idempotency_key`` unique, as the
    processor sees it (attendant/core/payments.py)."""

    __tablename__ = "reservation_payment"

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id")
    reservation_id: int = Field(foreign_key="reservation.id", index=True)
    kind: str = Field(max_length=12)
    method: str = Field(max_length=16)
    status: str = Field(max_length=12)
    amount: int
    idempotency_key: str = Field(max_length=80, unique=True)
    processor_ref: Optional[str] = Field(default=None, max_length=80)
    message: Optional[str] = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)
