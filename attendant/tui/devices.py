"""The device hub: every lane's devices, their health, and their events, for the console.

A Textual-free facade (STYLE.md rule 4) between :class:`attendant.booth.Booth`
and the screens. It imports Textual only through the console's message
classes, which it builds and hands to the ``post`` callable it was given
(the app passes the main screen's ``post_message``: thread-safe and
non-blocking, STYLE.md rule 3). Nothing here touches a widget.

What it does:

- :meth:`DeviceHub.start` starts each lane's devices through
  :meth:`hardware.config.LaneDevices.start`. The callbacks run on the
  devices' own threads and only record and post:

  - a scanned code -> :class:`LaneCodeScanned` (one per code: every scan
    matters, none is coalesced);
  - a plate read or a gate change -> the latest per lane is kept (a newer
    one replaces a stale one) and **one** :class:`DeviceEvents` is posted per
    batch; the screen drains the batch with :meth:`DeviceHub.drain_events`
    after a short timer (STYLE.md rule 5, the same pattern as bay changes).

- A monitor thread ("device health", daemon, stop event) polls every
  ``poll_seconds`` (and at once after :meth:`poll_soon`): each lane is probed
  on a short-lived thread of its own, so a lane whose driver hangs never
  holds up the other lanes or the screen. A probe:

  1. retries the devices recorded in ``LaneDevices.faults`` (failed to open
     or to start) with a backoff of ``retry_initial`` seconds doubling to
     ``retry_max`` (:meth:`LaneDevices.retry`);
  2. reads ``LaneDevices.status()`` (never I/O);
  3. asks the printer for its status with ``poll_status(timeout)`` when it
     has one (ESC/POS ``DLE EOT``; the stand-in answers its simulated state).

  A probe still running after ``probe_timeout`` + 0.5 s is reported as a
  fault of the device it is stuck on ("no answer for N s"), and the lane is
  not probed again until that thread returns. Exceptions from any driver
  call are caught and shown as ``faulted``.

- Health is compared with the previous report; only when something changed
  is one :class:`DeviceHealthChanged` posted, carrying the whole
  :class:`HealthReport` and the :class:`HealthChange` list (alerts are made
  once per change, never per poll).

Times: ``since`` and ``at`` come from the hub's ``clock`` (aware UTC; the
console passes the service clock, so tests with a fixed clock get fixed
times); backoff and hang detection use ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from attendant.core.clock import utc_now
from hardware.base import DeviceState, DeviceStatus, GateState, PlateRead
from hardware.config import DEVICE_KINDS, LaneDevices

log = logging.getLogger(__name__)

__all__ = [
    "BAD_STATES",
    "DeviceHub",
    "DeviceView",
    "GateView",
    "HealthChange",
    "HealthReport",
    "LaneEvents",
    "LaneHealth",
]

POLL_SECONDS = 3.0
PROBE_TIMEOUT = 2.0
RETRY_INITIAL = 2.0
RETRY_MAX = 60.0
STOP_TIMEOUT = 2.0

#: States that stop a device doing its job: an alert (error) when a device enters one.
BAD_STATES = frozenset({DeviceState.FAULTED, DeviceState.OFFLINE, DeviceState.PAPER_OUT, DeviceState.COVER_OPEN})
#: States worth a warning (the device still works).
WARN_STATES = frozenset({DeviceState.PAPER_LOW})


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class GateView:
    """A gate's position as the console shows it.

    ``state``: ``closed``, ``open`` or ``fault``; ``phase``: ``commanded`` or
    ``confirmed`` (by the limit switch), None when the gate has no limit
    switch (every position is then only commanded); ``reason``: the fault
    message or the vend reason; ``at``: UTC of the last change (None: no
    change seen since start).
    """

    state: str
    phase: str | None = None
    limit_switch: bool = False
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class DeviceView:
    """One device's health: ``state`` is a :class:`hardware.base.DeviceState`
    value, ``message`` the driver's words, ``since`` (UTC) when this state
    began, ``retry_in`` seconds until the next reopen attempt (None: not
    being retried)."""

    lane: str
    kind: str
    state: str
    message: str
    since: datetime
    retry_in: float | None = None
    shows: str | None = None  # a count sign's face ("12", "FULL"); a customer display's two rows; else None

    @property
    def name(self) -> str:
        """``"E1.printer"``, as the CLI and the logs name it."""
        return f"{self.lane}.{self.kind}"

    @property
    def bad(self) -> bool:
        """True when the device cannot do its job (faulted, offline, paper out, cover open)."""
        return self.state in BAD_STATES

    @property
    def ok(self) -> bool:
        """True when the device works (ok, paper low)."""
        return self.state in (DeviceState.OK, DeviceState.PAPER_LOW)


@dataclass(frozen=True)
class LaneHealth:
    """Every configured device of one lane (in ``DEVICE_KINDS`` order), its
    gate position, the tickets waiting for a reprint and the last plate read."""

    lane: str
    devices: tuple[DeviceView, ...] = ()
    gate: GateView | None = None
    reprints: int = 0
    last_read: PlateRead | None = None

    def device(self, kind: str) -> DeviceView | None:
        return next((d for d in self.devices if d.kind == kind), None)

    @property
    def problems(self) -> tuple[DeviceView, ...]:
        """Devices that are not ok (anything but ok)."""
        return tuple(d for d in self.devices if d.state != DeviceState.OK)


@dataclass(frozen=True)
class HealthReport:
    """One look at every lane; ``at`` is UTC (hub clock)."""

    lanes: tuple[LaneHealth, ...] = ()
    at: datetime | None = None
    #: The count signs (``lane`` "sign", ``kind`` the sign's name), in config order.
    signs: tuple[DeviceView, ...] = ()

    def lane(self, code: str | None) -> LaneHealth | None:
        return next((lane for lane in self.lanes if lane.lane == code), None)

    def device(self, lane: str | None, kind: str) -> DeviceView | None:
        health = self.lane(lane)
        return health.device(kind) if health else None

    @property
    def problems(self) -> tuple[DeviceView, ...]:
        return tuple(d for lane in self.lanes for d in lane.problems) + tuple(
            d for d in self.signs if d.state != DeviceState.OK)


@dataclass(frozen=True)
class HealthChange:
    """A device whose state changed between two reports (``before`` None: first seen)."""

    device: DeviceView
    before: str | None

    @property
    def severity(self) -> str | None:
        """``error`` (became faulted/offline/paper out/cover open), ``warning``
        (paper low), ``information`` (working again), or None (nothing to say)."""
        state = self.device.state
        if state in BAD_STATES:
            return "error"
        if state in WARN_STATES:
            return "warning"
        if self.before in BAD_STATES and state == DeviceState.OK:
            return "information"
        return None

    def text(self) -> str:
        """One line for a notification: ``E1 printer: paper out (Printer E1: paper out)``."""
        d = self.device
        word = d.state.replace("_", " ")
        if self.severity == "information":
            word = f"{word} again"
        detail = f" ({d.message})" if d.message and d.message.lower() != word else ""
        return f"{d.lane} {d.kind}: {word}{detail}"


@dataclass(frozen=True)
class LaneEvents:
    """What arrived since the last drain: the latest plate read and gate view per lane."""

    reads: dict[str, PlateRead] = field(default_factory=dict)
    gates: dict[str, GateView] = field(default_factory=dict)


@dataclass
class _Probe:
    """One lane probe running on its own thread (``thread`` set once started)."""

    started: float  # monotonic seconds
    thread: threading.Thread | None = None
    stage: str = "status"  # retry | status | printer | gate | done: what it is waiting on
    result: dict[str, DeviceStatus] | None = None
    faults: tuple[str, ...] = ()  # kinds LaneDevices still records as faulted
    gate: GateView | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


@dataclass
class _Retry:
    delay: float
    next_at: float = 0.0  # monotonic seconds


# --------------------------------------------------------------------------- hub


class DeviceHub:
    """Starts, watches and stops the devices of every lane of ``booth``.

    ``post(message)`` is called from device threads and the monitor thread
    (it must be thread-safe and non-blocking: ``Widget.post_message``).
    ``clock()`` gives aware UTC times for ``since``/``at``.
    ``poll_seconds``: time between health polls; ``probe_timeout``: the
    longest a printer status request may take (seconds); ``retry_initial`` /
    ``retry_max``: reopen backoff (seconds, doubling). ``monitor=False`` starts
    no monitor thread (tests call :meth:`poll` themselves).
    """

    def __init__(
        self,
        booth,
        post: Callable[[object], object],
        *,
        clock: Callable[[], datetime] = utc_now,
        poll_seconds: float = POLL_SECONDS,
        probe_timeout: float = PROBE_TIMEOUT,
        retry_initial: float = RETRY_INITIAL,
        retry_max: float = RETRY_MAX,
        monitor: bool = True,
    ) -> None:
        self.booth = booth
        self._post_message = post
        self.clock = clock
        self.poll_seconds = float(poll_seconds)
        self.probe_timeout = float(probe_timeout)
        self.retry_initial = float(retry_initial)
        self.retry_max = float(max(retry_max, retry_initial))
        self.monitor = monitor
        self.started = False
        self.polls = 0  # reports built so far
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._report = HealthReport()
        self._probes: dict[str, _Probe] = {}
        self._retries: dict[str, _Retry] = {}
        self._since: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._gates: dict[str, GateView] = {}
        self._reads: dict[str, PlateRead] = {}
        self._pending_reads: dict[str, PlateRead] = {}
        self._pending_gates: dict[str, GateView] = {}

    # ------------------------------------------------------------ life cycle
    @property
    def lanes(self) -> list:
        return list(self.booth.config.lanes)

    def devices(self, lane) -> LaneDevices:
        return self.booth.devices(lane)

    def start(self) -> None:
        """Start every lane's scanner, camera and gate listener, post a first
        report (devices' own ``status()``, no I/O), then start the monitor
        (first poll after ``poll_seconds``, or at once after :meth:`poll_soon`).

        Never raises: a device that fails to start is recorded by
        ``LaneDevices`` as faulted and retried by the monitor. Idempotent.
        """
        if self.started:
            return
        self.started = True
        for lane in self.lanes:
            code = lane.code
            try:
                self.devices(lane).start(
                    on_code=lambda text, code=code: self._on_code(code, text),
                    on_read=lambda read, code=code: self._on_read(code, read),
                    on_gate=lambda event, code=code: self._on_gate(code, event),
                )
            except Exception:  # noqa: BLE001 - LaneDevices.start records faults; this is a last guard
                log.exception("lane %s: devices failed to start", code)
        self._first_report()
        if self.monitor:
            self._thread = threading.Thread(target=self._run, name="device health", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the monitor (join bounded by ``timeout`` seconds) and drop later
        device callbacks. The devices themselves are closed by ``Booth.close``."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("device health monitor did not stop within %.1f s", timeout)
        self._thread = None

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def poll_soon(self) -> None:
        """Ask the monitor to poll now instead of at the next interval."""
        self._wake.set()

    def retry_now(self) -> None:
        """Let every faulted device be reopened at the next poll (backoff reset), and poll now."""
        with self._lock:
            for retry in self._retries.values():
                retry.delay, retry.next_at = self.retry_initial, 0.0
        self.poll_soon()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the monitor must outlive any bug
                log.exception("device health poll failed")

    # ------------------------------------------------------- device callbacks
    def _post(self, message: object) -> None:
        if self._stop.is_set():
            return
        try:
            self._post_message(message)
        except Exception:  # noqa: BLE001 - no screen to post to (starting up, shutting down)
            log.debug("device message %r dropped", message, exc_info=True)

    def _on_code(self, lane: str, code: str) -> None:
        """Scanner thread: one message per code (never coalesced)."""
        from attendant.tui.messages import LaneCodeScanned

        self._post(LaneCodeScanned(lane, code))

    def _on_read(self, lane: str, read: PlateRead) -> None:
        """Camera thread: keep the latest read of the lane; one message per batch."""
        with self._lock:
            first = not self._pending_reads and not self._pending_gates
            self._pending_reads[lane] = read
            self._reads[lane] = read
        if first:
            self._post_events()

    def _on_gate(self, lane: str, event) -> None:
        """Gate event thread: keep the latest position of the lane; one message per batch."""
        state = str(getattr(event, "state", "")) or GateState.CLOSED.value
        phase = getattr(event, "phase", None)
        gate = self.devices(self.booth.lanes[lane]).gate if lane in self.booth.lanes else None
        limit = bool(getattr(gate, "has_limit_switch", False))
        view = GateView(
            state=state,
            phase=str(phase) if (phase is not None and limit) else None,
            limit_switch=limit,
            reason=getattr(event, "reason", None),
            at=getattr(event, "at", None),
        )
        with self._lock:
            first = not self._pending_reads and not self._pending_gates
            self._pending_gates[lane] = view
            self._gates[lane] = view
        if first:
            self._post_events()
        if state == GateState.FAULT or view.reason == "fault cleared":
            self.poll_soon()  # the health panel follows a fault at once

    def _post_events(self) -> None:
        from attendant.tui.messages import DeviceEvents

        self._post(DeviceEvents())

    def drain_events(self) -> LaneEvents:
        """Take the plate reads and gate changes recorded since the last call
        (the latest of each per lane). UI thread, after a :class:`DeviceEvents`."""
        with self._lock:
            reads, self._pending_reads = self._pending_reads, {}
            gates, self._pending_gates = self._pending_gates, {}
        return LaneEvents(reads, gates)

    # ------------------------------------------------------------------ health
    def report(self) -> HealthReport:
        """The last health report (thread-safe; empty before the first poll)."""
        with self._lock:
            return self._report

    def gate_view(self, lane: str) -> GateView | None:
        """The latest known position of ``lane``'s gate (events and polls)."""
        with self._lock:
            return self._gates.get(lane)

    def _first_report(self) -> None:
        """The first report, from every device's own ``status()`` (no I/O, no
        retry), posted with the devices already in trouble as changes; later
        polls are compared with it."""
        with self._poll_lock:
            results = {}
            for lane in self.lanes:
                devices = self.devices(lane)
                try:
                    statuses = dict(devices.status())
                    gate = _gate_view(devices.gate) if devices.gate is not None else None
                except Exception as exc:  # noqa: BLE001 - shown as faulted
                    statuses = {k: DeviceStatus(DeviceState.FAULTED, f"status unavailable: {exc}")
                                for k in DEVICE_KINDS if getattr(lane, k, None) is not None}
                    gate = None
                results[lane.code] = (statuses, tuple(devices.faults), gate)
            report, changes = self._build(results)
        from attendant.tui.messages import DeviceHealthChanged

        self._post(DeviceHealthChanged(report, tuple(c for c in changes if c.severity)))

    def poll(self, *, wait: bool = False) -> HealthReport | None:
        """Probe every lane once (blocking, at most about ``probe_timeout`` +
        0.5 s) and post :class:`DeviceHealthChanged` if anything changed.

        Returns the new report, or None when another poll is running and
        ``wait`` is False (polls never overlap). Any thread; the monitor calls
        it every ``poll_seconds``.
        """
        if not self._poll_lock.acquire(blocking=wait):
            return None
        try:
            return self._poll()
        finally:
            self._poll_lock.release()

    def _poll(self) -> HealthReport:
        started: list[_Probe] = []
        for lane in self.lanes:
            probe = self._probes.get(lane.code)
            if probe is not None and probe.running:
                continue  # still stuck from an earlier poll: reported as hung below
            probe = _Probe(time.monotonic())
            probe.thread = threading.Thread(target=self._probe_lane, args=(lane, probe), daemon=True,
                                            name=f"device probe {lane.code}")
            self._probes[lane.code] = probe
            probe.thread.start()
            started.append(probe)
        deadline = time.monotonic() + self.probe_timeout + 0.5
        for probe in started:
            probe.thread.join(max(0.0, deadline - time.monotonic()))  # type: ignore[union-attr]
        previous = self.report()
        results = {}
        for lane in self.lanes:
            probe = self._probes[lane.code]
            statuses, faults = self._statuses_of(lane, probe, previous)
            results[lane.code] = (statuses, faults, None if probe.running else probe.gate)
        report, changes = self._build(results)
        if changes or _shown(previous) != _shown(report):
            from attendant.tui.messages import DeviceHealthChanged

            self._post(DeviceHealthChanged(report, tuple(changes)))
        return report

    def _build(self, results: dict) -> tuple[HealthReport, list[HealthChange]]:
        """The report of ``results`` (lane code -> (statuses, faulted kinds, polled
        gate view or None)); records it as the current report."""
        now = self.clock()
        lanes: list[LaneHealth] = []
        changes: list[HealthChange] = []
        for lane in self.lanes:
            statuses, faults, polled = results[lane.code]
            with self._lock:
                retry = self._retries.get(lane.code)
            retry_in = max(0.0, retry.next_at - time.monotonic()) if retry is not None else None
            views = []
            for kind in DEVICE_KINDS:
                status = statuses.get(kind)
                if status is None:
                    continue
                view, change = self._view(lane.code, kind, status, now, retry_in if kind in faults else None)
                if kind == "display":
                    view = replace(view, shows=self._display_rows(lane))
                views.append(view)
                if change is not None:
                    changes.append(change)
            with self._lock:
                seen = self._gates.get(lane.code)
                gate = seen
                if polled is not None:
                    # the driver's position is authoritative; the event keeps its reason and time
                    same = seen is not None and seen.state == polled.state
                    gate = replace(polled, reason=seen.reason if same else None, at=seen.at if same else None)
                    self._gates[lane.code] = gate
                last_read = self._reads.get(lane.code)
            queue = getattr(self.booth, "reprint_queue", {}).get(lane.code) or ()
            lanes.append(LaneHealth(lane.code, tuple(views), gate, len(queue), last_read))
        signs = self._sign_views(now, changes)
        report = HealthReport(tuple(lanes), now, signs)
        with self._lock:
            self._report = report
            self.polls += 1
        return report, changes

    def _display_rows(self, lane) -> str | None:
        """The two rows ``lane``'s customer display shows, ``"row 1 | row 2"`` (no I/O), None before the first."""
        try:
            display = self.booth.devices(lane).display
        except Exception:  # noqa: BLE001 - a booth without devices (tests): nothing shown
            return None
        if display is None or not display.writes:
            return None
        return " | ".join(row.rstrip() for row in display.rows if row.strip())

    def _sign_views(self, now: datetime, changes: list[HealthChange]) -> tuple[DeviceView, ...]:
        """The count signs' health (:attr:`Booth.sign_board`; no I/O: each sign retries on its own thread)."""
        board = getattr(self.booth, "sign_board", None)
        if board is None:
            return ()
        views = []
        for name, status in board.status().items():
            view, change = self._view("sign", name, status, now, None)
            link = board.links.get(name)
            shown = link.shown if link is not None else None
            views.append(replace(view, shows=shown.text if shown is not None else None))
            if change is not None:
                changes.append(change)
        return tuple(views)

    def _statuses_of(self, lane, probe: _Probe, previous: HealthReport) -> tuple[dict[str, DeviceStatus], tuple[str, ...]]:
        """(statuses, faulted kinds) of the probe; for a probe still running,
        the last known statuses with the device it is stuck on marked faulted."""
        if not probe.running and probe.result is not None:
            return probe.result, probe.faults
        waited = time.monotonic() - probe.started
        last = previous.lane(lane.code)
        statuses: dict[str, DeviceStatus] = {}
        for kind in DEVICE_KINDS:
            if getattr(lane, kind, None) is None:
                continue
            view = last.device(kind) if last else None
            statuses[kind] = (DeviceStatus(DeviceState(view.state), view.message) if view
                              else DeviceStatus(DeviceState.UNKNOWN, "not polled yet"))
        if probe.stage in DEVICE_KINDS:
            stuck, what = [probe.stage], "status request"
        elif probe.stage == "retry":
            stuck, what = list(probe.faults), "reopen"
        else:
            stuck, what = list(statuses), "status request"
        for kind in stuck:
            if kind in statuses:
                statuses[kind] = DeviceStatus(
                    DeviceState.FAULTED, f"{lane.code} {kind}: no answer to the {what} for {waited:.0f} s (driver hung)"
                )
        return statuses, probe.faults

    def _view(self, lane: str, kind: str, status: DeviceStatus, now: datetime,
              retry_in: float | None) -> tuple[DeviceView, HealthChange | None]:
        state = str(status.state)
        key = (lane, kind)
        with self._lock:
            before = self._since.get(key)
            if before is None or before[0] != state:
                self._since[key] = (state, now)
            since = self._since[key][1]
        view = DeviceView(lane, kind, state, status.message or "", since, retry_in)
        change = None
        if before is None or before[0] != state:
            change = HealthChange(view, before[0] if before else None)
        return view, change

    # -------------------------------------------------------- probe (threads)
    def _probe_lane(self, lane, probe: _Probe) -> None:
        """One lane's probe, on its own thread: retry faults, read statuses, ask the printer."""
        try:
            devices = self.devices(lane)
            probe.faults = tuple(devices.faults)
            if probe.faults:
                probe.stage = "retry"
                self._maybe_retry(lane, devices)
                probe.faults = tuple(devices.faults)
            else:
                with self._lock:
                    self._retries.pop(lane.code, None)
            probe.stage = "status"
            statuses = dict(devices.status())
            printer = devices.printer
            poll = getattr(printer, "poll_status", None)
            if printer is not None and "printer" not in probe.faults and callable(poll):
                probe.stage = "printer"
                try:
                    statuses["printer"] = poll(self.probe_timeout)
                except Exception as exc:  # noqa: BLE001 - a poll that raises is a faulted printer
                    statuses["printer"] = DeviceStatus(DeviceState.FAULTED, f"status poll failed: {exc}")
            gate = devices.gate
            if gate is not None and "gate" not in probe.faults:
                probe.stage = "gate"
                probe.gate = _gate_view(gate)
            probe.result = statuses
            probe.stage = "done"
        except Exception as exc:  # noqa: BLE001 - shown as faulted, never raised into the monitor
            log.exception("lane %s: device probe failed", lane.code)
            probe.result = {
                kind: DeviceStatus(DeviceState.FAULTED, f"{lane.code} {kind}: probe failed: {exc}")
                for kind in DEVICE_KINDS
                if getattr(lane, kind, None) is not None
            }
            probe.stage = "done"

    def _maybe_retry(self, lane, devices: LaneDevices) -> None:
        """Reopen the lane's faulted devices when their backoff is due."""
        now = time.monotonic()
        with self._lock:
            retry = self._retries.get(lane.code)
            if retry is None:  # first seen faulted: the first attempt after retry_initial
                retry = self._retries[lane.code] = _Retry(self.retry_initial, now + self.retry_initial)
            due = now >= retry.next_at
        if not due:
            return
        reopened = devices.retry()
        if reopened:
            log.info("lane %s: %s working again", lane.code, ", ".join(reopened))
        with self._lock:
            if devices.faults:
                retry.delay = min(retry.delay * 2, self.retry_max)
                retry.next_at = time.monotonic() + retry.delay
            else:
                self._retries.pop(lane.code, None)


def _gate_view(gate) -> GateView:
    """Position of ``gate`` read from the driver (no I/O)."""
    state = str(gate.state)
    limit = bool(getattr(gate, "has_limit_switch", False))
    phase = None
    if limit and state != GateState.FAULT:
        phase = "confirmed" if getattr(gate, "confirmed_state", None) == gate.state else "commanded"
    return GateView(state=state, phase=phase, limit_switch=limit)


def _shown(report: HealthReport) -> tuple:
    """What the panels show of ``report`` (a change of any of it is worth a repaint)."""
    return tuple(
        (lane.lane, tuple((d.kind, d.state, d.message, d.retry_in is not None) for d in lane.devices),
         lane.gate, lane.reprints)
        for lane in report.lanes
    ) + tuple((d.kind, d.state, d.message) for d in report.signs)
