"""The demo's fault simulations: a printer out of paper, a gate in fault, a camera read to confirm.

Textual-free (STYLE.md rule 4): plain calls on the stand-in devices of a
:class:`~attendant.booth.Booth`, for the console's command palette in demo
mode (:meth:`attendant.tui.screens.main.MainScreen.device_commands`). A
stand-in printer can act any :class:`~hardware.base.DeviceState`; a simulated
gate can go into a hard fault and out of it; the entry lane's stand-in camera
reads the next vehicle waiting there, every other read unsure (64 %, one
character swapped the way plate readers confuse them) so the attendant must
confirm it, with a picture of the real plate (:func:`plate_picture`, drawn
with Pillow) to check the read against.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from hardware.base import DeviceState

#: A low-confidence read swaps one character the way plate readers confuse them.
CONFUSED = str.maketrans({"B": "8", "8": "B", "O": "0", "0": "O", "S": "5", "5": "S", "Z": "2", "2": "Z",
                          "I": "1", "1": "I", "G": "6", "6": "G"})
LOW_CONFIDENCE = 0.64
HIGH_CONFIDENCE = 0.93
PRINTER_STATES = (("paper_out", "paper out"), ("paper_low", "paper low"), ("offline", "offline"),
                  ("ok", "back (ok)"))


def plate_picture(text: str, *, width: int = 260, height: int = 60) -> bytes:
    """A PNG of a white number plate showing ``text`` in black (what an ANPR camera's plate crop
    looks like), ``width`` x ``height`` pixels; Pillow's bundled font (FreeType)."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", (width, height), (246, 246, 240))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((1, 1, width - 2, height - 2), outline=(25, 25, 25), width=2)
    font = ImageFont.load_default(size=int(height * 0.75))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((width - (right - left)) / 2 - left, (height - (bottom - top)) / 2 - top), text,
              fill=(12, 12, 12), font=font, stroke_width=1, stroke_fill=(12, 12, 12))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


class DemoFaults:
    """Faults and reads the demo can cause on ``booth``'s stand-in devices."""

    def __init__(self, booth) -> None:
        self.booth = booth
        self.reads = 0
        self.classes: dict[str, str] = {}  # plate read by the demo camera -> the vehicle's class

    def _devices(self, lane: str):
        return self.booth.devices(self.booth.lanes[lane])

    def printer(self, lane: str, state: str) -> None:
        """The stand-in printer of ``lane`` acts ``state`` (a DeviceState value)."""
        self._devices(lane).printer.simulate(DeviceState(state))

    def gate(self, lane: str, fault: bool) -> None:
        """The simulated gate of ``lane`` goes into (or out of) a hard fault."""
        gate = self._devices(lane).gate
        if fault:
            gate.set_fault("demo: barrier controller reports a fault")
        else:
            gate.clear_fault()

    def camera_read(self, lane, vehicle) -> str:
        """``lane``'s stand-in camera reads ``vehicle`` (a queued vehicle); returns the plate as read."""
        self.reads += 1
        plate = vehicle.plate.replace(" ", "")
        confidence = HIGH_CONFIDENCE
        if self.reads % 2 == 0:
            confidence = LOW_CONFIDENCE
            index = next((i for i, ch in enumerate(plate) if ch.translate(CONFUSED) != ch), None)
            if index is not None:
                plate = plate[:index] + plate[index].translate(CONFUSED) + plate[index + 1:]
        self.classes[plate] = vehicle.vehicle_class
        self.booth.devices(lane).camera.push(plate, confidence, image=plate_picture(vehicle.plate))
        return plate

    def can_read(self, lane) -> bool:
        """True when ``lane`` has a stand-in camera the demo can feed."""
        return lane is not None and hasattr(self.booth.devices(lane).camera, "push")

    def commands(self, run: Callable[[Callable[[], object]], object]) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) of the printer and gate faults the lanes' stand-ins can act;
        each callback hands its device call to ``run`` (the screen's worker)."""
        commands: list[tuple[str, str, Callable[[], object]]] = []
        for lane in self.booth.config.lanes:
            devices = self.booth.devices(lane)
            if hasattr(devices.printer, "simulate"):
                for state, words in PRINTER_STATES:
                    commands.append((f"Demo: {lane.code} printer {words}",
                                     f"the stand-in printer of {lane.code} acts {words}",
                                     lambda c=lane.code, st=state: run(lambda: self.printer(c, st))))
            if hasattr(devices.gate, "set_fault"):
                commands.append((f"Demo: {lane.code} gate fault", f"the simulated gate of {lane.code} goes into fault",
                                 lambda c=lane.code: run(lambda: self.gate(c, True))))
                commands.append((f"Demo: {lane.code} gate fault cleared", f"the gate of {lane.code} works again",
                                 lambda c=lane.code: run(lambda: self.gate(c, False))))
        return commands
