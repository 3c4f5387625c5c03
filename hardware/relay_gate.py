"""The relay-pulse gate: the timing and safety rules every relay-driven barrier shares.

A barrier is driven by one relay contact (the "vend" input of the barrier
controller). :class:`RelayPulseGate` holds the rules; the relay itself is a
:class:`RelayOutput` (LCUS-1 USB relays and Modbus relay modules in
:mod:`hardware.relays`, the in-memory relay of
:mod:`hardware.simulated_gate`). Gate URLs and the scheme table are in
:mod:`hardware.gates`; :class:`GateAddress` is what their parsers return.

Rules (the same for every driver):

- A vend is a pulse: relay on, held ``pulse_seconds``, relay off. A vend
  during a pulse restarts it. :meth:`RelayPulseGate.vend` returns at once
  with the "commanded" opening event; the relay is switched on the gate's own
  worker thread, so a slow or dead device never blocks the caller (the TUI).
- The relay is forced off when the worker starts (and after every
  reconnect), when the gate is closed down, and after any error (a failed
  write, an input that raises, a confirmation timeout).
- Presence (arming) loop, where wired: while the presence input is true at
  the end of the pulse the relay stays on (the arm stays up over a vehicle),
  for at most ``max_hold_seconds``.
- Commanded vs confirmed: with a limit-switch input (True = arm up) an
  opening must be confirmed within ``confirm_timeout`` seconds of the vend
  (even after a short pulse has ended: pulse-input barriers rise after the
  pulse), and a closing within ``close_timeout`` seconds of the relay's
  release (or of the open confirmation, whichever is later). Each
  confirmation is a second event (``phase="confirmed"``); a timeout is a
  fault event (shown on screen) and forces the relay off. The events of one
  vend are then: open (commanded), open (confirmed), closed (commanded),
  closed (confirmed). Without a limit switch every event is "commanded":
  "closed" then means the relay was released, and the barrier controller
  decides when the arm comes down.
- An I/O failure is a fault (status ``offline``); the worker reconnects with
  a backoff of 0.5 s doubling to 10 s and reports "closed, reconnected".
  A vend while the link is down raises :class:`DeviceError` at once.
- Every vend is logged (logger ``hardware.gates``) with lane, source and
  reason; the services record it in the database.

Events are :class:`GateChange` values (a :class:`~hardware.base.GateEvent`
with a ``phase``), delivered in order on the gate's event thread
(:class:`~hardware.base.EventDispatcher`); listeners must be thread-safe (the
TUI's only ``post_message``).

URL options every relay-driven gate takes (:func:`timing_options`):
``confirm`` (seconds to confirm an opening, default 3), ``close`` (seconds to
confirm a closing, default: ``confirm``), ``max_hold`` (seconds, default 300).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from attendant.core.errors import InputError
from attendant.core.vocab import VendSource

from hardware.base import (
    DeviceError,
    DeviceState,
    DeviceStatus,
    EventDispatcher,
    Gate,
    GateEvent,
    GateListener,
    GateState,
    error_text,
    utc_now,
)
from hardware.urls import UrlOptions

__all__ = [
    "AUTO_SOURCE",
    "GateAddress",
    "GateChange",
    "GatePhase",
    "InputSpec",
    "MODEM_LINES",
    "RelayOutput",
    "RelayPulseGate",
    "timing_options",
]

#: Vends, closes and faults of every gate are logged here (operators filter on it).
log = logging.getLogger("hardware.gates")

#: ``GateEvent.source`` of a close after the hold time (and of faults).
AUTO_SOURCE = "auto"
DEFAULT_PULSE_SECONDS = 0.5
DEFAULT_CONFIRM_SECONDS = 3.0
DEFAULT_MAX_HOLD_SECONDS = 300.0
#: Upper limits, seconds: a pulse (or simulated hold), a confirmation, a
#: closing confirmation, the longest a presence loop may hold the arm.
MAX_PULSE_SECONDS = 600
MAX_CONFIRM_SECONDS = 600
MAX_CLOSE_SECONDS = 3600
MAX_HOLD_SECONDS = 86_400
#: Modem status lines of a serial port a loop detector or limit switch can be wired to.
MODEM_LINES = ("cts", "dsr", "ri", "cd")

#: An input: a callable returning bool (called on the gate's worker thread),
#: or the name of an input on the relay's own link (see RelayOutput.read_input).
InputSpec = Callable[[], bool] | str | None


class GatePhase(StrEnum):
    """Whether a gate position is only commanded or confirmed by a limit switch."""

    COMMANDED = "commanded"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class GateChange(GateEvent):
    """A :class:`GateEvent` that also says its ``phase``: ``commanded`` (the
    relay was switched; for faults too) or ``confirmed`` (the limit switch
    reported the arm in that position)."""

    phase: GatePhase = GatePhase.COMMANDED


class RelayOutput(ABC):
    """One relay channel a gate drives, plus any inputs read over the same link.

    Methods are called on the gate's worker thread only, so implementations
    need no locking. Errors raise anything (the gate treats them as I/O
    failures of the link and reconnects).
    """

    #: Shown in messages (``"LCUS relay /dev/ttyUSB0 channel 1"``).
    description: str = "relay"
    #: True for relays that cannot fail to connect (no worker needed at start).
    in_memory: bool = False

    @abstractmethod
    def connect(self) -> None:
        """Open the link (port, socket). Called again after a failure."""

    @abstractmethod
    def set(self, on: bool) -> None:
        """Switch the relay on (True) or off (False)."""

    def read_input(self, name: str) -> bool:
        """Read the input ``name`` on this link (a modem line, a discrete input).

        :raises DeviceError: this relay has no such input.
        """
        raise DeviceError(f"{self.description} has no input {name!r}")

    def probe(self) -> None:
        """Check the link without switching anything (raise if it is dead).

        Called every ``probe_seconds`` while the gate is idle, so a relay
        that was unplugged or lost power shows as offline before the next
        vend needs it. The default does nothing.
        """

    @abstractmethod
    def disconnect(self) -> None:
        """Close the link; must not raise."""


@dataclass
class _Worker:
    """State only the worker thread touches (times are time.monotonic() seconds)."""

    connected: bool = False
    relay_on: bool = False
    on_at: float = 0.0
    off_at: float = 0.0
    expect: GateState | None = None
    deadline: float = 0.0
    close_pending: bool = False  # released before the opening was confirmed
    source: str = AUTO_SOURCE
    reason: str | None = None
    backoff: float = 0.5
    next_connect: float = 0.0
    next_probe: float = 0.0


class RelayPulseGate(Gate):
    """A barrier opened by a relay pulse; see the module docstring for the rules.

    - ``relay``: the :class:`RelayOutput` to drive.
    - ``lane``: lane code put on every event; ``name``: shown in messages.
    - ``pulse_seconds``: how long the relay stays on per vend (0 < s <= 600).
    - ``presence`` / ``limit``: :data:`InputSpec` (None: not wired). ``limit``
      returns True while the arm is up.
    - ``confirm_timeout``: seconds the limit switch has to confirm an opening.
    - ``close_timeout``: seconds it has to confirm a closing (default: ``confirm_timeout``).
    - ``max_hold_seconds``: the longest presence may keep the relay on.
    - ``poll_interval``: seconds between input reads while they matter.
    - ``backoff_initial`` / ``backoff_max``: reconnect delays, seconds.
    - ``probe_seconds``: how often an idle link is checked (None: never).
    - ``start_worker``: start the worker now (it connects and forces the relay
      off); False starts it on the first vend.
    - ``owned``: objects with ``close()`` the gate closes with itself (inputs
      it created from a URL).

    :raises InputError: a time out of range.
    """

    def __init__(
        self,
        relay: RelayOutput,
        lane: str = "",
        *,
        name: str | None = None,
        pulse_seconds: float = DEFAULT_PULSE_SECONDS,
        presence: InputSpec = None,
        limit: InputSpec = None,
        confirm_timeout: float = DEFAULT_CONFIRM_SECONDS,
        close_timeout: float | None = None,
        max_hold_seconds: float = DEFAULT_MAX_HOLD_SECONDS,
        poll_interval: float = 0.05,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        probe_seconds: float | None = 5.0,
        join_timeout: float = 2.0,
        start_worker: bool = True,
        owned: tuple[Any, ...] = (),
    ) -> None:
        _check_seconds("pulse", pulse_seconds, MAX_PULSE_SECONDS)
        _check_seconds("confirm timeout", confirm_timeout, MAX_CONFIRM_SECONDS)
        if close_timeout is not None:
            _check_seconds("close timeout", close_timeout, MAX_CLOSE_SECONDS)
        _check_seconds("maximum hold", max_hold_seconds, MAX_HOLD_SECONDS)
        _check_seconds("poll interval", poll_interval, 10)
        _check_seconds("backoff", backoff_initial, 600)
        if probe_seconds is not None:
            _check_seconds("probe interval", probe_seconds, 3600)
        for label, spec in (("presence", presence), ("limit", limit)):
            if spec is not None and not (callable(spec) or isinstance(spec, str)):
                raise InputError(f"gate {label} input must be a callable or an input name, got {spec!r}")
        self.relay = relay
        self.lane = lane
        self.name = name or lane or relay.description
        self.pulse_seconds = float(pulse_seconds)
        self.confirm_timeout = float(confirm_timeout)
        self.close_timeout = float(close_timeout if close_timeout is not None else confirm_timeout)
        self.max_hold_seconds = float(max_hold_seconds)
        self.poll_interval = float(poll_interval)
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(max(backoff_max, backoff_initial))
        self.probe_seconds = None if relay.in_memory or probe_seconds is None else float(probe_seconds)
        self.join_timeout = float(join_timeout)
        self._presence = presence
        self._held_since: float | None = None  # monotonic time the presence loop started holding the arm
        self._limit = limit
        self._owned = tuple(owned)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._state = GateState.CLOSED
        self._confirmed: GateState | None = None
        self._link = "ok" if relay.in_memory else "connecting"  # connecting | ok | failed
        self._fault = ""
        self._fault_kind: str | None = None  # io | confirm | input | hard
        self._listeners: list[GateListener] = []
        self._events = EventDispatcher(f"gate {self.name}")
        self._closed = False
        self._vends = 0
        self._request: tuple[str, str | None] | None = None
        self._force_off = False
        self._kick = False
        self._thread: threading.Thread | None = None
        if start_worker:
            self._ensure_worker()

    # -- Gate

    @property
    def state(self) -> GateState:
        """The commanded position: ``closed``, ``open`` or ``fault``."""
        with self._lock:
            return self._state

    @property
    def confirmed_state(self) -> GateState | None:
        """The last position the limit switch confirmed (None: no limit switch
        or nothing confirmed yet)."""
        with self._lock:
            return self._confirmed

    @property
    def has_limit_switch(self) -> bool:
        """True when positions are confirmed by a limit switch."""
        return self._limit is not None

    @property
    def has_presence(self) -> bool:
        """True when a presence (arming) loop input is wired."""
        return self._presence is not None

    @property
    def vends(self) -> int:
        """How many vends this gate has accepted."""
        with self._lock:
            return self._vends

    def vend(self, source: str, reason: str | None = None) -> GateEvent:
        """Command one opening and return its "commanded" event at once.

        ``source`` is a ``VendSource`` value (ticket, payment, pass, attendant,
        lpr, replay); ``reason`` is free text. The relay is switched by the
        worker thread; a failure shows up as a fault event.

        :raises InputError: an unknown source.
        :raises DeviceError: the gate was closed down, is in a hard fault, or
            its link is down (``state`` offline; a reconnect is tried now).
        """
        source = _vend_source(source)
        with self._lock:
            if self._closed:
                raise DeviceError(f"Gate {self.name} is shut down", device=self.name, state=DeviceState.OFFLINE)
            if self._fault_kind == "hard":
                raise DeviceError(f"Gate {self.name} is in fault: {self._fault}", device=self.name)
            if self._link == "failed":
                self._kick = True
                self._wake.notify_all()
                raise DeviceError(f"Gate {self.name} is offline: {self._fault}", device=self.name,
                                  state=DeviceState.OFFLINE)
            if self._fault_kind is not None:  # a confirmation or input fault: a new vend is a new attempt
                self._fault_kind, self._fault = None, ""
            self._vends += 1
            self._state = GateState.OPEN
            self._request = (source, reason)
            event = GateChange(self.lane, GateState.OPEN, source, reason, utc_now())
            self._events.post(self._listeners, event)
            self._wake.notify_all()
        log.info("vend lane=%s gate=%s source=%s reason=%s", self.lane or "-", self.name, source, reason or "-")
        self._ensure_worker()
        return event

    def add_listener(self, callback: GateListener) -> None:
        """Call ``callback(GateEvent)`` on every change (vend, close, confirm, fault)."""
        with self._lock:
            if callback not in self._listeners:
                self._listeners.append(callback)

    def remove_listener(self, callback: GateListener) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def status(self) -> DeviceStatus:
        """ok with the position (``gate open (commanded)``), offline (link down,
        retrying; or shut down), faulted (confirmation timeout, input error,
        hard fault) or unknown (still connecting). Never does I/O."""
        with self._lock:
            if self._closed:
                return DeviceStatus(DeviceState.OFFLINE, f"gate {self.name} is shut down")
            if self._link == "failed":
                return DeviceStatus(DeviceState.OFFLINE, f"{self._fault}; retrying")
            if self._state == GateState.FAULT:
                return DeviceStatus(DeviceState.FAULTED, self._fault)
            if self._link == "connecting":
                return DeviceStatus(DeviceState.UNKNOWN, f"connecting to {self.relay.description}")
            text = f"gate {self._state.value}"
            if self._limit is not None:
                text += " (confirmed)" if self._confirmed == self._state else " (commanded)"
            if self._held_since is not None and self._state == GateState.OPEN:
                text += f", held: vehicle on the loop for {time.monotonic() - self._held_since:.0f} s"
            return DeviceStatus(DeviceState.OK, text)

    def close(self) -> None:
        """Force the relay off, stop the worker (join at most ``join_timeout``
        s), deliver queued events and refuse later vends.

        No event is sent: shutting the console down is not a barrier movement.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._state = GateState.CLOSED
            self._listeners.clear()
            thread = self._thread
            self._wake.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout)
            if thread.is_alive():
                log.warning("gate %s: worker did not stop within %.1f s", self.name, self.join_timeout)
        elif thread is None:
            self._shutdown_relay(_Worker(connected=self.relay.in_memory))
        self._events.close()
        for item in self._owned:
            try:
                item.close()
            except Exception:  # noqa: BLE001, S110 - best effort on shutdown
                pass

    # -- internals shared with subclasses

    def _post(self, state: GateState, source: str, reason: str | None,
              phase: GatePhase = GatePhase.COMMANDED) -> GateChange:
        event = GateChange(self.lane, state, source, reason, utc_now(), phase=phase)
        self._events.post(self._listeners, event)
        return event

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name=f"gate {self.name}", daemon=True)
            self._thread.start()

    def _enter_fault(self, kind: str, message: str) -> None:
        with self._lock:
            if self._closed:
                return
            repeated = self._state == GateState.FAULT and self._fault_kind == kind
            self._state = GateState.FAULT
            self._fault, self._fault_kind = message, kind
            if kind == "io":
                self._link = "failed"
            if not repeated:
                self._post(GateState.FAULT, AUTO_SOURCE, message)
        if not repeated:
            log.warning("gate %s (lane %s) fault: %s", self.name, self.lane or "-", message)

    def _read_input(self, spec: InputSpec) -> bool:
        if isinstance(spec, str):
            return bool(self.relay.read_input(spec))
        return bool(spec())  # type: ignore[misc]

    # -- worker thread

    def _run(self) -> None:
        w = _Worker(connected=self.relay.in_memory, backoff=self.backoff_initial)
        if w.connected:
            self._io(w, lambda: self.relay.set(False), time.monotonic())
        while True:
            with self._lock:
                if self._closed:
                    break
                request, self._request = self._request, None
                force_off, self._force_off = self._force_off, False
                if self._kick:
                    self._kick = False
                    w.next_connect = 0.0
            now = time.monotonic()
            if not w.connected and now >= w.next_connect:
                self._connect(w, now)
            if not w.connected:
                if request is not None:
                    log.warning("gate %s: vend dropped, the relay link is down", self.name)
                request = None
            if w.connected and force_off and w.relay_on:
                if self._io(w, lambda: self.relay.set(False), now):
                    w.relay_on, w.expect, w.close_pending = False, None, False
            if w.connected and request is not None:
                self._switch_on(w, request, now)
            if w.connected and w.relay_on and now >= w.off_at:
                self._pulse_end(w, now)
            if w.connected and w.expect is not None:
                self._confirm(w, now)
            if self._idle(w) and now >= w.next_probe:
                w.next_probe = now + (self.probe_seconds or 0.0)
                self._io(w, self.relay.probe, now)
            self._sleep(w)
        self._shutdown_relay(w)

    def _idle(self, w: _Worker) -> bool:
        """Connected, relay off, nothing to confirm, and probing wanted."""
        return (self.probe_seconds is not None and w.connected and not w.relay_on and w.expect is None)

    def _sleep(self, w: _Worker) -> None:
        now = time.monotonic()
        waits = []
        if self._idle(w):
            waits.append(w.next_probe - now)
        if not w.connected:
            waits.append(w.next_connect - now)
        if w.relay_on:
            waits.append(w.off_at - now)
        if w.expect is not None:
            waits.append(self.poll_interval)
        timeout = max(0.0, min(waits)) if waits else None
        with self._wake:
            if not (self._closed or self._request is not None or self._force_off or self._kick):
                self._wake.wait(timeout)

    def _io(self, w: _Worker, action: Callable[[], object], now: float) -> bool:
        """Run one relay operation; on failure force off, drop the link, fault."""
        try:
            action()
            return True
        except Exception as exc:  # noqa: BLE001 - any driver failure is a link failure
            self._link_failure(w, exc, now)
            return False

    def _link_failure(self, w: _Worker, exc: BaseException, now: float) -> None:
        try:
            self.relay.set(False)  # forced off after any error (best effort on a failing link)
        except Exception:  # noqa: BLE001, S110
            pass
        self._disconnect()
        w.connected = False
        w.relay_on, w.expect, w.close_pending = False, None, False
        w.next_connect = now + w.backoff
        w.backoff = min(w.backoff * 2, self.backoff_max)
        self._enter_fault("io", f"{self.relay.description}: {error_text(exc)}")

    def _disconnect(self) -> None:
        try:
            self.relay.disconnect()
        except Exception:  # noqa: BLE001, S110 - closing a dead link is best effort
            pass

    def _connect(self, w: _Worker, now: float) -> None:
        try:
            self.relay.connect()
            self.relay.set(False)  # forced off at start and after every reconnect
        except Exception as exc:  # noqa: BLE001
            self._disconnect()
            w.next_connect = now + w.backoff
            delay = w.backoff
            w.backoff = min(w.backoff * 2, self.backoff_max)
            self._enter_fault("io", f"{self.relay.description}: {error_text(exc)}")
            log.info("gate %s: reconnecting in %.1f s", self.name, delay)
            return
        w.connected, w.relay_on, w.expect, w.close_pending = True, False, None, False
        w.backoff = self.backoff_initial
        w.next_probe = now + (self.probe_seconds or 0.0)
        with self._lock:
            first = self._link == "connecting"
            self._link = "ok"
            if self._fault_kind == "io":
                self._state = GateState.CLOSED
                self._fault, self._fault_kind = "", None
                self._post(GateState.CLOSED, AUTO_SOURCE, "reconnected")
        if first:
            log.info("gate %s: %s connected, relay off", self.name, self.relay.description)

    def _switch_on(self, w: _Worker, request: tuple[str, str | None], now: float) -> None:
        if not w.relay_on:
            if not self._io(w, lambda: self.relay.set(True), now):
                return
            w.on_at = now
        w.relay_on = True
        w.off_at = now + self.pulse_seconds
        w.source, w.reason = request
        w.close_pending = False
        if self._limit is not None:
            w.expect, w.deadline = GateState.OPEN, now + self.confirm_timeout

    def _input_failure(self, w: _Worker, label: str, spec: InputSpec, exc: BaseException, now: float) -> None:
        if isinstance(spec, str):  # an input on the relay's own link: the link failed
            self._link_failure(w, exc, now)
            return
        if w.relay_on:
            if not self._io(w, lambda: self.relay.set(False), now):
                return
        w.relay_on, w.expect, w.close_pending = False, None, False
        self._enter_fault("input", f"{label} input of gate {self.name} failed: {error_text(exc)}")

    def _pulse_end(self, w: _Worker, now: float) -> None:
        reason: str | None = None
        if self._presence is not None:
            try:
                present = self._read_input(self._presence)
            except Exception as exc:  # noqa: BLE001
                self._input_failure(w, "presence", self._presence, exc, now)
                return
            if present:
                if now - w.on_at < self.max_hold_seconds:
                    w.off_at = min(now + self.poll_interval, w.on_at + self.max_hold_seconds)
                    with self._lock:
                        if self._held_since is None:
                            self._held_since = now  # shown by status(): the arm stays up for a vehicle
                    return
                reason = f"presence still on after the {self.max_hold_seconds:g} s maximum hold"
                log.warning("gate %s: %s; relay released", self.name, reason)
        with self._lock:
            self._held_since = None
        with self._lock:
            if self._request is not None:
                return  # a vend came in: the next turn restarts the pulse
        if not self._io(w, lambda: self.relay.set(False), now):
            return
        w.relay_on = False
        if w.expect == GateState.OPEN:
            w.close_pending = True  # "closed" follows the open confirmation
            return
        self._commanded_close(w, now, reason)

    def _commanded_close(self, w: _Worker, now: float, reason: str | None) -> None:
        w.close_pending = False
        with self._lock:
            if self._state == GateState.OPEN and not self._closed:
                self._state = GateState.CLOSED
                self._post(GateState.CLOSED, AUTO_SOURCE, reason)
        if self._limit is not None:
            w.expect, w.deadline = GateState.CLOSED, now + self.close_timeout

    def _confirm(self, w: _Worker, now: float) -> None:
        expect = w.expect
        assert expect is not None
        try:
            up = self._read_input(self._limit)
        except Exception as exc:  # noqa: BLE001
            self._input_failure(w, "limit switch", self._limit, exc, now)
            return
        if up == (expect == GateState.OPEN):
            w.expect = None
            with self._lock:
                self._confirmed = expect
                if self._state == expect and not self._closed:
                    source = w.source if expect == GateState.OPEN else AUTO_SOURCE
                    reason = w.reason if expect == GateState.OPEN else None
                    self._post(expect, source, reason, GatePhase.CONFIRMED)
            if expect == GateState.OPEN and w.close_pending:
                self._commanded_close(w, now, None)
            return
        if now < w.deadline:
            return
        w.expect, w.close_pending = None, False
        if w.relay_on:
            if not self._io(w, lambda: self.relay.set(False), now):
                return
            w.relay_on = False
        with self._lock:
            self._confirmed = None
        limit = self.confirm_timeout if expect == GateState.OPEN else self.close_timeout
        self._enter_fault("confirm", f"gate {self.name} did not confirm {expect.value} within {limit:g} s "
                                     "(limit switch)")

    def _shutdown_relay(self, w: _Worker) -> None:
        try:
            if not w.connected:
                self.relay.connect()
            self.relay.set(False)  # forced off at stop
        except Exception as exc:  # noqa: BLE001
            log.warning("gate %s: could not force the relay off at shutdown: %s", self.name, error_text(exc))
        finally:
            self._disconnect()


def _check_seconds(label: str, value: object, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= high:
        raise InputError(f"gate {label} must be more than 0 and at most {high:g} seconds, got {value!r}")


def _vend_source(source: str) -> str:
    try:
        return VendSource(source).value
    except ValueError:
        choices = ", ".join(s.value for s in VendSource)
        raise InputError(f"unknown vend source {source!r}; use one of {choices}") from None




@dataclass(frozen=True)
class GateAddress:
    """A parsed gate URL.

    ``scheme``; ``hold_seconds`` the URL's ``hold`` (sim) or ``pulse``
    (relays), None for the default; ``params`` the driver settings (sim:
    ``limit_switch``, ``travel_seconds``, timings; lcus: ``port``,
    ``channel``, ``baudrate``, ``presence``, ``limit``, ...; modbus: ``mode``,
    ``host``/``port`` or ``device`` and serial settings, ``unit``, ``coil``,
    ``presence_input``, ``limit_input``, ``timeout``, ...); timings are
    ``confirm_timeout``, ``close_timeout``, ``max_hold_seconds``.
    """

    url: str
    scheme: str
    hold_seconds: float | None = None
    params: dict[str, Any] = field(default_factory=dict)


def timing_options(options: UrlOptions) -> dict[str, float]:
    """``confirm``, ``close`` and ``max_hold`` (seconds) from a gate URL, as
    :class:`RelayPulseGate` keyword arguments (only those given)."""
    timings: dict[str, float] = {}
    for key, name, high in (("confirm", "confirm_timeout", MAX_CONFIRM_SECONDS),
                            ("close", "close_timeout", MAX_CLOSE_SECONDS),
                            ("max_hold", "max_hold_seconds", MAX_HOLD_SECONDS)):
        value = options.number(key, 0, high, unit="seconds", above=True)
        if value is not None:
            timings[name] = value
    return timings
