"""Lane panels: each lane's gate, device health and queue, in one widget.

Data flows down: the screen builds :class:`LaneState` values (from the
device hub's health report and gate events, and the replay's queues) and
calls :meth:`LanesPanel.set_lanes`. Every state shows a glyph and a word as
well as a theme colour (``$gate-open``, ``$ok``, ``$fault``...).

The gate shows its position and, where the gate reports a limit switch,
whether that position is only *commanded* (the relay was switched) or
*confirmed* (the limit switch saw the arm there); a fault shows its reason
(a confirmation timeout, a dead relay link). The second line names the
devices in trouble, the tickets waiting for a reprint and the lane's last
plate read with its confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.content import Content
from textual.widgets import Static

from attendant.tui.widgets.device_health import GATE_BADGE, device_badge

DEVICE_ORDER = ("printer", "gate", "scanner", "camera")
QUEUE_SHOWN = 3  # plates listed per queue; the rest are counted
CLASS_SHORT = {"motorcycle": "moto"}


@dataclass(frozen=True)
class LaneState:
    """What the panel shows for one lane.

    ``gate`` is ``closed``/``open``/``fault`` or None (no gate); ``devices``
    maps a device kind (printer, scanner, camera) to its
    ``hardware.base.DeviceState`` value and message; ``queue`` holds
    ``(plate, vehicle_class)`` of the vehicles waiting, first in front;
    ``attended`` marks the attendant's own lanes (the others run
    automatically). ``gate_phase`` is ``commanded``/``confirmed`` for a gate
    with a limit switch (None otherwise); ``gate_reason`` the fault message;
    ``reprints`` the tickets waiting for a reprint; ``last_read`` the last
    plate read as ``(plate, confidence 0..1)``. ``booth`` names the other
    booth that drives a lane this console only watches (None: this booth's);
    its queue holds classes only (``("", vehicle_class)``: no plates cross booths).
    """

    code: str
    name: str
    direction: str
    attended: bool
    gate: str | None
    devices: dict[str, tuple[str, str]] = field(default_factory=dict)
    queue: tuple[tuple[str, str], ...] = ()
    gate_phase: str | None = None
    gate_reason: str | None = None
    reprints: int = 0
    last_read: tuple[str, float] | None = None
    booth: str | None = None


def lane_content(lane: LaneState) -> Content:
    """The three lines of one lane."""
    marker = ("◆ ", "$accent b") if lane.attended else ("  ", "")
    mode = (("attended", "$accent b") if lane.attended else ("automatic", "$muted")) if lane.booth is None else \
        (f"@{lane.booth[:9]}", "$accent")
    parts: list = [marker, (f"{lane.code:<3}", "b"), f" {lane.name[:24]:<24} ", (f"{lane.direction:<6}", "")]
    parts += [(f"{mode[0]:<10}", mode[1]), " gate "]
    if lane.gate is None:
        parts.append(("– none", "$muted"))
    else:
        glyph, word, var = GATE_BADGE.get(lane.gate, ("?", lane.gate, "warn"))
        parts.append((f"{glyph} {word}", f"${var} b"))
        if lane.gate == "fault" and lane.gate_reason:
            parts.append((f" {lane.gate_reason}", "$fault"))
        elif lane.gate_phase == "confirmed":
            parts.append((" · confirmed ✓", "$ok"))
        elif lane.gate_phase == "commanded":
            parts.append((" · commanded …", "$warn"))
    parts.append("\n    ")
    parts += _devices_line(lane)
    parts.append("\n    ")
    if lane.booth is not None:
        if lane.queue:
            parts += [("queue ", "b"), (f"{len(lane.queue)}", "$warn b"), " ▸ ",
                      " · ".join(CLASS_SHORT.get(vclass, vclass) for _plate, vclass in lane.queue[:QUEUE_SHOWN])]
            if len(lane.queue) > QUEUE_SHOWN:
                parts.append(f" +{len(lane.queue) - QUEUE_SHOWN}")
        else:
            parts.append(("queue empty", "$muted"))
        parts.append((f"  (booth {lane.booth})", "$muted"))
    elif not lane.attended:
        parts.append(("vehicles processed automatically", "$muted"))
    elif not lane.queue:
        parts.append(("queue empty", "$muted"))
    else:
        key = "F4" if lane.direction == "entry" else "F5"
        parts += [("queue ", "b"), (f"{len(lane.queue)}", "$warn b"), " ▸ "]
        shown = [f"{plate} {CLASS_SHORT.get(vclass, vclass)}" for plate, vclass in lane.queue[:QUEUE_SHOWN]]
        parts.append((shown[0], "reverse b"))
        if len(shown) > 1:
            parts.append(" · " + " · ".join(shown[1:]))
        if len(lane.queue) > QUEUE_SHOWN:
            parts.append(f" +{len(lane.queue) - QUEUE_SHOWN}")
        parts += ["  ", (key, "$accent b"), " take"]
    return Content.assemble(*parts)


def _devices_line(lane: LaneState) -> list:
    """Devices in trouble (or "devices ✓"), tickets to reprint, the last plate read."""
    parts: list = []
    if not lane.devices:
        parts.append(("no devices", "$muted"))
    kinds = sorted(lane.devices, key=lambda k: DEVICE_ORDER.index(k) if k in DEVICE_ORDER else 99)
    trouble = [k for k in kinds if lane.devices[k][0] != "ok"]
    if lane.devices and not trouble:
        parts += ["devices ", ("✓ ok", "$ok")]
    for i, kind in enumerate(trouble):
        state, _message = lane.devices[kind]
        glyph, word, var = device_badge(state)
        if i:
            parts.append("  ")
        parts += [f"{kind} ", (f"{glyph} {word}", f"${var}" + (" b" if var == "fault" else ""))]
    if lane.reprints:
        parts += ["  ", (f"⎙ {lane.reprints} to reprint", "$warn b")]
    if lane.last_read is not None:
        plate, confidence = lane.last_read
        parts += ["  read ", (plate, "b"), (f" {confidence:.0%}", "$muted")]
    return parts


class LanesPanel(Static):
    """Gate, devices and queue of every lane of this console, then the lanes other booths drive."""

    DEFAULT_CSS = """
    LanesPanel { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.lanes: tuple[LaneState, ...] = ()
        self.border_title = "Lanes"

    def set_lanes(self, lanes: tuple[LaneState, ...]) -> None:
        """Show ``lanes``; repaints only when something changed."""
        lanes = tuple(lanes)
        if lanes == self.lanes:
            return
        self.lanes = lanes
        self.update(Content("\n").join(lane_content(lane) for lane in lanes))
