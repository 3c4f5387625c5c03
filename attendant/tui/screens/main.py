"""The main screen: level maps, availability, lanes, entry and exit forms.

The screen owns the layout and runs the blocking work: every database or
device call happens in a named thread worker (``group`` entry / exit / quote
/ lookup / load / figures) that touches no widget and posts one typed
message; the ``@on`` handlers below update the widgets on the UI thread
(STYLE.md rules 2, 3 and 9). Worker failures that are not
:class:`AttendantError` are handled in one place, :meth:`on_worker_state_changed`.

Live bay changes arrive from the service listener (any thread) as one
:class:`SpotsChanged` message per batch; the pending changes are applied by a
short timer (:data:`FLUSH_SECONDS`), so 50 replayed events a second cost a
few repaints of the changed lines, not 50 full refreshes.

Devices (the :class:`~attendant.tui.devices.DeviceHub` the app starts):

- :class:`DeviceHealthChanged` repaints the device health panel, the lanes
  and the entry form's printer line, and makes one notification per device
  that went wrong (or came back);
- :class:`DeviceEvents` (one per batch of plate reads and gate changes) is
  drained by a short timer: the attended entry lane's reads fill the entry
  form (low confidence must be confirmed), the attended exit lane's reads
  look the vehicle up by plate and load the exit form (ticketless exit);
- scanned codes are routed to the exit form (:mod:`attendant.tui.screens.scan_routing`),
  reprints run from :mod:`attendant.tui.screens.reprints`, and the demo's
  fault simulations are :mod:`attendant.tui.demo_faults`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from attendant.core.clock import utc_now
from attendant.core.errors import AttendantError
from attendant.core.plate_match import confirm_threshold, needs_confirmation
from attendant.core.requests import EntryRequest
from attendant.tui.console_app import ConsoleApp
from attendant.tui.demo_faults import DemoFaults
from attendant.tui.devices import GateView, HealthReport
from attendant.tui.dialogs import (
    ConcessionDialog,
    ConcessionRequest,
    PrintoutDialog,
    TicketPickDialog,
)
from attendant.tui.messages import (
    CodeScanned,
    DeviceEvents,
    DeviceHealthChanged,
    EntryDone,
    EntryFailed,
    EntryRequested,
    ExitDone,
    ExitPlateFound,
    ExitPlateNotFound,
    FacilityLoaded,
    FiguresRefreshed,
    GateChanged,
    LiveState,
    OthersChanged,
    PlateFound,
    PlateLookupRequested,
    PlateNotFound,
    QueuesChanged,
    RemoteLanes,
    SpotsChanged,
)
from attendant.tui.screens.exception_actions import ExceptionActions
from attendant.tui.screens.reprints import ReprintActions
from attendant.tui.screens.scan_routing import ScanRouting
from attendant.tui.widgets.availability import AvailabilityTable, LevelCounts
from attendant.tui.widgets.device_commands import DeviceCommands
from attendant.tui.widgets.device_health import DeviceHealthPanel
from attendant.tui.widgets.entry_form import EntryForm
from attendant.tui.widgets.exit_form import ExitForm
from attendant.tui.widgets.facility_bar import FacilityBar
from attendant.tui.widgets.footer import ConsoleFooter
from attendant.tui.widgets.lanes import LanesPanel, LaneState
from attendant.tui.widgets.level_map import LevelMapView, MapLegend

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1  # batch window for bay repaints
CLOCK_SECONDS = 1.0  # top-bar clock and lane health
FIGURES_SECONDS = 5.0  # revenue and other-booth changes


def availability_line(counts: list[LevelCounts], width: int | None = None) -> str:
    """The availability table as one line (free/capacity by level), e.g. ``Free  L0 48/176  L1 169/176``.

    ``width`` (cells): when the line would not fit, the capacities go (``Free L0 48 L1 169``), then the
    spacing; a level is never cut in the middle (what still does not fit ends in ``…``)."""
    forms = ("Free  " + "  ".join(f"{c.code} {c.free}/{c.capacity}" for c in counts),
             "Free  " + "  ".join(f"{c.code} {c.free}" for c in counts),
             "Free " + " ".join(f"{c.code} {c.free}" for c in counts))
    if width is None:
        return forms[0]
    for form in forms:
        if len(form) <= width:
            return form
    line = "Free"
    for c in counts:
        part = f" {c.code} {c.free}"
        if len(line) + len(part) + 2 > width:
            return line + " …"
        line += part
    return line


class AvailabilityLine(Static):
    """The availability table as one line on small terminals (:func:`availability_line`), refitted to its
    width when the terminal is resized."""

    _counts: list[LevelCounts] | None = None

    def set_counts(self, counts: list[LevelCounts]) -> None:
        self._counts = counts
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        if self._counts is not None:
            self.update(availability_line(self._counts, self.content_size.width or None))


def devices_line(report: HealthReport) -> str:
    """The devices needing attention as one line (shown on small terminals, where the device panel is
    hidden), e.g. ``✗ E1 printer paper out · E1 gate faulted  F12 retry``; "" when all are working."""
    bad = [d for d in report.problems if d.state != "unknown"]
    if not bad:
        return ""
    return "✗ " + " · ".join(f"{d.lane} {d.kind} {d.state.replace('_', ' ')}" for d in bad) + "  F12 retry"


class MainScreen(ScanRouting, ReprintActions, ExceptionActions):
    """Everything the attendant needs on one screen (see the module docstring)."""

    BINDINGS = [
        Binding("f2", "entry", "Entry"),
        Binding("f3", "exit", "Exit"),
        Binding("f4", "take_entry", "Next in"),
        Binding("f5", "take_exit", "Next out"),
        Binding("f6", "lost_ticket", "Lost ticket"),
        Binding("f7", "next_level", "Level"),
        Binding("f8", "scan_ticket", "Scan"),
        Binding("f10", "printout", "Printout"),
        Binding("ctrl+r", "reprint_last", "Reprint"),
        Binding("ctrl+t", "reprint_number", "Reprint #"),
        Binding("ctrl+o", "print_queued", "Queued"),
        # Not in the footer (it is full): shown on the entry form's and the
        # device panel's border, and in the command palette.
        Binding("ctrl+l", "switch_entry_lane", "Entry lane", show=False),
        # the exit form's lane (issue 12 item 7): ctrl+z, a key no form's field takes (Input binds
        # ctrl+a/c/d/e/k/u/v/w/x); on the exit form's border and in the palette
        Binding("ctrl+z", "switch_exit_lane", "Exit lane", show=False),
        Binding("f12", "retry_devices", "Retry devices", show=False),
        # The map's keys from anywhere on this screen, none of them text (issue 12 item 4): a text field never
        # sees them. (alt+digit is no use: Textual reads ESC 1 as "¡".) A level by its code: alt+g, "L3".
        Binding("shift+f7", "previous_level", "Previous level", show=False),
        Binding("alt+g,ctrl+f7", "go_to_bay", "Go to bay or level", show=False, priority=True),
    ]
    # On a narrow terminal the footer shows the keys that fit whole (the focused form's first), with these
    # short labels, then "f1 Help"; F1 lists every key (attendant/tui/widgets/footer.py).
    FOOTER_FITS = True
    FOOTER_LABELS: ClassVar[dict[str, str]] = {
        "take_entry": "Next in", "take_exit": "Next out", "lost_ticket": "Lost", "next_level": "Level",
        "printout": "Printout", "reprint_last": "Reprint", "reprint_number": "Reprint #", "print_queued": "Queued",
        "validation": "Validation", "let_go": "IOU", "cycle_theme": "Theme", "logout": "Log out",
    }

    COMMANDS = Screen.COMMANDS | {DeviceCommands}

    app: ConsoleApp

    def __init__(self) -> None:
        super().__init__(id="main")
        self._flush_timer: Timer | None = None
        self.loaded = False
        self.remote_lanes: tuple = ()  # LaneReports other booths published (load_remote_lanes)
        self.last_printout: tuple[str, str] = ("", "")  # (title, text)
        # devices
        self.health = HealthReport()
        self.gates: dict[str, GateView] = {}
        self.last_reads: dict[str, tuple[str, float]] = {}
        self._events_timer: Timer | None = None

    # ---------------------------------------------------------------- layout
    @property
    def demo(self) -> DemoFaults:
        """The demo's fault simulations on this console's stand-in devices."""
        if getattr(self, "_demo", None) is None:
            self._demo = DemoFaults(self.app.booth)
        return self._demo

    def compose(self) -> ComposeResult:
        app = self.app
        facility = app.service.facility
        yield FacilityBar(facility.name, facility.code, facility.currency, app.service.tz, id="facility-bar")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield LevelMapView(id="map")
                yield MapLegend(id="legend")
                yield DeviceHealthPanel(app.service.tz, id="devices", classes="panel")
            with Vertical(id="right"):
                yield AvailabilityTable(id="availability")
                yield AvailabilityLine("", id="availability-line")  # the table as one line on small terminals
                yield Static("", id="devices-line")  # devices needing attention, when their panel is hidden
                yield EntryForm(
                    app.lane_title(app.entry_lane), facility_code=facility.code, id="entry-form", classes="panel",
                    threshold=confirm_threshold(app.entry_lane),
                )
                yield ExitForm(
                    app.lane_title(app.exit_lane), facility.currency, app.service.tz, id="exit-form", classes="panel"
                )
                yield LanesPanel(id="lanes", classes="panel")
        yield ConsoleFooter()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Remember which form is in use (the screen's ``-entry-active`` / ``-exit-active``): on a
        terminal under 30 rows the other form shrinks to its first field (themes/console.tcss)."""
        for form_id, name in (("entry-form", "entry"), ("exit-form", "exit")):
            if any(a.id == form_id for a in event.widget.ancestors_with_self):
                self.set_class(name == "entry", "-entry-active")
                self.set_class(name == "exit", "-exit-active")
                self.remove_class("-map-shown")
                return

    def on_mount(self) -> None:
        self.add_class("-entry-active")
        bar = self.query_one(FacilityBar)
        bar.set_figures(now=self.app.service.clock(), replay=self.app.replay_label)
        report = self.app.device_hub.report()
        if report.lanes:  # the hub started before this screen: its first report may have gone before us
            self.apply_health(report)
        else:
            self.query_one(DeviceHealthPanel).set_report(report)
        self.refresh_lanes()
        self.query_one("#entry-plate").focus()
        if self.app.timers:
            self.set_interval(CLOCK_SECONDS, self.tick)
            self.set_interval(FIGURES_SECONDS, self.load_figures)
            self.load_remote_lanes()  # the lanes other booths drive, as they last published them
        self.load_facility()

    # ------------------------------------------------------------- loading
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_facility(self) -> None:
        """Read the drawings, bay statuses and today's revenue (blocking)."""
        service = self.app.service
        service.refresh()  # the bay index as the database has it now (a no-op unless another booth wrote)
        maps = service.level_maps()
        statuses = service.spot_statuses()
        day = service.local(service.clock()).date()
        try:
            revenue = service.revenue(day)
        except Exception as exc:  # the database is away: the map from the booth's snapshot, today's figure "…"
            from attendant.core.journal import database_unreachable

            if not database_unreachable(exc):
                raise
            revenue = None
        self.post_message(FacilityLoaded(maps, statuses, revenue, day.isoformat()))

    @on(FacilityLoaded)
    def _loaded(self, message: FacilityLoaded) -> None:
        level_map = self.query_one(LevelMapView)
        level_map.set_facility(message.maps, message.statuses)
        self.loaded = True
        # Bays that changed while loading are pending with their latest status,
        # which is never older than the snapshot: applying them is always right.
        self._flush_spots()
        self._update_counts()
        self.query_one(FacilityBar).set_figures(revenue=message.revenue)

    @work(thread=True, exclusive=True, group="figures", exit_on_error=False)
    def load_figures(self) -> None:
        """Today's revenue (blocking); other booths' bay changes arrive by the change watcher."""
        service = self.app.service
        day = service.local(service.clock()).date()
        revenue = service.revenue(day)
        self.post_message(FiguresRefreshed(revenue, day.isoformat()))

    @on(OthersChanged)
    def _others_changed(self, message: OthersChanged) -> None:
        if message.kinds - {"lane"}:
            self.load_figures()  # another booth took money or let a vehicle in or out: today's figures
        if "lane" in message.kinds:
            self.load_remote_lanes()  # another booth's gate, devices or queue changed

    # ------------------------------------------------------ other booths' lanes
    @work(thread=True, exclusive=True, group="remote-lanes", exit_on_error=False)
    def load_remote_lanes(self) -> None:
        """Read the lanes other booths publish (blocking; :mod:`attendant.core.lane_status`)."""
        from attendant.core.lane_status import other_lanes

        app = self.app
        self.post_message(RemoteLanes(other_lanes(app.service.engine, app.service.facility.id, app.booth_name)))

    @on(RemoteLanes)
    def _remote_lanes(self, message: RemoteLanes) -> None:
        self.remote_lanes = tuple(message.reports)
        self.refresh_lanes()

    def publish_lanes(self, states: tuple[LaneState, ...]) -> None:
        """Hand this booth's lanes to the publisher when they changed or a heartbeat is due (UI thread;
        the write runs in a worker)."""
        publisher = self.app.lane_publisher
        if publisher is None:
            return
        from attendant.core.lane_status import LaneReport

        reports = [LaneReport(booth=publisher.booth, lane=s.code, direction=s.direction, gate=s.gate,
                              gate_reason=s.gate_reason, devices=dict(s.devices),
                              queue=tuple(vclass for _plate, vclass in s.queue), reprints=s.reprints)
                   for s in states if s.booth is None]
        if publisher.due(reports):
            self._publish(publisher, reports)

    @work(thread=True, exclusive=True, group="lane-publish", exit_on_error=False)
    def _publish(self, publisher, reports) -> None:
        publisher.publish(reports)  # a database that is away raises: the next tick tries again

    @on(LiveState)
    def _live_state(self, message: LiveState) -> None:
        if message.state == "resync":  # back after a lost connection: reload everything once
            self.load_facility()
        elif message.state.startswith("offline"):
            self.notify(f"Not following other booths: {message.state.removeprefix('offline: ')}; retrying",
                        title="Database", severity="warning", timeout=8)

    @on(FiguresRefreshed)
    def _figures(self, message: FiguresRefreshed) -> None:
        self.query_one(FacilityBar).set_figures(revenue=message.revenue)
        self._flush_spots()  # bays another booth changed, if any

    def tick(self) -> None:
        """The top bar's clock and the lanes, now (every second while the timers run); this booth's lanes
        go out to the other consoles, and other booths' lanes gone quiet are dropped."""
        offline = self.app.booth.offline
        self.query_one(FacilityBar).set_figures(now=self.app.service.clock(), replay=self.app.replay_label,
                                                offline=offline.state().label if offline is not None else "")
        if self.remote_lanes:
            from attendant.core.lane_status import STALE_S

            since = utc_now() - timedelta(seconds=STALE_S)
            self.remote_lanes = tuple(r for r in self.remote_lanes if r.updated_at and r.updated_at >= since)
        self.refresh_lanes()
        self.publish_lanes(self.query_one(LanesPanel).lanes)

    # -------------------------------------------------------- live bay state
    @on(SpotsChanged)
    def _spots_changed(self, _message: SpotsChanged) -> None:
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FLUSH_SECONDS, self._flush_spots)

    def _flush_spots(self) -> None:
        self._flush_timer = None
        if not self.loaded:
            return
        changes = self.app.drain_spot_changes()
        if not changes:
            return
        self.query_one(LevelMapView).apply_changes(changes)
        self._update_counts()

    def _update_counts(self) -> None:
        level_map = self.query_one(LevelMapView)
        counts = [
            LevelCounts(level.level_id, level.code, level.name, free, cap, level_map.counts_by_type(index))
            for index, (level, (free, cap)) in enumerate(zip(level_map.levels, level_map.free_counts()))
        ]
        capacity = sum(c.capacity for c in counts)
        self.query_one(AvailabilityTable).set_levels(counts)
        self.query_one("#availability-line", AvailabilityLine).set_counts(counts)
        self.query_one(FacilityBar).set_figures(occupied=level_map.occupied, capacity=capacity)

    # ----------------------------------------------------------------- lanes
    def refresh_lanes(self) -> None:
        self.query_one(LanesPanel).set_lanes(self.lane_states())

    def lane_states(self) -> tuple[LaneState, ...]:
        """Gate, device health, reads and queue of every lane, from the device
        hub's last report and events (UI thread; no device call)."""
        app = self.app
        states = []
        for lane in app.booth.config.lanes:
            health = self.health.lane(lane.code)
            gate_view = self.gates.get(lane.code) or (health.gate if health else None)
            gate_device = health.device("gate") if health else None
            gate = phase = reason = None
            if lane.gate is not None:
                if gate_device is not None and gate_device.bad:
                    gate, reason = "fault", gate_device.message
                elif gate_view is not None:
                    gate, phase = gate_view.state, gate_view.phase
                    reason = gate_view.reason if gate_view.state == "fault" else None
                else:
                    gate = "closed"
            attended = lane in (app.entry_lane, app.exit_lane)
            queue: tuple[tuple[str, str], ...] = ()
            if app.replayer is not None and attended:
                try:
                    queue = tuple((v.plate, v.vehicle_class) for v in list(app.replayer.queues.get(lane.code, ())))
                except RuntimeError:  # mutated while copying: keep the previous picture
                    queue = next((s.queue for s in self.query_one(LanesPanel).lanes if s.code == lane.code), ())
            states.append(
                LaneState(
                    code=lane.code,
                    name=lane.name,
                    direction=str(lane.direction),
                    attended=attended,
                    gate=gate,
                    devices={d.kind: (d.state, d.message) for d in (health.devices if health else ()) if d.kind != "gate"},
                    queue=queue,
                    gate_phase=phase,
                    gate_reason=reason,
                    reprints=len(app.booth.reprint_queue.get(lane.code) or ()),
                    last_read=self.last_reads.get(lane.code),
                )
            )
        for report in self.remote_lanes:  # lanes other booths drive (no plates: classes only)
            states.append(LaneState(
                code=report.lane, name="", direction=report.direction, attended=False, gate=report.gate,
                devices=dict(report.devices), queue=tuple(("", vclass) for vclass in report.queue),
                gate_reason=report.gate_reason, reprints=report.reprints, booth=report.booth,
            ))
        return tuple(states)

    @on(QueuesChanged)
    def _queues_changed(self, _message: QueuesChanged) -> None:
        self.refresh_lanes()

    @on(GateChanged)
    def _gate_changed(self, _message: GateChanged) -> None:
        self.refresh_lanes()

    # ------------------------------------------------------------ entry flow
    @on(EntryRequested)
    def _entry_requested(self, message: EntryRequested) -> None:
        message.stop()
        self.run_entry(message.plate, message.vehicle_class, message.ev, message.accessible)

    @work(thread=True, exclusive=True, group="entry", exit_on_error=False)
    def run_entry(self, plate: str, vehicle_class: str, ev: bool, accessible: bool) -> None:
        """Booth.enter at the attendant's entry lane (blocking: DB, printer, gate)."""
        app = self.app
        try:
            lane = app.entry_lane.code if app.entry_lane else None
            request = EntryRequest(plate, vehicle_class, ev=ev, accessible=accessible, lane=lane)
            outcome = app.booth.enter(request, actor=app.actor)
        except AttendantError as exc:
            self.post_message(EntryFailed(str(exc)))
            return
        printout = app.printout_text(app.entry_lane) if outcome.printed else ""
        self.post_message(EntryDone(outcome, printout))

    @work(thread=True, exclusive=True, group="entry", exit_on_error=False)
    def run_reservation_entry(self, code: str) -> None:
        """A reservation code scanned (or typed): its vehicle admitted at the entry lane, its held bay."""
        app = self.app
        try:
            booked = app.service.reservation(code)
            lane = app.entry_lane.code if app.entry_lane else None
            request = EntryRequest(booked.plate, booked.vehicle_class, ev=booked.spot_type == "ev",
                                   accessible=booked.spot_type == "accessible", lane=lane, reservation=code)
            outcome = app.booth.enter(request, actor=app.actor)
        except AttendantError as exc:
            self.post_message(EntryFailed(f"reservation {code[:24]}: {exc}"))
            return
        printout = app.printout_text(app.entry_lane) if outcome.printed else ""
        self.post_message(EntryDone(outcome, printout))

    @on(EntryDone)
    def _entry_done(self, message: EntryDone) -> None:
        outcome = message.outcome
        e = outcome.entry
        self.app.remember_ticket(e.code, e.ticket_no, e.plate, e.spot_label)
        self._flush_spots()
        level_map = self.query_one(LevelMapView)
        spot_id = level_map.spot_id_of(e.spot_label)
        level_map.highlight(spot_id)
        self.last_ticket = e.ticket_no
        queued = len(self.app.booth.reprint_queue.get(e.lane or "") or ())
        form = self.query_one(EntryForm)
        form.show_result(outcome, self.app.service.tz, queued=queued)
        if e.reservation is not None:  # the entry checked in a reservation (by plate or code)
            r, tz = e.reservation, self.app.service.tz
            self.notify(f"Reservation found: {r.code}  {r.start_at.astimezone(tz):%H:%M}-"
                        f"{r.end_at.astimezone(tz):%H:%M}, held bay {e.spot_label}", title="Reservation",
                        timeout=8)
        if message.printout:
            self.last_printout = (f"Ticket {e.ticket_no}", message.printout)
        if outcome.print_error:
            self.notify(
                f"Ticket {e.ticket_no} not printed: {outcome.print_error}. The vehicle entered by plate; "
                f"the ticket is queued for a reprint ({queued} waiting, ctrl+o prints them).",
                severity="error",
                timeout=8,
            )
            self._show_entry_printer()
            self.app.device_hub.poll_soon()
        self.refresh_lanes()

    @on(EntryFailed)
    def _entry_failed(self, message: EntryFailed) -> None:
        self.query_one(EntryForm).show_error(message.error)
        self.notify(message.error, title="Entry refused", severity="error", timeout=6)

    # ------------------------------------------------------------- exit flow
    @on(ExitDone)
    def _exit_done(self, message: ExitDone) -> None:
        r = message.outcome.exit
        self.app.forget_ticket(r.ticket_no)
        self._flush_spots()
        self.query_one(ExitForm).show_result(message.outcome)
        self.note_exit_gate(message)
        if message.printout:
            self.last_printout = (f"Receipt for ticket {r.ticket_no}", message.printout)
        if message.outcome.print_error:
            self.notify(f"Receipt not printed: {message.outcome.print_error}", severity="error", timeout=8)
        self.load_figures()
        self.refresh_lanes()

    @on(CodeScanned)
    def _code_scanned(self, message: CodeScanned) -> None:
        self.route_scan(message.code, self.app.exit_lane.code if self.app.exit_lane else None)

    # ------------------------------------------------------------ lost ticket
    @on(PlateLookupRequested)
    def _plate_lookup(self, message: PlateLookupRequested) -> None:
        message.stop()
        self.run_plate_lookup(message.plate)

    @work(thread=True, exclusive=True, group="lookup", exit_on_error=False)
    def run_plate_lookup(self, plate: str) -> None:
        """service.find_by_plate (blocking read)."""
        try:
            session = self.app.service.find_by_plate(plate)
        except AttendantError as exc:
            self.post_message(PlateNotFound(str(exc)))
            return
        self.post_message(PlateFound(session))

    @on(PlateFound)
    def _plate_found(self, message: PlateFound) -> None:
        self.query_one(ExitForm).show_session(message.session, self.app.service.clock())
        level_map = self.query_one(LevelMapView)
        level_map.highlight(level_map.spot_id_of(message.session.spot_label))

    @on(PlateNotFound)
    def _plate_not_found(self, message: PlateNotFound) -> None:
        self.query_one(ExitForm).show_error(message.error)
        self.notify(message.error, title="Lost ticket", severity="warning", timeout=6)

    # --------------------------------------------------------- device health
    @on(DeviceHealthChanged)
    def _health_changed(self, message: DeviceHealthChanged) -> None:
        self.apply_health(message.report)
        for change in message.changes:
            severity = change.severity
            if severity is None:
                continue
            text = change.text()
            lane = message.report.lane(change.device.lane)
            if change.device.kind == "printer" and severity == "information" and lane and lane.reprints:
                text += f": {lane.reprints} queued ticket{'s' if lane.reprints != 1 else ''} (ctrl+o prints them)"
            self.notify(text, title="Device", severity=severity, timeout=10 if severity == "error" else 6)

    def apply_health(self, report: HealthReport) -> None:
        """Show a health report: the panel, the lanes, the entry form's printer line."""
        self.health = report
        for lane in report.lanes:
            if lane.gate is not None:
                self.gates[lane.lane] = lane.gate
        self.query_one(DeviceHealthPanel).set_report(report, self.gates)
        line = self.query_one("#devices-line", Static)
        line.update(devices_line(report))
        line.set_class(bool(devices_line(report)), "-trouble")
        self._show_entry_printer()
        self.refresh_lanes()

    def _show_entry_printer(self) -> None:
        lane = self.app.entry_lane
        form = self.query_one(EntryForm)
        if lane is None or lane.printer is None:
            form.set_printer(None)
            return
        printer = self.health.device(lane.code, "printer")
        reprints = len(self.app.booth.reprint_queue.get(lane.code) or ())
        form.set_printer(printer.state if printer else None, printer.message if printer else "", reprints)

    # -------------------------------------------------- plate reads and gates
    @on(DeviceEvents)
    def _device_events(self, _message: DeviceEvents) -> None:
        if self._events_timer is None:
            self._events_timer = self.set_timer(FLUSH_SECONDS, self.flush_device_events)

    def flush_device_events(self) -> None:
        """Apply the plate reads and gate changes the hub collected (latest per lane)."""
        self._events_timer = None
        events_ = self.app.device_hub.drain_events()
        self.gates.update(events_.gates)
        for lane, read in events_.reads.items():
            self.last_reads[lane] = (read.plate, read.confidence)
            self._plate_read(lane, read)
        if events_.gates:
            self.query_one(DeviceHealthPanel).set_report(self.health, self.gates)
        self.refresh_lanes()

    def _plate_read(self, lane: str, read) -> None:
        app = self.app
        if app.entry_lane is not None and lane == app.entry_lane.code:
            vehicle_class = self.demo.classes.pop(read.plate, None)
            self.query_one(EntryForm).offer_read(read.plate, read.confidence, vehicle_class,
                                                 picture=read.image)
            exit_form = self.query_one(ExitForm)
            if exit_form.checkout is None and not exit_form.code and not exit_form.busy:
                # nothing on the exit form: on a low terminal the entry form unfolds to show the read
                self.set_class(True, "-entry-active")
                self.set_class(False, "-exit-active")
        elif app.exit_lane is not None and lane == app.exit_lane.code:
            form = self.query_one(ExitForm)
            if form.checkout is not None or form.busy or form.code:
                return  # the attendant is busy with a vehicle: the read waits on the lane panel
            if needs_confirmation(read.confidence, confirm_threshold(app.exit_lane)):
                self.notify(
                    f"{lane} camera read {read.plate} ({read.confidence:.0%}): not sure enough to look it up; "
                    "F6 finds a vehicle by plate",
                    title="Plate read",
                    timeout=6,
                )
                return
            self.run_exit_plate(read)

    @work(thread=True, exclusive=True, group="exit-plate", exit_on_error=False)
    def run_exit_plate(self, read) -> None:
        """service.find_by_plate for a read at the exit lane (blocking read)."""
        try:
            session = self.app.service.find_by_plate(read.plate)
        except AttendantError as exc:
            self.post_message(ExitPlateNotFound(read, str(exc)))
            return
        self.post_message(ExitPlateFound(read, session))

    @on(ExitPlateFound)
    def _exit_plate_found(self, message: ExitPlateFound) -> None:
        form = self.query_one(ExitForm)
        if form.checkout is not None or form.busy or form.code:
            return
        session = message.session
        self.notify(
            f"{message.read.plate} ({message.read.confidence:.0%}) is ticket {session.ticket_no}, bay "
            f"{session.spot_label}: fee shown",
            title="Exit by plate",
            timeout=5,
        )
        form.fill(session.code)

    @on(ExitPlateNotFound)
    def _exit_plate_not_found(self, message: ExitPlateNotFound) -> None:
        self.notify(f"Exit camera read {message.read.plate}: {message.error}", title="Plate read",
                    severity="warning", timeout=6)

    # ------------------------------------------------------ lanes and devices
    def action_switch_entry_lane(self) -> None:
        """ctrl+l: attend the next entry lane (E1 → E2 → E1): the entry form,
        its camera reads and its printer follow."""
        app = self.app
        lanes = [lane for lane in app.booth.config.lanes if lane.direction == "entry"]
        if len(lanes) < 2 or app.entry_lane is None:
            self.notify("There is no other entry lane.", timeout=3)
            return
        app.entry_lane = lanes[(lanes.index(app.entry_lane) + 1) % len(lanes)]
        form = self.query_one(EntryForm)
        form.set_lane_title(app.lane_title(app.entry_lane))
        form.threshold = confirm_threshold(app.entry_lane)
        form.forget_read()  # a read from the other lane's camera is not this lane's vehicle
        self._show_entry_printer()
        self.refresh_lanes()
        self.notify(f"Entry form now at {app.lane_title(app.entry_lane)}", timeout=3)

    def action_switch_exit_lane(self) -> None:
        """ctrl+z: attend the next exit lane (X1 → X2 → X1): the exit form, its scanner's codes, its
        receipts and its gate follow. Refused while a fee is on the exit form (finish or clear it first)."""
        app = self.app
        lanes = [lane for lane in app.booth.config.lanes if lane.direction == "exit"]
        if len(lanes) < 2 or app.exit_lane is None:
            self.notify("There is no other exit lane.", timeout=3)
            return
        form = self.query_one(ExitForm)
        if form.checkout is not None or form.busy:
            self.notify(f"A fee is on the exit form at {app.lane_title(app.exit_lane)}: take the payment or clear "
                        "it (Esc) before switching lanes.", severity="warning", timeout=5)
            return
        app.exit_lane = lanes[(lanes.index(app.exit_lane) + 1) % len(lanes)]
        form.lane_title = app.lane_title(app.exit_lane)
        form.border_title = f"Exit ▸ {form.lane_title}"
        self.refresh_lanes()
        self.notify(f"Exit form now at {app.lane_title(app.exit_lane)}", timeout=3)

    def action_retry_devices(self) -> None:
        """F12: reopen faulted devices and check every device now (the monitor also does it, with a backoff)."""
        self.app.device_hub.retry_now()
        self.notify("Checking the devices now…", timeout=2)

    def device_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) of the device features for the command palette
        (``DeviceCommands``); the demo's fault simulations only in demo mode."""
        app = self.app
        entry = app.lane_title(app.entry_lane)
        commands: list[tuple[str, str, Callable[[], object]]] = [
            ("Reprint the last ticket", "ctrl+r · the last ticket issued at this console", self.action_reprint_last),
            ("Reprint a ticket by number", f"ctrl+t · on the printer of {entry}", self.action_reprint_number),
            ("Print queued tickets", "ctrl+o · the tickets queued while the entry printer failed",
             self.action_print_queued),
            ("Switch entry lane", "ctrl+l · the entry form moves to the next entry lane", self.action_switch_entry_lane),
            ("Switch exit lane", "ctrl+z · the exit form moves to the next exit lane", self.action_switch_exit_lane),
            ("Retry devices now", "F12 · reopen faulted devices and check every device", self.action_retry_devices),
            ("Record a concession", ("a disabled driver's badge (or another concession the rate plan prices) "
                                     "on a vehicle inside"), self.action_concession),
        ]
        if app.replayer is None:
            return commands
        commands += self.demo.commands(self.run_demo)
        if app.entry_lane is not None:
            commands.append((f"Demo: {app.entry_lane.code} camera reads the next vehicle",
                             "the next vehicle waiting at the entry lane is read by its camera (every other read "
                             "is unsure and must be confirmed)", self.demo_camera_read))
        return commands

    # ------------------------------------------------------------- concessions
    def action_concession(self) -> None:
        """Palette: record a concession (a disabled driver's badge, ...) on a vehicle inside, with the badge
        number seen (:meth:`attendant.core.concessions.ConcessionOps.add_concession`)."""
        service = self.app.service
        try:
            names = service.concession_names()
        except (AttendantError, AttributeError) as exc:  # no plan, or the database is away (offline booth)
            self.notify(f"Concessions cannot be recorded now: {exc}", severity="warning", timeout=6)
            return
        if not names:
            self.notify("The rate plan prices no concession.", timeout=4)
            return

        def chosen(request: ConcessionRequest | None) -> None:
            if request is not None:
                self._record_concession(request)

        self.app.push_screen(ConcessionDialog(names), chosen)

    @work(thread=True, group="concession", exit_on_error=False)
    def _record_concession(self, request: ConcessionRequest) -> None:
        app = self.app
        try:
            view = app.service.add_concession(request.ticket, request.name, badge=request.badge, actor=app.actor)
        except AttendantError as exc:
            app.call_from_thread(self.notify, str(exc), title="Concession refused", severity="error", timeout=8)
            return
        app.call_from_thread(self.notify, f"Ticket {view.ticket_no}: {view.name.replace('_', ' ')} "
                                          f"(badge {view.badge})", title="Concession recorded", timeout=6)

    # -------------------------------------------------------------------- demo
    @work(thread=True, group="demo", exit_on_error=False)
    def run_demo(self, call) -> None:
        """Demo: one fault simulation on a stand-in device (:mod:`attendant.tui.demo_faults`), then a health poll."""
        call()
        self.app.device_hub.poll_soon()

    def demo_camera_read(self) -> None:
        """Demo: the entry lane's camera reads the next vehicle waiting there (every other read unsure)."""
        app = self.app
        lane = app.entry_lane
        if not self.demo.can_read(lane):
            self.notify("The entry lane has no stand-in camera.", timeout=3)
            return
        vehicle = app.take_queued(lane)
        if vehicle is None:
            self.notify(f"No vehicle waiting at {app.lane_title(lane)}", timeout=3)
            return
        self.demo.camera_read(lane, vehicle)
        self.refresh_lanes()

    # -------------------------------------------------------- worker errors
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place unexpected worker failures land: log, tell, unlock the forms."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        log.error("worker %s failed", event.worker.name, exc_info=error)
        group = event.worker.group
        text = f"{type(error).__name__}: {error}"
        if group == "entry":
            self.query_one(EntryForm).show_error(f"unexpected failure, nothing issued? check the lane: {text}")
        elif group in ("exit", "quote", "lookup", "validation"):
            self.query_one(ExitForm).show_error(f"unexpected failure: {text}")
        elif group == "print":
            self.printing = False
        self.notify(text, title=f"{group} failed", severity="error", timeout=10)

    # --------------------------------------------------------------- actions

    def action_take_entry(self) -> None:
        vehicle = self.app.take_queued(self.app.entry_lane)
        if vehicle is None:
            self.notify(f"No vehicle waiting at {self.app.lane_title(self.app.entry_lane)}", timeout=3)
            return
        self.query_one(EntryForm).fill(vehicle.plate, vehicle.vehicle_class)
        self.refresh_lanes()

    def action_take_exit(self) -> None:
        vehicle = self.app.take_queued(self.app.exit_lane)
        if vehicle is None:
            self.notify(f"No vehicle waiting at {self.app.lane_title(self.app.exit_lane)}", timeout=3)
            return
        form = self.query_one(ExitForm)
        if vehicle.payment_method in ("cash", "card"):
            form.query_one("#exit-method").value = vehicle.payment_method
        form.fill(vehicle.code or "")
        self.refresh_lanes()

    def action_next_level(self) -> None:
        """F7: the next level of the map; on a narrow terminal (no room for the map beside the forms)
        the first F7 shows the map in place of the forms, F2 / F3 / Escape go back to them."""
        level_map = self.query_one(LevelMapView)
        if self.has_class("-narrow") and not self.has_class("-map-shown"):
            self.add_class("-map-shown")
            level_map.focus()
            return
        level_map.action_next_level()

    def key_escape(self) -> None:
        if self.has_class("-map-shown"):
            self.remove_class("-map-shown")
            self.query_one(EntryForm).focus_plate()

    def action_entry(self) -> None:
        self.remove_class("-map-shown")
        self.query_one(EntryForm).focus_plate()

    def action_exit(self) -> None:
        self.remove_class("-map-shown")
        self.query_one(ExitForm).focus_code()

    def action_previous_level(self) -> None:
        self.query_one(LevelMapView).action_previous_level()

    def action_goto_level(self, index: int) -> None:
        self.query_one(LevelMapView).scroll_to_level(index)

    def action_go_to_bay(self) -> None:
        """alt+g / ctrl+F7 (or the palette): ask for a bay label (or a level code) and show it on the map."""
        self.query_one(LevelMapView).action_go_to_bay()


    def action_printout(self) -> None:
        title, text = self.last_printout
        self.app.push_screen(PrintoutDialog(title or "Printout", text))

    def action_scan_ticket(self) -> None:
        """Demo: hand a ticket issued here to the exit lane's stand-in scanner."""
        tickets = self.app.open_tickets()
        if not self.app.can_scan():
            self.notify("Scan the ticket with the exit lane's scanner (or type its code).", timeout=4)
            return
        if not tickets:
            self.notify("No ticket issued here is still open: issue one first (F2).", timeout=4)
            return

        def chosen(code: str | None) -> None:
            if code:
                self.app.scan(code)

        self.app.push_screen(TicketPickDialog(tickets), chosen)
