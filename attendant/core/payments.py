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
one repeats; default ``approve``).
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from typing import Protocol

from attendant.core.errors import InputError, PaymentError
from attendant.core.payment_methods import ELECTRONIC
from attendant.core.vocab import PaymentMethod

OUTCOMES = ("approve", "decline", "timeout", "no_answer", "unavailable")


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
    They raise :class:`ProcessorTimeout` or :class:`ProcessorUnavailable`.
    """

    def charge(self, amount: int, currency: str, idempotency_key: str, reference: str) -> ProcessorResult: ...

    def refund(self, original_reference: str, amount: int, idempotency_key: str) -> ProcessorResult: ...

    def void(self, idempotency_key: str) -> None: ...


class StandInProcessor:
    """A faithful stand-in processor whose answers are scripted.

    ``script`` lists outcomes (``approve``, ``decline``, ``timeout``,
    ``no_answer``, ``unavailable``) used one per new request, the last
    repeating. A ``timeout`` models a lost answer *after* the charge went
    through: a retry with the same key returns the approval (and is not
    charged twice), which is exactly the case idempotency keys exist for.
    ``no_answer`` charges but never answers for that key, until the key is
    voided (timeout reversal). ``charges`` records each distinct charge made,
    ``voids`` each reversal, for tests and the demo.
    """

    def __init__(self, method: PaymentMethod = PaymentMethod.CARD, script: list[str] | tuple[str, ...] = ("approve",)):
        self.method = method
        self.set_script(script)
        self._results: dict[str, ProcessorResult] = {}
        self._lock = threading.Lock()
        self.charges: list[tuple[str, int]] = []  # (idempotency key, amount)
        self.refunds: list[tuple[str, int]] = []
        self.voids: list[str] = []
        self._silent: set[str] = set()

    def set_script(self, script) -> None:
        """Replace the outcomes to come (see the class docstring)."""
        outcomes = [s.strip().lower() for s in script if s.strip()] or ["approve"]
        bad = [s for s in outcomes if s not in OUTCOMES]
        if bad:
            raise InputError(f"unknown stand-in outcome {bad[0]!r} (one of: {', '.join(OUTCOMES)})")
        self._script = outcomes

    def _next(self) -> str:
        return self._script.pop(0) if len(self._script) > 1 else self._script[0]

    def charge(self, amount: int, currency: str, idempotency_key: str, reference: str) -> ProcessorResult:
        with self._lock:
            if idempotency_key in self._silent:
                raise ProcessorTimeout(f"no answer from the {self.method.value} processor (stand-in)")
            if idempotency_key in self._results:
                return self._results[idempotency_key]
            outcome = self._next()
            if outcome == "unavailable":
                raise ProcessorUnavailable(f"{self.method.value} processor unavailable (stand-in outage)")
            if outcome == "decline":
                result = ProcessorResult(False, None, "declined by issuer (stand-in)")
                self._results[idempotency_key] = result
                return result
            result = ProcessorResult(True, f"{self.method.value.upper()}-{uuid.uuid4().hex[:10].upper()}", "approved")
            self._results[idempotency_key] = result
            self.charges.append((idempotency_key, amount))
            if outcome == "no_answer":
                self._silent.add(idempotency_key)
            if outcome in ("timeout", "no_answer"):
                raise ProcessorTimeout(f"no answer from the {self.method.value} processor (stand-in timeout)")
            return result

    def void(self, idempotency_key: str) -> None:
        """Reverse whatever a request with ``idempotency_key`` did (timeout reversal)."""
        with self._lock:
            self._silent.discard(idempotency_key)
            if any(key == idempotency_key for key, _ in self.charges):
                self.charges = [(k, a) for k, a in self.charges if k != idempotency_key]
                self.voids.append(idempotency_key)
            self._results[idempotency_key] = ProcessorResult(False, None, "voided after a timeout")

    def refund(self, original_reference: str, amount: int, idempotency_key: str) -> ProcessorResult:
        with self._lock:
            if idempotency_key in self._results:
                return self._results[idempotency_key]
            result = ProcessorResult(True, f"RF-{uuid.uuid4().hex[:10].upper()}", "refunded")
            self._results[idempotency_key] = result
            self.refunds.append((original_reference, amount))
            return result


def parse_script_env(text: str | None) -> dict[PaymentMethod, list[str]]:
    """Parse ``card=decline,timeout;upi=unavailable`` into scripts per method."""
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
    return scripts


class ProcessorRegistry:
    """The processor for each electronic method; stand-ins unless replaced.

    ``retries`` is how many times a timed-out request is repeated (same key)
    before the payment is left pending.
    """

    def __init__(self, processors: dict[PaymentMethod, PaymentProcessor] | None = None, *, retries: int = 2):
        self.retries = retries
        self.processors: dict[PaymentMethod, PaymentProcessor] = dict(processors or {})
        scripts = parse_script_env(os.environ.get("ATTENDANT_STANDIN_PAYMENTS"))
        for method in ELECTRONIC:
            if method not in self.processors:
                self.processors[method] = StandInProcessor(method, scripts.get(method, ("approve",)))

    def get(self, method: PaymentMethod) -> PaymentProcessor:
        try:
            return self.processors[method]
        except KeyError:
            raise InputError(f"no processor configured for {method.value}") from None
