"""Relay boards that drive barrier gates: LCUS-1 USB relays and Modbus relay modules.

Libraries used (not home-made): **pyserial** (``serial.serial_for_url``) for
the LCUS board and for modem-line inputs; **pymodbus** 3.16 (sync
``ModbusTcpClient`` / ``ModbusSerialClient``, ``write_coil``,
``read_discrete_inputs``) for Modbus modules. The timing, forced-off and
confirmation rules live in :class:`hardware.gates.RelayPulseGate`; this module
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

Device URLs inside gate URLs (:func:`split_device_url`): ``lcus:///dev/ttyUSB0``
(a device path), ``lcus://COM3``, or a pyserial URL after the scheme:
``lcus://loop://``, ``lcus://socket://HOST:PORT``, ``lcus://rfc2217://HOST:PORT``
(also written ``lcus:loop://``). Options follow the last ``?``; the pyserial
URL itself takes none.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from attendant.core.errors import InputError

from hardware.base import DeviceError, DeviceState
from hardware.gates import (
    DEFAULT_PULSE_SECONDS,
    MODEM_LINES,
    GateAddress,
    InputSpec,
    RelayOutput,
    RelayPulseGate,
)

__all__ = [
    "LcusRelay",
    "LcusRelayGate",
    "ModbusRelay",
    "ModbusRelayGate",
    "ModemLineInput",
    "lcus_frame",
    "open_relay_gate",
    "split_device_url",
]

_NESTED_SCHEMES = ("loop", "socket", "rfc2217")


def split_device_url(url: str, kind: str) -> tuple[str, str]:
    """Split ``SCHEME://DEVICE?OPTIONS`` into (serial port for pyserial, query).

    The port is a device path (``/dev/ttyUSB0`` from ``scheme:///dev/ttyUSB0``),
    a bare name (``COM3``) or a pyserial URL (``loop://``,
    ``socket://host:port``, ``rfc2217://host:port``). ``kind`` names the
    device in messages ("gate", "scanner").

    :raises InputError: no device, an unsupported nested URL, a fragment.
    """
    scheme, _, rest = url.partition(":")
    where = f"{kind} URL {url!r}"
    if "#" in rest:
        raise InputError(f"{where}: a '#' fragment is not allowed")
    body, _, query = rest.partition("?")
    example = f"{scheme}:///dev/ttyUSB0"
    if body.startswith("///"):
        port = body[2:]
    elif body.startswith("//"):
        inner = body[2:]
        if "://" in inner:
            port = inner
        elif inner and "/" not in inner and ":" not in inner:
            port = inner  # COM3
        else:
            raise InputError(f"{where}: needs a serial device, e.g. {example} or {scheme}://loop://")
    elif "://" in body:
        port = body
    else:
        raise InputError(f"{where}: needs a serial device, e.g. {example}")
    port = unquote(port)
    if "://" in port:
        nested = port.split("://", 1)[0].lower()
        if nested not in _NESTED_SCHEMES:
            raise InputError(f"{where}: {nested}:// is not a supported port; use a device path, loop://, "
                             "socket://HOST:PORT or rfc2217://HOST:PORT")
        if nested == "loop":
            if port.lower() != "loop://":
                raise InputError(f"{where}: loop:// takes no host or path")
        else:
            parts = urlsplit(port)
            try:
                number = parts.port
            except ValueError:
                number = None
            if not parts.hostname or number is None or not 1 <= number <= 65535 or parts.path not in ("", "/"):
                raise InputError(f"{where}: {nested}:// needs HOST:PORT, e.g. {nested}://192.168.1.60:4001")
    elif not port.strip("/") or port.endswith("/"):
        raise InputError(f"{where}: needs a serial device, e.g. {example}")
    return port, query


def _open_serial(port: str, **settings: Any) -> Any:
    import serial  # pyserial

    if "://" not in port:
        settings.setdefault("exclusive", True)  # a second driver on the same port would garble frames
    return serial.serial_for_url(port, **settings)


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
        self._serial = _open_serial(self.port, baudrate=self.baudrate, timeout=0.2,
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
    """A gate on an LCUS relay (see :class:`~hardware.gates.RelayPulseGate`).

    ``presence`` / ``limit``: a callable, or a modem line name (``cts``,
    ``dsr``, ``ri``, ``cd``) of the relay's own port. Other keyword arguments
    go to :class:`~hardware.gates.RelayPulseGate` (``confirm_timeout``,
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
    """A gate on a Modbus relay coil (see :class:`~hardware.gates.RelayPulseGate`).

    Connection keywords are those of :class:`ModbusRelay`;
    ``presence_input`` / ``limit_input`` are discrete input addresses on the
    same module, overridden by ``presence`` / ``limit`` callables. Other
    keyword arguments go to :class:`~hardware.gates.RelayPulseGate`.
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
                self._serial = _open_serial(self._url or "", timeout=0.1)
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


def open_relay_gate(address: GateAddress, *, lane: str = "", pulse_seconds: float = DEFAULT_PULSE_SECONDS,
                    name: str | None = None, presence: InputSpec = None, limit: InputSpec = None,
                    **kwargs: Any) -> RelayPulseGate:
    """The relay gate for a parsed ``lcus://`` or ``modbus+tcp/rtu://`` address.

    Used by :func:`hardware.gates.open_gate`; ``presence`` / ``limit``
    callables win over inputs the URL names; ``kwargs`` go to the gate.
    The worker thread starts at once (connects, forces the relay off).
    """
    params = dict(address.params)
    common = {k: params.pop(k) for k in ("confirm_timeout", "close_timeout", "max_hold_seconds") if k in params}
    common.update(kwargs)
    if address.scheme == "lcus":
        return LcusRelayGate(
            params["port"], lane, channel=params["channel"], baudrate=params["baudrate"],
            pulse_seconds=pulse_seconds, presence=presence or params.get("presence"),
            limit=limit or params.get("limit"), name=name, **common,
        )
    if address.scheme in ("modbus+tcp", "modbus+rtu"):
        connection = {k: v for k, v in params.items() if k not in ("presence_input", "limit_input")}
        return ModbusRelayGate(
            lane, pulse_seconds=pulse_seconds, presence_input=params.get("presence_input"),
            limit_input=params.get("limit_input"), presence=presence, limit=limit, name=name,
            **connection, **common,
        )
    raise InputError(f"gate URL {address.url!r}: {address.scheme}:// is not a relay gate")
