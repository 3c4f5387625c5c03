"""Count signs: the displays at a level, zone or entrance showing its free bays (or FULL).

A sign is a URL, like every other device (:mod:`hardware.urls`); the sign
kind's scheme table is :data:`SIGN`::

    modbus+tcp://HOST[:502]?unit=1&register=100        a Modbus TCP count display
    modbus+rtu:///dev/ttyUSB0?baudrate=9600&unit=1&register=100   the same on RS-485
    http://HOST[:PORT]/PATH   https://...              a JSON push to a sign controller
    standin://                                         an in-memory sign (demo, tests)

What a sign is told is a :class:`SignReading`: the sign's name and scope,
the free bays (a whole number, never negative), whether the scope is FULL
(free reached zero) and ``as_of``, the UTC time the count was taken. The
sign is information only: a FULL sign never stops a lane (pass holders are
still admitted, as the lane rule says).

**Modbus** (library: pymodbus 3.16, the sync ``ModbusTcpClient`` /
``ModbusSerialClient``). The free count goes to the holding register
``register`` (0-based PDU address, default 0) with function 06 *write
single register* (Modbus Application Protocol v1.1b3 §6.6), clamped to a
16-bit register's 0-65535. Car-park count displays are numeric displays of
one register; the common way they show FULL is their own configured text
when the count is 0 (Carlo Gavazzi CarPark CP3 manual, "Carpark displays":
a user-defined text for the occupied situation; most LED count displays
offer the same "text at zero" setting), so by default a FULL scope just
writes 0. For displays that take FULL separately, the URL adds one of:

- ``full_register=N``: a second holding register written 1 when FULL, 0
  otherwise (the same write, function 16, when it follows ``register``);
- ``full_coil=N``: a coil switched on when FULL (function 05), e.g. a relay
  lighting a "FULL" lamp;
- ``full_value=V``: the value written to ``register`` instead of the count
  when FULL (a display showing its FULL text for a code such as 65535).

Other options: ``unit`` (device id 0-247, default 1), ``timeout`` (each
request, seconds, default 1), and on RTU the serial line (``baudrate``,
``bytesize``, ``parity``, ``stopbits``; MODBUS over Serial Line V1.02 §2.5).

**HTTP** (library: httpx). Each update is ``POST URL`` with the JSON body
``{"sign": "L0", "scope": "level:L0", "free": 12, "full": false, "as_of":
"2026-12-05T09:30:00Z"}``; any 2xx answer is success, anything else (or no
answer within ``timeout`` seconds, default 2) a fault. ``token=SECRET``
sends ``Authorization: Bearer SECRET`` (never shown in messages). The URL's
own query is not forwarded: its options are these.

Every scheme also takes ``refresh`` (seconds, default 60, 0 for never): the
last reading is sent again that often, so a sign that rebooted shows the
count within that time.

:class:`SignLink` drives one sign on its own thread: :meth:`SignLink.update`
never blocks, a burst of changes is coalesced into at most one write per
``min_interval`` (0.25 s: four writes a second), and a failing write leaves
the sign faulted in :meth:`SignLink.status` and is retried with a back-off
(0.5 s doubling to 30 s) until it succeeds. Nothing a sign does raises into
its caller.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from attendant.core.errors import InputError
from hardware.base import DeviceError, DeviceState, DeviceStatus, error_text, utc_now
from hardware.urls import DeviceKind, DeviceUrl, Scheme, redact
from hardware.writer import DeviceWriter

__all__ = [
    "SIGN",
    "CountSign",
    "HttpCountSign",
    "ModbusCountSign",
    "SignAddress",
    "SignLink",
    "SignReading",
    "StandinCountSign",
    "open_sign",
    "parse_sign_url",
]

log = logging.getLogger(__name__)

#: Default seconds between two sends of an unchanged reading (a rebooted sign shows the count again).
DEFAULT_REFRESH_S = 60.0
#: Default shortest time between two writes to one sign (a burst of entries: at most 4 writes a second).
MIN_INTERVAL_S = 0.25
#: Back-off after a failed write: first wait, and the longest.
BACKOFF_S = (0.5, 30.0)
REGISTER_MAX = 0xFFFF


@dataclass(frozen=True)
class SignReading:
    """What one sign shows: ``free`` bays (>= 0) of ``scope``, ``full`` (free is 0), ``as_of`` (aware, UTC).

    :raises InputError: a negative or non-integer count, a naive time.
    """

    sign: str
    scope: str
    free: int
    as_of: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if isinstance(self.free, bool) or not isinstance(self.free, int) or self.free < 0:
            raise InputError(f"a sign's free count must be a whole number, 0 or more, got {self.free!r}")
        if self.as_of.tzinfo is None or self.as_of.utcoffset() is None:
            raise InputError(f"as_of must be a timezone-aware datetime, got {self.as_of!r}")

    @property
    def full(self) -> bool:
        """True when no bay of the scope is free: the sign shows FULL."""
        return self.free == 0

    @property
    def text(self) -> str:
        """What the face shows: ``"12"`` or ``"FULL"``."""
        return "FULL" if self.full else str(self.free)

    def to_json_dict(self) -> dict[str, Any]:
        """The HTTP push body: ``sign``, ``scope``, ``free``, ``full``, ``as_of`` (ISO 8601 UTC, ``Z``)."""
        as_of = self.as_of.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return {"sign": self.sign, "scope": self.scope, "free": self.free, "full": self.full, "as_of": as_of}


class CountSign(ABC):
    """One count display's link: :meth:`show` writes a reading (blocking, bounded by the driver's timeout)."""

    name: str
    description: str

    @abstractmethod
    def show(self, reading: SignReading) -> None:
        """Put ``reading`` on the sign. :raises DeviceError: the sign did not take it."""

    def close(self) -> None:
        """Release the link (a later :meth:`show` connects again)."""


# --------------------------------------------------------------------------- drivers


class StandinCountSign(CountSign):
    """An in-memory sign: keeps the last :data:`KEEP` readings it was shown (``readings``, oldest first)
    and its face (``text``).

    ``broken`` (settable, e.g. by a test or the demo) makes :meth:`show` fail
    as a sign that is down would.
    """

    KEEP = 1000

    def __init__(self, name: str = "standin") -> None:
        self.name = name
        self.description = f"stand-in sign {name}"
        self.readings: deque[SignReading] = deque(maxlen=self.KEEP)
        self.broken = False
        self._lock = threading.Lock()

    @property
    def text(self) -> str:
        """The face: the last reading's text, ``""`` before the first."""
        with self._lock:
            return self.readings[-1].text if self.readings else ""

    def show(self, reading: SignReading) -> None:
        if self.broken:
            raise DeviceError(f"{self.description} is not answering", state=DeviceState.OFFLINE)
        with self._lock:
            self.readings.append(reading)


class ModbusCountSign(CountSign):
    """A Modbus count display over TCP (``host``, ``port``) or RTU (``device`` and its serial line).

    See the module docstring for ``register``, ``full_register``,
    ``full_coil``, ``full_value``; ``unit`` is the device id, ``timeout``
    each request's limit in seconds. Connects on the first write and again
    after any failure.
    """

    def __init__(self, name: str = "", *, mode: str = "tcp", host: str | None = None, port: int = 502,
                 device: str | None = None, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                 stopbits: int = 1, unit: int = 1, register: int = 0, full_register: int | None = None,
                 full_coil: int | None = None, full_value: int | None = None, timeout: float = 1.0) -> None:
        if mode not in ("tcp", "rtu"):
            raise InputError(f"Modbus mode must be tcp or rtu, got {mode!r}")
        if (mode == "tcp" and not host) or (mode == "rtu" and not device):
            raise InputError("a Modbus TCP sign needs a host; an RTU sign a serial device")
        self.mode, self.host, self.port, self.device = mode, host, port, device
        self.serial_settings = {"baudrate": baudrate, "bytesize": bytesize, "parity": parity, "stopbits": stopbits}
        self.unit, self.register, self.timeout = unit, register, timeout
        self.full_register, self.full_coil, self.full_value = full_register, full_coil, full_value
        target = f"{host}:{port}" if mode == "tcp" else device
        self.name = name or f"modbus {target}"
        self.description = f"Modbus sign {target} unit {unit} register {register}"
        self._client: Any = None

    def _connect(self) -> Any:
        from pymodbus.client import ModbusSerialClient, ModbusTcpClient

        if self.mode == "tcp":
            client = ModbusTcpClient(self.host, port=self.port, timeout=self.timeout, retries=0)
        else:
            client = ModbusSerialClient(self.device, timeout=self.timeout, retries=0, **self.serial_settings)
        if not client.connect():
            client.close()
            raise DeviceError(f"no connection to {self.description}", state=DeviceState.OFFLINE)
        return client

    def _check(self, response: Any, what: str) -> None:
        if response is None or response.isError():
            raise DeviceError(f"{self.description} refused the {what}: {response}")

    def show(self, reading: SignReading) -> None:
        value = min(reading.free, REGISTER_MAX)
        if reading.full and self.full_value is not None:
            value = self.full_value
        try:
            if self._client is None:
                self._client = self._connect()
            client = self._client
            if self.full_register == self.register + 1:  # count and FULL flag in one write (function 16)
                self._check(client.write_registers(self.register, [value, int(reading.full)], device_id=self.unit),
                            "register write")
            else:
                self._check(client.write_register(self.register, value, device_id=self.unit), "register write")
                if self.full_register is not None:
                    self._check(client.write_register(self.full_register, int(reading.full), device_id=self.unit),
                                "FULL register write")
            if self.full_coil is not None:
                self._check(client.write_coil(self.full_coil, reading.full, device_id=self.unit), "FULL coil write")
        except DeviceError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise DeviceError(f"{self.description}: {error_text(exc)}", state=DeviceState.OFFLINE) from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead link is best effort
                pass


class HttpCountSign(CountSign):
    """A sign controller taking JSON pushes: ``POST url`` with :meth:`SignReading.to_json_dict`.

    ``token`` (optional) is sent as ``Authorization: Bearer``; ``timeout``
    bounds the whole request (seconds). One pooled httpx client per sign.
    """

    def __init__(self, url: str, name: str = "", *, token: str | None = None, timeout: float = 2.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self.name = name or url
        self.description = f"HTTP sign {redact(url)}"
        self._client: Any = None
        self._lock = threading.Lock()

    def show(self, reading: SignReading) -> None:
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
                self._client = httpx.Client(timeout=self.timeout, headers=headers, follow_redirects=False)
            client = self._client
        try:
            response = client.post(self.url, json=reading.to_json_dict())
        except httpx.HTTPError as exc:
            self.close()
            raise DeviceError(f"{self.description}: {error_text(exc)}", state=DeviceState.OFFLINE) from exc
        if not response.is_success:
            raise DeviceError(f"{self.description} answered {response.status_code} {response.reason_phrase}")

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


# --------------------------------------------------------------------------- the link


class SignLink(DeviceWriter):
    """Drives one :class:`CountSign` on its own thread (module docstring: debounce, refresh, back-off;
    the thread, health and back-off are :class:`hardware.writer.DeviceWriter`'s).

    ``update(reading)`` records what the sign should show and returns at
    once; ``status()`` (never I/O) is OK with the face shown, UNKNOWN before
    the first write, FAULTED with the driver's message while writes fail.
    ``min_interval``, ``refresh`` (None or 0: never) and ``backoff`` (first,
    longest) are in seconds.
    """

    def __init__(self, sign: CountSign, *, name: str | None = None, min_interval: float = MIN_INTERVAL_S,
                 refresh: float | None = DEFAULT_REFRESH_S, backoff: tuple[float, float] = BACKOFF_S,
                 clock=time.monotonic) -> None:
        name = name or sign.name
        super().__init__(name=name, backoff=backoff, clock=clock, thread_name=f"sign {name}",
                         status=DeviceStatus(DeviceState.UNKNOWN, f"sign {name}: waiting for the first count"))
        self.sign = sign
        self.min_interval = min_interval
        self.refresh = refresh or None
        self._wanted: SignReading | None = None
        self._shown: SignReading | None = None
        self._last_try = float("-inf")
        self._last_ok = float("-inf")
        self._start()

    @property
    def wanted(self) -> SignReading | None:
        """The latest reading asked for."""
        with self._cond:
            return self._wanted

    @property
    def shown(self) -> SignReading | None:
        """The last reading the sign took (None before the first)."""
        with self._cond:
            return self._shown

    def update(self, reading: SignReading) -> None:
        """Ask the sign to show ``reading`` (the newest wins; never blocks, never raises)."""
        with self._cond:
            if self._closed:
                return
            self._wanted = reading
            self._cond.notify()

    def wait_shown(self, predicate, timeout: float) -> bool:
        """Wait up to ``timeout`` s until ``predicate(shown reading)`` holds (for ``attendant signs test``)."""
        return self._wait_until(lambda: self._shown is not None and predicate(self._shown), timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (a write under way finishes, bounded by the driver's timeout) and close the link."""
        self._shut(timeout)

    def _due(self, now: float) -> float | None:
        """When the next write is due (monotonic), None: nothing to write. Caller holds the lock."""
        wanted, shown = self._wanted, self._shown
        if wanted is None:
            return None
        if self._retry_at is not None:
            return self._retry_at
        if shown is None or (wanted.free, wanted.scope) != (shown.free, shown.scope):
            return self._last_try + self.min_interval
        if self.refresh is not None:
            return self._last_ok + self.refresh
        return None

    def _take(self, now: float) -> tuple[SignReading | None, float | None]:
        due = self._due(now)
        if due is not None and due <= now:
            self._last_try = now
            return self._wanted, None
        return None, due

    def _write(self, job: SignReading) -> None:
        self.sign.show(job)

    def _written(self, job: SignReading, result: None) -> str:
        self._reset_backoff()
        self._shown = job
        self._last_ok = self.clock()
        return f"sign {self.name}: shows {job.text}"

    def _fault_message(self, problem: str, wait: float) -> str:
        return f"sign {self.name}: {problem} (retry in {wait:g} s)"

    def _release(self) -> None:
        self.sign.close()


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class SignAddress:
    """A parsed sign URL: ``scheme``, the driver's ``params`` and ``refresh`` (seconds, None: never)."""

    url: str
    scheme: str
    params: dict[str, Any]
    refresh: float | None = DEFAULT_REFRESH_S


def _refresh(url: DeviceUrl) -> float | None:
    value = url.options.number("refresh", 0, 86_400, DEFAULT_REFRESH_S, unit="seconds")
    return value or None


def parse_standin_sign_url(url: DeviceUrl) -> SignAddress:
    """``standin://`` (no host, path or option but ``refresh``)."""
    url.no_location()
    return SignAddress(url.url, url.scheme, {}, _refresh(url))


def _modbus(url: DeviceUrl, params: dict[str, Any]) -> SignAddress:
    options = url.options
    params["unit"] = options.integer("unit", 0, 247, 1)
    params["register"] = options.integer("register", 0, REGISTER_MAX, 0)
    for key in ("full_register", "full_coil", "full_value"):
        value = options.integer(key, 0, REGISTER_MAX)
        if value is not None:
            params[key] = value
    if params.get("full_register") == params["register"]:
        raise url.error("full_register must differ from register")
    params["timeout"] = options.number("timeout", 0, 60, 1.0, unit="seconds", above=True)
    return SignAddress(url.url, url.scheme, params, _refresh(url))


def parse_modbus_tcp_sign_url(url: DeviceUrl) -> SignAddress:
    """``modbus+tcp://HOST[:502]`` and the Modbus sign options (module docstring)."""
    host, port = url.host_port(default=502)
    return _modbus(url, {"mode": "tcp", "host": host, "port": port})


def parse_modbus_rtu_sign_url(url: DeviceUrl) -> SignAddress:
    """``modbus+rtu:///dev/ttyUSB0`` (or a nested pyserial URL), its serial line and the Modbus options."""
    device = url.serial_port()
    line = url.options.serial_line(bytesizes=(7, 8), parities=("N", "E", "O"), stopbits=("1", "2"))
    return _modbus(url, {"mode": "rtu", "device": device, **line})


def parse_http_sign_url(url: DeviceUrl) -> SignAddress:
    """``http(s)://HOST[:PORT]/PATH`` with ``timeout`` (seconds, default 2) and ``token``."""
    host, port = url.host_port(default=443 if url.scheme == "https" else 80, path=True)
    options = url.options
    params: dict[str, Any] = {
        "token": options.text("token"),
        "timeout": options.number("timeout", 0, 60, 2.0, unit="seconds", above=True),
    }
    netloc = f"[{host}]" if ":" in host else host
    params["url"] = f"{url.scheme}://{netloc}:{port}{url.parts.path or '/'}"
    return SignAddress(url.url, url.scheme, params, _refresh(url))


def _open_standin(address: SignAddress, *, name: str = "") -> StandinCountSign:
    return StandinCountSign(name or "standin")


def _open_modbus(address: SignAddress, *, name: str = "") -> ModbusCountSign:
    return ModbusCountSign(name, **address.params)


def _open_http(address: SignAddress, *, name: str = "") -> HttpCountSign:
    params = dict(address.params)
    return HttpCountSign(params.pop("url"), name, **params)


#: The sign kind: every count-sign URL scheme with its parser and opener.
SIGN = DeviceKind("sign", (
    Scheme("standin", parse_standin_sign_url, _open_standin, "standin://", stand_in=True),
    Scheme("modbus+tcp", parse_modbus_tcp_sign_url, _open_modbus, "modbus+tcp://192.168.1.80:502?unit=1&register=100"),
    Scheme("modbus+rtu", parse_modbus_rtu_sign_url, _open_modbus,
           "modbus+rtu:///dev/ttyUSB0?baudrate=9600&unit=1&register=100"),
    Scheme("http", parse_http_sign_url, _open_http, "http://192.168.1.81/count"),
    Scheme("https", parse_http_sign_url, _open_http, "https://signs.example.net/count"),
))


def parse_sign_url(url: str) -> SignAddress:
    """Check a sign URL without I/O. :raises InputError: the message quotes the URL and names the option."""
    address: SignAddress = SIGN.parse(url)
    return address


def open_sign(url: str, *, name: str = "", min_interval: float = MIN_INTERVAL_S,
              backoff: tuple[float, float] = BACKOFF_S) -> SignLink:
    """The :class:`SignLink` driving the sign at ``url`` as ``name`` (its thread started; no I/O until the
    first :meth:`SignLink.update`). :raises InputError: a malformed URL."""
    scheme, located = SIGN.locate(url)
    address = scheme.parse(located)
    located.options.done()
    sign = scheme.open(address, name=name)
    return SignLink(sign, name=name or sign.name, min_interval=min_interval, refresh=address.refresh,
                    backoff=backoff)
