"""Every device kind and its URL schemes: the registry lanes open devices through.

=========  ==========================================================  =======================
kind       schemes                                                     table
=========  ==========================================================  =======================
printer    tcp, serial, file, usb, dummy, standin                      hardware.printers
gate       sim, standin, lcus, modbus+tcp, modbus+rtu                  hardware.gates
scanner    standin, serial, socket, rfc2217, loop                      hardware.scanners
camera     standin, anpr+http, hikvision+http, axis+http,              hardware.cameras
           webhook+http, opencv, rtsp, rtsps, file, http, https
display    standin, serial, tcp  (exit lanes: the customer pole display)  hardware.displays
=========  ==========================================================  =======================

Count signs are not lane devices: their kind, ``sign`` (standin, modbus+tcp,
modbus+rtu, http, https), is :data:`hardware.signs.SIGN`, read from the
config's ``[[signs]]`` tables (:mod:`hardware.config`).

Each kind is a :class:`~hardware.urls.DeviceKind`: ``KINDS["gate"].parse(url)``
checks a URL (no I/O), ``KINDS["gate"].open(url, lane=..., name=...)`` builds
the device. All of them read options with :class:`~hardware.urls.UrlOptions`
and serial rates from :data:`~hardware.urls.BAUDRATES`. Importing this module
loads no device library (see each kind's module for when its libraries load).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hardware.cameras import CAMERA
from hardware.displays import DISPLAY
from hardware.gates import GATE
from hardware.printers import PRINTER
from hardware.scanners import SCANNER
from hardware.urls import DeviceKind

__all__ = ["DEVICE_KINDS", "KINDS"]

#: Kind name -> its scheme table, in the order a lane lists its devices.
KINDS: Mapping[str, DeviceKind] = MappingProxyType({kind.name: kind for kind in (PRINTER, GATE, SCANNER, CAMERA, DISPLAY)})
#: The kind names: ``("printer", "gate", "scanner", "camera", "display")``.
DEVICE_KINDS = tuple(KINDS)
