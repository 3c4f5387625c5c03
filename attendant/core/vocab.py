"""The field's vocabulary as enumerations (see BRIEF.md, "Vocabulary").

Every value is the lower-case string stored in the database and printed by the
CLI, so ``SpotType("ev")`` round-trips through SQL and JSON unchanged.
"""

from __future__ import annotations

from enum import StrEnum

from attendant.core.payment_methods import PaymentMethod  # noqa: F401 - the vocabulary, built from its table


class SpotType(StrEnum):
    """Kind of bay, from smallest to largest, then the two restricted kinds."""

    MOTORCYCLE = "motorcycle"
    COMPACT = "compact"
    REGULAR = "regular"
    LARGE = "large"
    ACCESSIBLE = "accessible"
    EV = "ev"


class VehicleClass(StrEnum):
    """Vehicle class used for allocation and tariffs; EV is a separate flag."""

    MOTORCYCLE = "motorcycle"
    CAR = "car"
    VAN = "van"
    TRUCK = "truck"
    BUS = "bus"


class SpotStatus(StrEnum):
    """Status of one bay; occupied bays always equal open parking sessions."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"
    RESERVED = "reserved"
    OUT_OF_SERVICE = "out_of_service"


class SessionStatus(StrEnum):
    """Life of a parking session: open from entry until the vehicle exits.

    ``voided``: a ticket issued in error (no stay; attendant/core/corrections.py): closed, nothing due,
    counted by reports neither as an entry nor as an exit.
    """

    OPEN = "open"
    CLOSED = "closed"
    VOIDED = "voided"


class IouStatus(StrEnum):
    """An IOU is open until the plate settles it."""

    OPEN = "open"
    SETTLED = "settled"


class PaymentStatus(StrEnum):
    """Processor status of one payment (seed 003, payment processing)."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REFUNDED = "refunded"


class LaneDirection(StrEnum):
    """Whether a lane admits vehicles (entry) or lets them leave (exit)."""

    ENTRY = "entry"
    EXIT = "exit"


class VendSource(StrEnum):
    """What caused a gate to open (a vend)."""

    TICKET = "ticket"
    PAYMENT = "payment"
    PASS = "pass"
    ATTENDANT = "attendant"
    LPR = "lpr"
    REPLAY = "replay"
    TEST = "test"  # a supervisor's device test (attendant devices test LANE.gate)


class GateOutcome(StrEnum):
    """What became of a gate opening the booth asked for (shown by both front ends).

    Only ``opened`` and ``fault`` are recorded as vend rows: a lane without a
    gate, or an operation that does not vend it, opens nothing and records
    nothing, so reports count real openings.
    """

    OPENED = "opened"
    FAULT = "fault"
    NO_GATE = "no gate"
    NOT_VENDED = "not vended"
    ALREADY_EXITED = "already exited"
    ALREADY_ENTERED = "already entered"  # a retried entry (same idempotency key): the gate is not vended again
