"""Payment processors: the interface, and the stand-in used by the demo and tests.

Source of the rules: ../shared/seeds/003 (payment processing: idempotency
keys so a retried request never charges twice; statuses pending, completed,
failed, refunded; retries with the same key; an outage must not block the
exit) and BRIEF.md feature 6.

A processor is called *outside* any database transaction: the payment row is
first written as ``pending`` with its idempotency key, the processor is asked,
and the row becomes ``completed`` or ``failed``. A request that times out stays
``pending``; asking again with the same key returns the processor's first
answer, never a second charge.

Cash, pass, validation and account payments are settled locally and need no
processor. Card, UPI, e-wallet and mobile go to the processor registered for
the method (:class:`ProcessorRegistry`); the demo registers
:class:`StandInProcessor` for each, scriptable per method with the
``ATTENDANT_STANDIN_PAYMENTS`` environment variable, e.g.
``card=decline,timeout;upi=unavailable`` (outcomes are used in order, the last
one repeats; default ``approve``; ``card=approve@2s`` makes each answer take
2 s, so a race between two lanes can be played from two CLI processes).
The stand-ins remember every idempotency key in a ledger file shared by the
processes of the installation, as a real processor would.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from attendant.core.errors import InputError, PaymentError
from attendant.core.payment_methods import ELECTRONIC
from attendant.core.vocab import PaymentMethod

OUTCOMES = ("approve", "decline", "timeout", "no_answer", "unavailable")
MAX_STANDIN_DELAY_S = 60.0
"""The longest a scripted stand-in answer may be made to take (``approve@2s``), in seconds."""


class ProcessorTimeout(PaymentError):
    """No answer in time: the charge may or may not have happened; retry with the same key."""


class ProcessorUnavailable(PaymentError):
    """The processor cannot be reached at all (outage): nothing was charged."""


@dataclass(frozen=True, slots=True)
class ProcessorResult:
    """A processor's answer: ``approved`` with its ``reference``, or a decline ``message``."""

    approved: bool
    reference: str | None
    message: str


class PaymentProcessor(Protocol):
    """What the services need from a card/UPI/e-wallet/mobile processor.

    ``charge`` and ``refund`` take amounts in minor units and an idempotency
    key; the same key must return the same result without charging again.
    ``status`` is the processor's status query: its answer for a key (None
    when it never received that key), used to settle an attempt whose answer
    was lost before anything else is charged. ``void`` reverses whatever a
    key did (timeout reversal). All raise :class:`ProcessorTimeout` or
    :class:`ProcessorUnavailable` when the processor does not answer.
    """

    def charge(self, amount: int, currency: str, idempotency_key: str, reference: str) -> ProcessorResult: ...

    def status(self, idempotency_key: str) -> ProcessorResult | None: ...

    def refund(self, original_reference: str, amount: int, idempotency_key: str) -> ProcessorResult: ...

    def void(self, idempotency_key: str) -> None: ...


def parse_outcome(text: str) -> tuple[str, float]:
    """``"approve@2s"`` -> ``("approve", 2.0)``: a scripted outcome and how long the answer takes (seconds).

    The delay is written ``@2s``, ``@1.5s`` or ``@250ms`` (0 to
    :data:`MAX_STANDIN_DELAY_S`). Raises :class:`InputError` for an unknown
    outcome or a bad delay.
    """
    outcome, _, delay = text.strip().lower().partition("@")
    outcome = outcome.strip()
    if outcome not in OUTCOMES:
        raise InputError(f"unknown stand-in outcome {outcome!r} (one of: {', '.join(OUTCOMES)})")
    seconds = 0.0
    if delay:
        delay = delay.strip()
        scale, number = (0.001, delay[:-2]) if delay.endswith("ms") else (1.0, delay.removesuffix("s"))
        try:
            seconds = float(number) * scale if number.isascii() and number else -1.0
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= MAX_STANDIN_DELAY_S:
            raise InputError(f"stand-in delay {delay!r}: write e.g. @2s or @250ms, at most "
                             f"{MAX_STANDIN_DELAY_S:g} s")
    return outcome, seconds


_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS answer (
    key TEXT PRIMARY KEY,       -- the idempotency key
    method TEXT NOT NULL,
    kind TEXT NOT NULL,         -- charge or refund
    amount INTEGER NOT NULL,    -- minor units
    approved INTEGER NOT NULL,
    reference TEXT,
    message TEXT NOT NULL,
    state TEXT NOT NULL,        -- answered, silent (charged, answer lost), voided
    charged INTEGER NOT NULL,   -- 1 when money moved (a charge approved, even if its answer was lost)
    original TEXT               -- a refund's original charge reference
);
"""


class StandInProcessor:
    """A faithful stand-in processor whose answers are scripted.

    ``script`` lists outcomes (``approve``, ``decline``, ``timeout``,
    ``no_answer``, ``unavailable``, each optionally with how long the answer
    takes, ``approve@2s``) used one per new request, the last repeating. A
    ``timeout`` models a lost answer *after* the charge went through: a retry
    with the same key returns the approval (and is not charged twice), which
    is exactly the case idempotency keys exist for. ``no_answer`` charges
    but never answers for that key, until the key is voided (timeout
    reversal) or :meth:`answer_again` is called; its :meth:`status` query
    does answer.

    Like a real processor it remembers every key it saw in a ledger: in
    memory by default, or in the SQLite file ``ledger`` (the standard
    library's ``sqlite3``), which several processes (booths, CLI runs) share,
    so a key charged by one is known to the others and survives a crash.
    ``charges`` lists the charges made (key, amount) and not voided,
    ``voids`` the keys reversed after a charge, ``refunds`` (original
    reference, amount): what tests and the demo check.
    """

    def __init__(self, method: PaymentMethod = PaymentMethod.CARD,
                 script: list[str] | tuple[str, ...] = ("approve",), *, ledger: str | os.PathLike | None = None):
        self.method = method
        self.set_script(script)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(os.fspath(ledger) if ledger else ":memory:", timeout=30,
                                   check_same_thread=False, isolation_level=None)
        if ledger:
            from db.engine import sqlite_wal

            sqlite_wal(self._db)  # several lanes' processes open the one ledger
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_LEDGER_SCHEMA)

    def close(self) -> None:
        """Close the ledger's connection (a file ledger stays for the other processes)."""
        self._db.close()

    def set_script(self, script) -> None:
        """Replace the outcomes to come (see the class docstring). Raises :class:`InputError`."""
        self._script = [parse_outcome(s) for s in script if s.strip()] or [("approve", 0.0)]

    def _next(self) -> tuple[str, float]:
        with self._lock:
            return self._script.pop(0) if len(self._script) > 1 else self._script[0]

    def _answer(self, key: str):
        return self._db.execute("SELECT approved, reference, message, state FROM answer WHERE key = ?",
                                (key,)).fetchone()

    def _record(self, key: str, kind: str, amount: int, result: ProcessorResult, state: str, charged: bool,
                original: str | None = None) -> ProcessorResult:
        """Record ``result`` for ``key`` unless another request (another process) answered it first."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                known = self._answer(key)
                if known is None:
                    self._db.execute("INSERT INTO answer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     (key, self.method.value, kind, amount, int(result.approved), result.reference,
                                      result.message, state, int(charged), original))
            finally:
                self._db.execute("COMMIT")
        return result if known is None else ProcessorResult(bool(known[0]), known[1], known[2])

    def _known(self, key: str) -> ProcessorResult | None:
        with self._lock:
            known = self._answer(key)
        if known is None:
            return None
        if known[3] == "silent":
            raise ProcessorTimeout(f"no answer from the {self.method.value} processor (stand-in)")
        return ProcessorResult(bool(known[0]), known[1], known[2])

    def charge(self, amount: int, currency: str, idempotency_key: str, reference: str) -> ProcessorResult:
        known = self._known(idempotency_key)
        if known is not None:
            return known
        outcome, delay = self._next()
        if delay:
            time.sleep(delay)  # the processor takes its time; another lane may ask meanwhile
        if outcome == "unavailable":
            raise ProcessorUnavailable(f"{self.method.value} processor unavailable (stand-in outage)")
        if outcome == "decline":
            return self._record(idempotency_key, "charge", amount,
                                ProcessorResult(False, None, "declined by issuer (stand-in)"), "answered", False)
        approval = ProcessorResult(True, f"{self.method.value.upper()}-{uuid.uuid4().hex[:10].upper()}", "approved")
        result = self._record(idempotency_key, "charge", amount, approval,
                              "silent" if outcome == "no_answer" else "answered", True)
        if outcome in ("timeout", "no_answer") and result is approval:
            raise ProcessorTimeout(f"no answer from the {self.method.value} processor (stand-in timeout)")
        return result

    def _reachable(self) -> None:
        """An ``unavailable`` processor (the script's next outcome) cannot be asked anything: raises
        :class:`ProcessorUnavailable` for status queries and voids too, like a real outage."""
        with self._lock:
            down = self._script[0][0] == "unavailable"
        if down:
            raise ProcessorUnavailable(f"{self.method.value} processor unavailable (stand-in outage)")

    def status(self, idempotency_key: str) -> ProcessorResult | None:
        """The answer recorded for ``idempotency_key`` (a lost one included), or None if never received.
        Raises :class:`ProcessorUnavailable` while the processor is down."""
        self._reachable()
        with self._lock:
            known = self._answer(idempotency_key)
        return None if known is None else ProcessorResult(bool(known[0]), known[1], known[2])

    def void(self, idempotency_key: str) -> None:
        """Reverse whatever a request with ``idempotency_key`` did (timeout reversal); a later charge with
        the key answers "voided"."""
        self._reachable()
        voided = ProcessorResult(False, None, "voided after a timeout")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._answer(idempotency_key) is None:
                    self._db.execute("INSERT INTO answer VALUES (?, ?, 'charge', 0, 0, NULL, ?, 'voided', 0, NULL)",
                                     (idempotency_key, self.method.value, voided.message))
                else:
                    self._db.execute("UPDATE answer SET approved = 0, message = ?, state = 'voided' WHERE key = ?",
                                     (voided.message, idempotency_key))
            finally:
                self._db.execute("COMMIT")

    def answer_again(self) -> None:
        """The processor is reachable again: keys whose answer was lost (``no_answer``) answer from now on."""
        with self._lock:
            self._db.execute("UPDATE answer SET state = 'answered' WHERE state = 'silent' AND method = ?",
                             (self.method.value,))

    def refund(self, original_reference: str, amount: int, idempotency_key: str) -> ProcessorResult:
        known = self._known(idempotency_key)
        if known is not None:
            return known
        return self._record(idempotency_key, "refund", amount,
                            ProcessorResult(True, f"RF-{uuid.uuid4().hex[:10].upper()}", "refunded"), "answered",
                            True, original_reference)

    def _rows(self, sql: str) -> list:
        with self._lock:
            return self._db.execute(sql, (self.method.value,)).fetchall()

    @property
    def charges(self) -> list[tuple[str, int]]:
        """(idempotency key, amount) of every charge made and not voided, in order."""
        return [(k, a) for k, a in self._rows("SELECT key, amount FROM answer WHERE method = ? AND kind = 'charge'"
                                              " AND charged = 1 AND state != 'voided' ORDER BY rowid")]

    @property
    def voids(self) -> list[str]:
        """Keys whose charge was reversed, in order."""
        return [k for (k,) in self._rows("SELECT key FROM answer WHERE method = ? AND state = 'voided'"
                                         " AND charged = 1 ORDER BY rowid")]

    @property
    def refunds(self) -> list[tuple[str, int]]:
        """(original charge reference, amount) of every refund made, in order."""
        return [(o, a) for o, a in self._rows("SELECT original, amount FROM answer WHERE method = ?"
                                              " AND kind = 'refund' ORDER BY rowid")]


def _default_ledger():
    from attendant.paths import (
        data_dir,  # the data folder is only looked up when a stand-in is built
    )

    return data_dir() / "standin-processor.db"


def parse_script_env(text: str | None) -> dict[PaymentMethod, list[str]]:
    """Parse ``card=decline,timeout;upi=unavailable`` (``card=approve@2s``: answers taking 2 s) into
    scripts per method. Raises :class:`InputError` for an unknown method or outcome."""
    scripts: dict[PaymentMethod, list[str]] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        method, _, outcomes = part.partition("=")
        try:
            key = PaymentMethod(method.strip().lower())
        except ValueError:
            raise InputError(f"ATTENDANT_STANDIN_PAYMENTS: unknown method {method.strip()!r}") from None
        scripts[key] = outcomes.split(",")
        for outcome in scripts[key]:
            if outcome.strip():
                parse_outcome(outcome)
    return scripts


class ProcessorRegistry:
    """The processor for each electronic method; stand-ins unless replaced.

    ``retries`` is how many times a timed-out request is repeated (same key)
    before the payment is left pending. ``attempt_deadline_s`` (seconds) is
    how long an attempt may wait for its answer before another lane treats
    it as abandoned (its booth crashed or lost the database) and settles it
    by the processor's status query; until then another lane is told to
    wait. The stand-ins keep their ledger in ``ledger`` (a SQLite file shared
    by every process using it; default ``standin-processor.db`` in the data
    folder, or ``ATTENDANT_STANDIN_LEDGER``; ``":memory:"`` for one process).
    """

    def __init__(self, processors: dict[PaymentMethod, PaymentProcessor] | None = None, *, retries: int = 2,
                 attempt_deadline_s: float = 120.0, ledger: str | os.PathLike | None = None):
        self.retries = retries
        self.attempt_deadline_s = attempt_deadline_s
        self.processors: dict[PaymentMethod, PaymentProcessor] = dict(processors or {})
        missing = [method for method in ELECTRONIC if method not in self.processors]
        if missing:
            scripts = parse_script_env(os.environ.get("ATTENDANT_STANDIN_PAYMENTS"))
            ledger = ledger or os.environ.get("ATTENDANT_STANDIN_LEDGER") or _default_ledger()
            ledger = None if os.fspath(ledger) == ":memory:" else ledger
            for method in missing:
                self.processors[method] = StandInProcessor(method, scripts.get(method, ("approve",)), ledger=ledger)

    def close(self) -> None:
        """Close every processor that holds something open (the stand-ins' ledger connections)."""
        for processor in self.processors.values():
            closing = getattr(processor, "close", None)
            if closing is not None:
                closing()

    def get(self, method: PaymentMethod) -> PaymentProcessor:
        try:
            return self.processors[method]
        except KeyError:
            raise InputError(f"no processor configured for {method.value}") from None
