"""The device health panel: every lane's printer, gate, scanner and camera, the count signs, and what each
exit lane's customer display shows.

One line per lane with a badge per device (glyph + word + theme colour, so
the state reads without colour: STYLE.md rule 8), then one line per device
that is not ok: what is wrong, since when (facility time), the driver's
message and when it is retried; and a line per lane with tickets waiting for
a reprint. Data flows down: the screen hands it each
:class:`~attendant.tui.devices.HealthReport` (:meth:`DeviceHealthPanel.set_report`);
it repaints only when what it shows changed.
"""

from __future__ import annotations

from datetime import tzinfo

from textual.content import Content
from textual.widgets import Static

from attendant.tui.devices import DeviceView, GateView, HealthReport, LaneHealth
from attendant.tui.glyphs import DEVICE_GLYPH, GATE_GLYPH

#: Device state -> (glyph, word, theme variable): the lane panels' table, but the health panel says
#: "unknown" where a lane says "idle" (a device not yet polled).
DEVICE_BADGE: dict[str, tuple[str, str, str]] = {**DEVICE_GLYPH, "unknown": ("?", "unknown", "muted")}

#: Gate position -> (glyph, word, theme variable).
GATE_BADGE: dict[str, tuple[str, str, str]] = GATE_GLYPH

KIND_ORDER = ("printer", "gate", "scanner", "camera")
#: Cell width of each device's badge on a lane row (the longest: "printer ✗ paper out").
CELL = {"printer": 21, "gate": 15, "scanner": 18, "camera": 16}
PRINT_QUEUE_KEY = "^O"


def device_badge(state: str) -> tuple[str, str, str]:
    """(glyph, word, theme variable) of a device state; unknown values read as themselves."""
    return DEVICE_BADGE.get(state, ("?", state.replace("_", " "), "warn"))


def gate_badge(device: DeviceView | None, gate: GateView | None) -> tuple[str, str, str]:
    """The gate's badge: its position while it works, else its health."""
    if device is not None and not device.ok:
        return device_badge(device.state)
    if gate is not None:
        return GATE_BADGE.get(gate.state, ("?", gate.state, "warn"))
    return device_badge(device.state if device else "unknown")


def lane_row(lane: LaneHealth, gate: GateView | None = None) -> Content:
    """``E1  printer ✓ ok  gate ▬ closed  scanner ✓ ok  camera ✓ ok``; ``gate``:
    a newer gate position than the report's (from gate events)."""
    parts: list = [(f"{lane.lane:<4}", "b")]
    for kind in KIND_ORDER:
        device = lane.device(kind)
        if device is None:
            continue
        if kind == "gate":
            glyph, word, var = gate_badge(device, gate or lane.gate)
        else:
            glyph, word, var = device_badge(device.state)
        cell = f"{kind} {glyph} {word}"
        parts += [f"{kind} ", (f"{glyph} {word}", f"${var}" + (" b" if var == "fault" else ""))]
        parts.append(" " * max(1, CELL[kind] - len(cell)))
    return Content.assemble(*parts)


def signs_row(signs: tuple[DeviceView, ...]) -> Content:
    """``signs L0 12  L1 FULL  EV ✗ faulted``: each count sign's face, or its trouble."""
    parts: list = [("signs", "b")]
    for sign in signs:
        parts.append(f"  {sign.kind} ")
        if sign.ok and sign.shows is not None:
            parts.append((sign.shows, "$fault b" if sign.shows == "FULL" else "b"))
        else:
            glyph, word, var = device_badge(sign.state)
            parts.append((f"{glyph} {word}", f"${var}" + (" b" if var == "fault" else "")))
    return Content.assemble(*parts)


def display_row(device: DeviceView) -> Content:
    """``X1 display ▭ Please pay £4.80 | Stay 1 h 5 min``: the two rows the driver reads."""
    return Content.assemble(("  ", ""), (f"{device.lane} display ", "b"), ("▭ ", "$muted"), (device.shows or "", "b"))


def problem_row(device: DeviceView, tz: tzinfo) -> Content:
    """``✗ E1 printer paper out since 09:31:02 · Printer E1: paper out · retry in 4 s``."""
    glyph, word, var = device_badge(device.state)
    since = device.since.astimezone(tz).strftime("%H:%M:%S")
    parts: list = ["  ", (f"{glyph} {device.lane} {device.kind} {word}", f"${var} b"), (f" since {since}", "$muted")]
    if device.message:
        parts.append(f" · {device.message}")
    if device.retry_in is not None:
        parts.append((f" · reopening in {device.retry_in:.0f} s" if device.retry_in >= 0.5 else " · reopening now",
                      "$muted"))
    return Content.assemble(*parts)


def reprint_row(lane: LaneHealth) -> Content:
    n = lane.reprints
    return Content.assemble(
        "  ",
        (f"⎙ {lane.lane} {n} ticket{'s' if n != 1 else ''} to reprint", "$warn b"),
        " (entered by plate) · ",
        (PRINT_QUEUE_KEY, "$accent b"),
        " prints them",
    )


class DeviceHealthPanel(Static):
    """Health of every device of every lane (see the module docstring)."""

    DEFAULT_CSS = """
    DeviceHealthPanel {
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, tz: tzinfo, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.tz = tz
        self.report: HealthReport | None = None
        self._shown: Content | None = None
        self.border_title = "Devices"

    def set_report(self, report: HealthReport, gates: dict[str, GateView] | None = None) -> None:
        """Show ``report``, with ``gates`` (lane code -> position) newer than the
        report's where given; repaints only when the text changed."""
        self.report = report
        gates = gates or {}
        rows: list[Content] = []
        if not report.lanes:
            rows.append(Content.assemble(("waiting for the first device check…", "$muted")))
        for lane in report.lanes:
            rows.append(lane_row(lane, gates.get(lane.lane)))
        if report.signs:
            rows.append(signs_row(report.signs))
        for lane in report.lanes:
            display = lane.device("display")
            if display is not None and display.ok and display.shows:
                rows.append(display_row(display))
        for lane in report.lanes:
            for device in lane.problems:
                rows.append(problem_row(device, self.tz))
            if lane.reprints:
                rows.append(reprint_row(lane))
        for sign in report.signs:
            if sign.state != "ok":
                rows.append(problem_row(sign, self.tz))
        content = Content("\n").join(rows)
        bad = [d for d in report.problems if d.state != "unknown"]
        state = (f"✗ {len(bad)} need{'s' if len(bad) == 1 else ''} attention" if bad else "✓ all working"
                 ) if report.lanes else "…"
        self.border_subtitle = f"{state} · F12 retry"
        self.set_class(bool(bad), "-trouble")
        if content != self._shown:
            self._shown = content
            self.update(content)

    def text(self) -> str:
        """The panel's plain text (tests, logs)."""
        return self._shown.plain if self._shown is not None else ""
