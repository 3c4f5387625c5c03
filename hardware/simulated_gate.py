"""The simulated gate: a relay-pulse gate whose relay and barrier arm are in memory.

It follows every rule of :class:`~hardware.relay_gate.RelayPulseGate` (the
demo, the CLI and the tests exercise the same code a relay board runs), with
a simulated limit switch and presence loop.

URLs (``sim://`` and ``standin://``, see :mod:`hardware.gates`)::

    sim://?hold=5&limit=yes&travel=0.5&confirm=3&close=3&max_hold=300

``hold``: seconds the barrier stays open (0 < s <= 600, default 5);
``limit=yes``: simulate a limit switch, so positions are also confirmed;
``travel``: seconds the simulated arm takes (0-60, default 0.2); ``confirm``,
``close``, ``max_hold``: see :func:`hardware.relay_gate.timing_options`.
"""

from __future__ import annotations

import threading
import time

from attendant.core.errors import InputError

from hardware.base import GateEvent, GateState
from hardware.relay_gate import (
    AUTO_SOURCE,
    DEFAULT_CONFIRM_SECONDS,
    DEFAULT_MAX_HOLD_SECONDS,
    MAX_PULSE_SECONDS,
    GateAddress,
    InputSpec,
    RelayOutput,
    RelayPulseGate,
    timing_options,
)
from hardware.urls import DeviceUrl

__all__ = [
    "DEFAULT_HOLD_SECONDS",
    "SimulatedGate",
    "SimulatedRelay",
    "open_simulated_gate",
    "parse_simulated_url",
]

DEFAULT_HOLD_SECONDS = 5.0
MAX_TRAVEL_SECONDS = 60


class SimulatedRelay(RelayOutput):
    """An in-memory relay with a simulated barrier arm behind it.

    The arm follows the relay after ``travel_seconds``; :attr:`arm_up` is the
    simulated limit switch (True = arm up). ``stuck`` (None, True or False)
    freezes the limit switch, e.g. to simulate a jammed arm. ``writes`` keeps
    ``(monotonic seconds, on)`` for every switch.
    """

    description = "simulated relay"
    in_memory = True

    def __init__(self, travel_seconds: float = 0.0) -> None:
        self.travel_seconds = float(travel_seconds)
        self.on = False
        self.stuck: bool | None = None
        self.writes: list[tuple[float, bool]] = []
        self._lock = threading.Lock()
        self._changed_at = time.monotonic()
        self._from = False

    def connect(self) -> None:
        """Nothing to open."""

    def set(self, on: bool) -> None:
        with self._lock:
            now = time.monotonic()
            if on != self.on:
                self._from = self._position(now)
                self._changed_at = now
                self.on = on
            self.writes.append((now, on))

    def _position(self, now: float) -> bool:
        return self.on if now - self._changed_at >= self.travel_seconds else self._from

    @property
    def arm_up(self) -> bool:
        """The simulated limit switch: True while the arm is up."""
        with self._lock:
            if self.stuck is not None:
                return self.stuck
            return self._position(time.monotonic())

    def read_input(self, name: str) -> bool:
        if name == "limit":
            return self.arm_up
        return super().read_input(name)

    def disconnect(self) -> None:
        """Nothing to close."""


class SimulatedGate(RelayPulseGate):
    """A barrier simulated in memory (demo, CLI, tests); thread-safe.

    It follows the relay-gate rules: a vend opens it and it closes by itself
    ``hold_seconds`` later (a vend while open restarts the hold).
    ``limit_switch=True`` adds a simulated limit switch (the arm takes
    ``travel_seconds``), so openings and closings are also *confirmed*;
    :meth:`jam` freezes it to provoke a confirmation fault. :attr:`presence`
    is a settable presence-loop flag that keeps the gate open.
    :meth:`set_fault` puts it in a hard fault (vends raise) until
    :meth:`clear_fault`.

    :raises InputError: a hold outside 0..600 s, or another time out of range.
    """

    def __init__(self, lane: str = "", *, hold_seconds: float = DEFAULT_HOLD_SECONDS, name: str | None = None,
                 limit_switch: bool = False, travel_seconds: float = 0.2,
                 confirm_timeout: float = DEFAULT_CONFIRM_SECONDS, close_timeout: float | None = None,
                 max_hold_seconds: float = DEFAULT_MAX_HOLD_SECONDS, poll_interval: float = 0.02) -> None:
        if (isinstance(hold_seconds, bool) or not isinstance(hold_seconds, (int, float))
                or not 0 < hold_seconds <= MAX_PULSE_SECONDS):
            raise InputError(f"gate hold must be between 0 and {MAX_PULSE_SECONDS} seconds, got {hold_seconds!r}")
        if not isinstance(travel_seconds, (int, float)) or not 0 <= travel_seconds <= MAX_TRAVEL_SECONDS:
            raise InputError(f"gate travel must be between 0 and {MAX_TRAVEL_SECONDS} seconds, got {travel_seconds!r}")
        self.presence = False
        self.sim = SimulatedRelay(travel_seconds)
        super().__init__(
            self.sim, lane, name=name or (f"simulated gate {lane}" if lane else "simulated gate"),
            pulse_seconds=hold_seconds, presence=lambda: self.presence,
            limit="limit" if limit_switch else None, confirm_timeout=confirm_timeout,
            close_timeout=close_timeout, max_hold_seconds=max_hold_seconds, poll_interval=poll_interval,
            start_worker=False,
        )

    @property
    def hold_seconds(self) -> float:
        """Seconds the barrier stays open after a vend."""
        return self.pulse_seconds

    def set_fault(self, message: str) -> GateEvent:
        """Put the gate in fault (vends then raise DeviceError) and notify listeners."""
        with self._lock:
            self._state = GateState.FAULT
            self._fault, self._fault_kind = message or "fault", "hard"
            self._force_off = True
            self._wake.notify_all()
            return self._post(GateState.FAULT, AUTO_SOURCE, self._fault)

    def clear_fault(self) -> GateEvent | None:
        """Leave a hard fault: the barrier is closed again. None if it was not in one."""
        with self._lock:
            if self._fault_kind != "hard":
                return None
            self._state = GateState.CLOSED
            self._fault, self._fault_kind = "", None
            return self._post(GateState.CLOSED, AUTO_SOURCE, "fault cleared")

    def jam(self, arm_up: bool | None) -> None:
        """Freeze the simulated limit switch at ``arm_up`` (None: free again)."""
        self.sim.stuck = arm_up



def parse_simulated_url(url: DeviceUrl) -> GateAddress:
    """``sim://`` / ``standin://`` with ``hold``, ``limit``, ``travel`` and the timings (no host or path)."""
    url.no_location()
    options = url.options
    hold = options.number("hold", 0, MAX_PULSE_SECONDS, unit="seconds", above=True)
    params: dict[str, object] = {}
    limit = options.boolean("limit")
    if limit is not None:
        params["limit_switch"] = limit
    travel = options.number("travel", 0, MAX_TRAVEL_SECONDS, unit="seconds")
    if travel is not None:
        params["travel_seconds"] = travel
    params.update(timing_options(options))
    return GateAddress(url=url.url, scheme=url.scheme, hold_seconds=hold, params=params)


def open_simulated_gate(address: GateAddress, *, lane: str = "", hold_seconds: float | None = None,
                        name: str | None = None, presence: InputSpec = None,
                        limit: InputSpec = None) -> SimulatedGate:
    """The simulated gate of a parsed ``sim://`` address for ``lane``.

    ``hold_seconds`` wins over the URL's ``hold`` (default 5 s); a
    ``presence`` callable replaces the settable :attr:`SimulatedGate.presence`
    flag; ``limit`` is ignored (the URL's ``limit=yes`` simulates one).
    """
    hold = hold_seconds if hold_seconds is not None else address.hold_seconds
    gate = SimulatedGate(lane, hold_seconds=hold if hold is not None else DEFAULT_HOLD_SECONDS,
                         name=name or address.url, **address.params)  # type: ignore[arg-type]
    if presence is not None:
        gate._presence = presence
    return gate
