"""Relay boards that drive barrier gates: LCUS-1 USB relays and Modbus relay modules.

Libraries used (not home-made): **pyserial** (``serial.serial_for_url``) for
the LCUS board and for modem-line inputs; **pymodbus** 3.16 (sync
``ModbusTcpClient`` / ``ModbusSerialClient``, ``write_coil``,
``read_discrete_inputs``) for Modbus modules. The timing, forced-off and
confirmation rules live in :class:`hardware.relay_gate.RelayPulseGate`; this module
only says how to switch one relay and read inputs on the same link.

LCUS-1 protocol (the CH340-based "LCUS-1 USB relay module" sold under many
brands; vendor sheet "LCUS-1 type USB relay module" and its multi-channel
LCUS-2/4/8 siblings): 9600 baud 8N1, one 4-byte frame per switch and no
reply::

    A0  channel  state  checksum        checksum = (A0 + channel + state) & 0xFF
    A0 01 01 A2   channel 1 on          A0 01 00 A1   channel 1 off

Modbus relay modules (Waveshare "Modbus RTU Relay", Eletechsup, most DIN-rail
relay cards): relay N is coil N written with function 05 (write single coil,
FF00 on / 0000 off, Modbus Application Protocol v1.1b3 §6.5); inputs are
discrete inputs read with function 02.

URLs (the gate scheme table is :data:`hardware.gates.GATE`)::

    lcus:///dev/ttyUSB0    ?pulse=0.5&channel=1&baudrate=9600&presence=cts&limit=dsr&confirm=3&max_hold=300
    lcus://loop://         (any pyserial URL after lcus://: loop://, socket://host:port, rfc2217://host:port)
    modbus+tcp://HOST[:502]?unit=1&coil=0&pulse=0.5&presence_input=0&limit_input=1&timeout=1
    modbus+rtu:///dev/ttyUSB0?baudrate=9600&parity=N&bytesize=8&stopbits=1&unit=1&coil=0&...

The serial device is read by :func:`hardware.urls.split_device_url` (a device
path, ``COM3``, or a nested pyserial URL, also written ``lcus:loop://``).
Options: ``pulse`` seconds the relay stays on (0 < s <= 600, default 0.5);
``confirm``, ``close``, ``max_hold`` (:func:`hardware.relay_gate.timing_options`);
LCUS ``channel`` (1-8), ``presence`` / ``limit`` (a modem line ``cts``,
``dsr``, ``ri`` or ``cd`` of the board's port); Modbus ``unit`` (device id
0-247), ``coil`` (0-65535), ``presence_input`` / ``limit_input`` (discrete
input addresses), ``timeout`` (request timeout, seconds); serial rates are
:data:`hardware.urls.BAUDRATES`.
"""

from __future__ import annotations

import threading
from typing import Any

from attendant.core.errors import InputError

from hardware.base import DeviceError, DeviceState
from hardware.relay_gate import (
    DEFAULT_PULSE_SECONDS,
    MAX_PULSE_SECONDS,
    MODEM_LINES,
    GateAddress,
    InputSpec,
    RelayOutput,
    RelayPulseGate,
    timing_options,
)
from hardware.serial_port import open_serial_port
from hardware.urls import DeviceUrl, UrlOptions

__all__ = [
    "LcusRelay",
    "LcusRelayGate",
    "ModbusRelay",
    "ModbusRelayGate",
    "ModemLineInput",
    "lcus_frame",
    "open_lcus_gate",
    "open_modbus_gate",
    "parse_lcus_url",
    "parse_modbus_rtu_url",
    "parse_modbus_tcp_url",
]

def lcus_frame(channel: int, on: bool) -> bytes:
    """The LCUS command switching relay ``channel`` (1-8) on or off (4 bytes).

    >>> lcus_frame(1, True).hex(' ')
    'a0 01 01 a2'
    """
    if not isinstance(channel, int) or not 1 <= channel <= 8:
        raise InputError(f"LCUS relay channel must be 1 to 8, got {channel!r}")
    state = 1 if on else 0
    return bytes((0xA0, channel, state, (0xA0 + channel + state) & 0xFF))


# --------------------------------------------------------------------------- LCUS


class LcusRelay(RelayOutput):
    """One channel of an LCUS USB relay board on a serial port (module docstring).

    ``port`` is a device path or pyserial URL; ``baudrate`` 9600 for every
    LCUS board seen; ``write_timeout`` bounds each write in seconds. Inputs
    are the port's modem lines (``cts``, ``dsr``, ``ri``, ``cd``) where a loop
    detector or limit switch is wired to them (pseudo-terminals have none).
    """

    def __init__(self, port: str, *, channel: int = 1, baudrate: int = 9600, write_timeout: float = 1.0) -> None:
        lcus_frame(channel, False)  # checks the channel
        self.port = port
        self.channel = channel
        self.baudrate = baudrate
        self.write_timeout = write_timeout
        self.description = f"LCUS relay {port}" + (f" channel {channel}" if channel != 1 else "")
        self._serial: Any = None

    def connect(self) -> None:
        self.disconnect()
        self._serial = open_serial_port(self.port, baudrate=self.baudrate, timeout=0.2,
                                    write_timeout=self.write_timeout)

    def set(self, on: bool) -> None:
        if self._serial is None:
            raise DeviceError(f"{self.description} is not connected", state=DeviceState.OFFLINE)
        self._serial.write(lcus_frame(self.channel, on))
        self._serial.flush()

    def probe(self) -> None:
        """Ask the port how many bytes wait (an unplugged USB adapter fails
        this) and drop any the board sent (some LCUS variants echo)."""
        if self._serial is None:
            raise DeviceError(f"{self.description} is not connected", state=DeviceState.OFFLINE)
        if self._serial.in_waiting:
            self._serial.reset_input_buffer()

    def read_input(self, name: str) -> bool:
        if name not in MODEM_LINES:
            return super().read_input(name)
        if self._serial is None:
            raise DeviceError(f"{self.description} is not connected", state=DeviceState.OFFLINE)
        return bool(getattr(self._serial, name))

    def disconnect(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead port is best effort
                pass


class LcusRelayGate(RelayPulseGate):
    """A gate on an LCUS relay (see :class:`~hardware.relay_gate.RelayPulseGate`).

    ``presence`` / ``limit``: a callable, or a modem line name (``cts``,
    ``dsr``, ``ri``, ``cd``) of the relay's own port. Other keyword arguments
    go to :class:`~hardware.relay_gate.RelayPulseGate` (``confirm_timeout``,
    ``max_hold_seconds``, ``poll_interval``, backoff, ``owned``).

    :raises InputError: a bad channel, line name or time.
    """

    def __init__(self, port: str, lane: str = "", *, channel: int = 1, baudrate: int = 9600,
                 pulse_seconds: float = DEFAULT_PULSE_SECONDS, presence: InputSpec = None,
                 limit: InputSpec = None, name: str | None = None, **kwargs: Any) -> None:
        for label, spec in (("presence", presence), ("limit", limit)):
            if isinstance(spec, str) and spec not in MODEM_LINES:
                raise InputError(f"LCUS gate {label} must be a modem line ({', '.join(MODEM_LINES)}), got {spec!r}")
        self.lcus = LcusRelay(port, channel=channel, baudrate=baudrate)
        super().__init__(self.lcus, lane, name=name, pulse_seconds=pulse_seconds, presence=presence,
                         limit=limit, **kwargs)


# --------------------------------------------------------------------------- Modbus


class ModbusRelay(RelayOutput):
    """One coil of a Modbus relay module, over TCP or RTU (module docstring).

    ``mode`` is ``"tcp"`` (``host``, ``port``) or ``"rtu"`` (``device``: a
    device path or pyserial URL, with ``baudrate``, ``bytesize``, ``parity``,
    ``stopbits``). ``unit`` is the Modbus device id, ``coil`` the relay's coil
    address, ``timeout`` each request's limit in seconds. Inputs are discrete
    input addresses given as text (``"3"``).
    """

    def __init__(self, *, mode: str = "tcp", host: str | None = None, port: int = 502, device: str | None = None,
                 baudrate: int = 9600, bytesize: int = 8, parity: str = "N", stopbits: int = 1,
                 unit: int = 1, coil: int = 0, timeout: float = 1.0) -> None:
        if mode not in ("tcp", "rtu"):
            raise InputError(f"Modbus mode must be tcp or rtu, got {mode!r}")
        if mode == "tcp" and not host:
            raise InputError("a Modbus TCP relay needs a host")
        if mode == "rtu" and not device:
            raise InputError("a Modbus RTU relay needs a serial device")
        self.mode, self.host, self.port, self.device = mode, host, port, device
        self.serial_settings = {"baudrate": baudrate, "bytesize": bytesize, "parity": parity, "stopbits": stopbits}
        self.unit, self.coil, self.timeout = unit, coil, timeout
        target = f"{host}:{port}" if mode == "tcp" else device
        self.description = f"Modbus relay {target} unit {unit} coil {coil}"
        self._client: Any = None

    def connect(self) -> None:
        from pymodbus.client import ModbusSerialClient, ModbusTcpClient

        self.disconnect()
        if self.mode == "tcp":
            client = ModbusTcpClient(self.host, port=self.port, timeout=self.timeout, retries=0)
        else:
            client = ModbusSerialClient(self.device, timeout=self.timeout, retries=0, **self.serial_settings)
        if not client.connect():
            client.close()
            raise DeviceError(f"no connection to {self.description}", state=DeviceState.OFFLINE)
        self._client = client

    def _checked(self, response: Any, what: str) -> Any:
        if response is None or response.isError():
            raise DeviceError(f"{self.description} refused the {what}: {response}")
        return response

    def set(self, on: bool) -> None:
        if self._client is None:
            raise DeviceError(f"{self.description} is not connected", state=DeviceState.OFFLINE)
        self._checked(self._client.write_coil(self.coil, bool(on), device_id=self.unit), "coil write")

    def probe(self) -> None:
        """Read the relay's coil back: a module that lost power or network fails this."""
        if self._client is None:
            raise DeviceError(f"{self.description} is not connected", state=DeviceState.OFFLINE)
        self._checked(self._client.read_coils(self.coil, count=1, device_id=self.unit), "coil read")

    def read_input(self, name: str) -> bool:
        try:
            address = int(name)
        except ValueError:
            return super().read_input(name)
        if self._client is None:
            raise DeviceError(f"{self.description} is not connected", state=DeviceState.OFFLINE)
        response = self._checked(
            self._client.read_discrete_inputs(address, count=1, device_id=self.unit), "discrete input read"
        )
        return bool(response.bits[0])

    def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001, S110
                pass


class ModbusRelayGate(RelayPulseGate):
    """A gate on a Modbus relay coil (see :class:`~hardware.relay_gate.RelayPulseGate`).

    Connection keywords are those of :class:`ModbusRelay`;
    ``presence_input`` / ``limit_input`` are discrete input addresses on the
    same module, overridden by ``presence`` / ``limit`` callables. Other
    keyword arguments go to :class:`~hardware.relay_gate.RelayPulseGate`.
    """

    def __init__(self, lane: str = "", *, mode: str = "tcp", host: str | None = None, port: int = 502,
                 device: str | None = None, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                 stopbits: int = 1, unit: int = 1, coil: int = 0, timeout: float = 1.0,
                 pulse_seconds: float = DEFAULT_PULSE_SECONDS, presence_input: int | None = None,
                 limit_input: int | None = None, presence: InputSpec = None, limit: InputSpec = None,
                 name: str | None = None, **kwargs: Any) -> None:
        self.modbus = ModbusRelay(mode=mode, host=host, port=port, device=device, baudrate=baudrate,
                                  bytesize=bytesize, parity=parity, stopbits=stopbits, unit=unit, coil=coil,
                                  timeout=timeout)
        if presence is None and presence_input is not None:
            presence = str(presence_input)
        if limit is None and limit_input is not None:
            limit = str(limit_input)
        super().__init__(self.modbus, lane, name=name, pulse_seconds=pulse_seconds, presence=presence,
                         limit=limit, **kwargs)


# --------------------------------------------------------------------------- inputs


class ModemLineInput:
    """A presence loop or limit switch wired to a modem status line of a serial port.

    ``port`` is a pyserial URL/device path (opened on first read) or an open
    ``serial.Serial``; ``line`` is ``cts``, ``dsr``, ``ri`` or ``cd``;
    ``invert`` for normally-closed contacts. Calling the object reads the
    line (True = presence / arm up). With ``loop://`` pyserial mirrors RTS to
    CTS and DTR to DSR, so a test sets ``input.port.rts`` to drive it.

    :raises InputError: an unknown line.
    """

    def __init__(self, port: Any, line: str = "cts", *, invert: bool = False) -> None:
        if line not in MODEM_LINES:
            raise InputError(f"modem line must be one of {', '.join(MODEM_LINES)}, got {line!r}")
        self.line = line
        self.invert = invert
        self._lock = threading.Lock()
        self._url = port if isinstance(port, str) else None
        self._serial: Any = None if isinstance(port, str) else port

    @property
    def port(self) -> Any:
        """The serial port object (opened now if needed)."""
        with self._lock:
            if self._serial is None:
                self._serial = open_serial_port(self._url or "", timeout=0.1)
            return self._serial

    def __call__(self) -> bool:
        return bool(getattr(self.port, self.line)) != self.invert

    def close(self) -> None:
        """Close the port if this object opened it."""
        with self._lock:
            port, owned = self._serial, self._url is not None
            if owned:
                self._serial = None
        if owned and port is not None:
            port.close()


# --------------------------------------------------------------------------- URLs


def _pulse(options: UrlOptions, params: dict[str, Any]) -> float | None:
    """``pulse`` (seconds) and the timings every relay gate URL takes."""
    pulse = options.number("pulse", 0, MAX_PULSE_SECONDS, unit="seconds", above=True)
    params.update(timing_options(options))
    return pulse


def parse_lcus_url(url: DeviceUrl) -> GateAddress:
    """``lcus:///dev/ttyUSB0`` (or a nested pyserial URL) with ``pulse``, the
    timings, ``channel`` (1-8, default 1), ``baudrate`` (default 9600) and
    ``presence`` / ``limit`` (modem lines of the board's port)."""
    params: dict[str, Any] = {"port": url.serial_port()}
    options = url.options
    pulse = _pulse(options, params)
    params["channel"] = options.integer("channel", 1, 8, 1)
    params["baudrate"] = options.baudrate()
    for key in ("presence", "limit"):
        line = options.choice(key, MODEM_LINES)
        if line is not None:
            params[key] = line
    return GateAddress(url=url.url, scheme=url.scheme, hold_seconds=pulse, params=params)


def _modbus(url: DeviceUrl, params: dict[str, Any]) -> GateAddress:
    """What Modbus TCP and RTU URLs share: ``pulse``, the timings, ``unit``
    (0-247, default 1), ``coil`` (0-65535, default 0), ``presence_input`` /
    ``limit_input`` (discrete input addresses) and ``timeout`` (seconds, default 1)."""
    options = url.options
    pulse = _pulse(options, params)
    params["unit"] = options.integer("unit", 0, 247, 1)
    params["coil"] = options.integer("coil", 0, 65535, 0)
    for key in ("presence_input", "limit_input"):
        value = options.integer(key, 0, 65535)
        if value is not None:
            params[key] = value
    params["timeout"] = options.number("timeout", 0, 60, 1.0, unit="seconds", above=True)
    return GateAddress(url=url.url, scheme=url.scheme, hold_seconds=pulse, params=params)


def parse_modbus_tcp_url(url: DeviceUrl) -> GateAddress:
    """``modbus+tcp://HOST[:502]`` (Modbus TCP port 502 by default) and the Modbus options."""
    host, port = url.host_port(default=502)
    return _modbus(url, {"mode": "tcp", "host": host, "port": port})


def parse_modbus_rtu_url(url: DeviceUrl) -> GateAddress:
    """``modbus+rtu:///dev/ttyUSB0`` (or a nested pyserial URL), its serial line
    and the Modbus options. The line allows what MODBUS over Serial Line V1.02
    §2.5 allows: 8 data bits (7 in ASCII mode), even, odd or no parity, 1 or 2
    stop bits."""
    device = url.serial_port()
    line = url.options.serial_line(bytesizes=(7, 8), parities=("N", "E", "O"), stopbits=("1", "2"))
    return _modbus(url, {"mode": "rtu", "device": device, **line})


def _timings(address: GateAddress) -> dict[str, Any]:
    return {k: address.params[k] for k in ("confirm_timeout", "close_timeout", "max_hold_seconds")
            if k in address.params}


def open_lcus_gate(address: GateAddress, *, lane: str = "", hold_seconds: float | None = None,
                   name: str | None = None, presence: InputSpec = None, limit: InputSpec = None,
                   **kwargs: Any) -> LcusRelayGate:
    """The LCUS gate of a parsed ``lcus://`` address for ``lane``; the worker starts
    at once (connects, forces the relay off).

    ``hold_seconds`` wins over the URL's ``pulse`` (default 0.5 s);
    ``presence`` / ``limit`` callables win over the modem lines the URL names;
    ``kwargs`` go to the gate.
    """
    params = address.params
    pulse = hold_seconds if hold_seconds is not None else address.hold_seconds
    return LcusRelayGate(
        params["port"], lane, channel=params["channel"], baudrate=params["baudrate"],
        pulse_seconds=pulse if pulse is not None else DEFAULT_PULSE_SECONDS,
        presence=presence or params.get("presence"), limit=limit or params.get("limit"),
        name=name or address.url, **_timings(address), **kwargs,
    )


def open_modbus_gate(address: GateAddress, *, lane: str = "", hold_seconds: float | None = None,
                     name: str | None = None, presence: InputSpec = None, limit: InputSpec = None,
                     **kwargs: Any) -> ModbusRelayGate:
    """The Modbus gate of a parsed ``modbus+tcp://`` or ``modbus+rtu://`` address;
    as :func:`open_lcus_gate`, with discrete inputs instead of modem lines."""
    timings = _timings(address)
    connection = {k: v for k, v in address.params.items()
                  if k not in ("presence_input", "limit_input") and k not in timings}
    pulse = hold_seconds if hold_seconds is not None else address.hold_seconds
    return ModbusRelayGate(
        lane, pulse_seconds=pulse if pulse is not None else DEFAULT_PULSE_SECONDS,
        presence_input=address.params.get("presence_input"), limit_input=address.params.get("limit_input"),
        presence=presence, limit=limit, name=name or address.url, **connection, **timings, **kwargs,
    )
