"""Barrier gates by URL: the gate kind's scheme table, :func:`parse_gate_url` and :func:`open_gate`.

Every gate is a relay-pulse gate (:mod:`hardware.relay_gate` holds the rules);
the schemes differ in the relay behind it::

    sim:// or standin://   the simulated gate (hardware.simulated_gate)
    lcus:///dev/ttyUSB0    an LCUS-1 USB relay board (hardware.relays)
    modbus+tcp://HOST:502  a Modbus relay module over TCP (hardware.relays)
    modbus+rtu:///dev/ttyUSB0   the same over RS-485 (hardware.relays)

Each driver module documents its options. A new relay type is a
:class:`~hardware.relay_gate.RelayOutput` with its gate class, a URL parser,
an opener, and one :class:`~hardware.urls.Scheme` entry in :data:`GATE`.
"""

from __future__ import annotations

from hardware.base import Gate
from hardware.relay_gate import GateAddress, InputSpec
from hardware.relays import open_lcus_gate, open_modbus_gate, parse_lcus_url, parse_modbus_rtu_url, parse_modbus_tcp_url
from hardware.simulated_gate import open_simulated_gate, parse_simulated_url
from hardware.urls import DeviceKind, Scheme

__all__ = ["GATE", "GATE_SCHEMES", "SIM_SCHEMES", "open_gate", "parse_gate_url"]

#: The gate kind: every gate URL scheme with its parser and opener.
GATE = DeviceKind("gate", (
    Scheme("sim", parse_simulated_url, open_simulated_gate, "sim://?hold=5", stand_in=True),
    Scheme("standin", parse_simulated_url, open_simulated_gate, "standin://", stand_in=True),
    Scheme("lcus", parse_lcus_url, open_lcus_gate, "lcus:///dev/ttyUSB0?pulse=0.5"),
    Scheme("modbus+tcp", parse_modbus_tcp_url, open_modbus_gate, "modbus+tcp://192.168.1.70:502?unit=1&coil=0"),
    Scheme("modbus+rtu", parse_modbus_rtu_url, open_modbus_gate, "modbus+rtu:///dev/ttyUSB0?unit=1&coil=0"),
))
#: Every gate scheme, in table order.
GATE_SCHEMES = GATE.names
#: The schemes of the simulated (in-memory) gate.
SIM_SCHEMES = GATE.stand_in_names


def parse_gate_url(url: str) -> GateAddress:
    """Parse and check a gate URL without touching any device.

    :raises InputError: an unknown scheme (with a "did you mean" for near
        misses), a missing device or host, an unknown or repeated option, a
        value out of range; the message quotes the URL and names the option.
    """
    address: GateAddress = GATE.parse(url)
    return address


def open_gate(url: str, *, lane: str = "", hold_seconds: float | None = None, name: str | None = None,
              presence: InputSpec = None, limit: InputSpec = None) -> Gate:
    """Open the gate named by ``url`` for ``lane``.

    ``hold_seconds`` (if given) wins over the URL's ``hold`` (sim, default 5 s)
    or ``pulse`` (relays, default 0.5 s). ``presence`` / ``limit`` (callables)
    win over inputs named in the URL. No blocking I/O: relay gates connect on
    their worker thread (status ``unknown`` until then).

    :raises InputError: a malformed or unsupported URL.
    """
    gate: Gate = GATE.open(url, lane=lane, hold_seconds=hold_seconds, name=name, presence=presence, limit=limit)
    return gate
