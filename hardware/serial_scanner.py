"""The serial scanner: USB-CDC and RS-232 barcode/QR scanners read through pyserial.

Library used (not home-made): **pyserial** (``serial.serial_for_url``) opens the
port, so a device path (``/dev/ttyACM0``, ``COM3``), a TCP serial server
(``socket://host:port``), an RFC 2217 port server (``rfc2217://host:port``)
and pyserial's ``loop://`` all work the same way.

How a scanner talks (common factory setting of USB-CDC/RS-232 scanners, e.g.
Honeywell, Zebra and Datalogic "serial/USB-COM" mode): each decoded symbol is
sent as ``[prefix] code terminator`` where the terminator is CR, LF or CRLF
and the optional prefix is a configurable byte string (often STX, 0x02).
:class:`SerialScanner` assembles frames from the byte stream and rejects, with
a log line (``logging``, logger ``hardware.scanners``) and a counter:

- ``noise``: a frame with bytes outside printable ASCII (0x20-0x7E) or not
  matching the configured ``allowed`` pattern;
- ``partial``: bytes left without a terminator when no byte came for
  ``frame_timeout`` seconds (half a frame, a cable glitch);
- ``too_long``: more than ``max_length`` characters before a terminator (the
  rest of that frame, up to the next terminator, is dropped too);
- ``prefix``: a frame without the configured prefix.

Stray CR/LF bytes between frames (a scanner sending CRLF to a port set for
CR) are ignored silently.

The reader is one daemon thread per scanner with a stop event and a short
read timeout (0.1 s), so :meth:`SerialScanner.stop` returns within about that
time (join bounded by ``join_timeout``). An I/O error (unplugged USB cable,
TCP peer gone) closes the port, reports ``offline`` and reopens it with a
backoff of 0.5 s doubling up to 10 s; any other exception reports
``faulted`` and is retried the same way. ``on_code`` and ``on_status`` run on
the reader thread: they must be quick and thread-safe.

URLs (:func:`parse_serial_scanner_url`; the scanner scheme table is
:data:`hardware.scanners.SCANNER`)::

    serial:///dev/ttyACM0?baudrate=9600&terminator=CRLF&prefix=%02
    serial://COM3?terminator=CR
    socket://192.168.1.60:4001?terminator=CRLF          (pyserial option: logging)
    rfc2217://192.168.1.60:2217?terminator=LF           (pyserial options: logging,
                                                          ign_set_control, poll_modem, timeout)
    loop://?terminator=CR                               (pyserial's loopback, for tests)

Options (all optional): ``baudrate`` (default 9600, one of
:data:`hardware.urls.BAUDRATES`), ``bytesize`` (5-8, 8),
``parity`` (N/E/O/M/S, N), ``stopbits`` (1, 1.5, 2), ``terminator``
(CR, LF or CRLF; default CR), ``prefix`` (percent-encoded bytes, up to 8,
e.g. ``%02``), ``max_length`` (1-4096 characters, default 128),
``frame_timeout`` (0.05-10 s, default 0.5), ``allowed`` (a regular expression
every code must match in full, on top of printable ASCII).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlunsplit

from attendant.core.errors import InputError

from hardware.base import DeviceError, DeviceState, DeviceStatus, Scanner, error_text, utc_now
from hardware.serial_port import open_serial_port
from hardware.urls import DEFAULT_BAUDRATE, DeviceUrl

__all__ = [
    "REJECT_REASONS",
    "ScannerAddress",
    "SerialScanner",
    "open_serial_scanner",
    "parse_serial_scanner_url",
]

#: Rejected frames and reconnects are logged here (operators filter on it).
log = logging.getLogger("hardware.scanners")

TERMINATORS: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}
REJECT_REASONS = ("noise", "partial", "too_long", "prefix")
PRINTABLE = re.compile(r"[\x20-\x7e]+")
DEFAULT_MAX_LENGTH = 128
DEFAULT_FRAME_TIMEOUT = 0.5
READ_TIMEOUT = 0.1
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 10.0
#: pyserial URL options passed on to the port, by scheme.
_PASSTHROUGH = {"socket": ("logging",), "loop": ("logging",),
                "rfc2217": ("logging", "ign_set_control", "poll_modem", "timeout")}

StatusCallback = Callable[[DeviceStatus], None]
RejectCallback = Callable[[str, bytes], None]


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class ScannerAddress:
    """A parsed serial scanner URL.

    ``port`` is what goes to ``serial.serial_for_url`` (a device path or a
    pyserial URL); ``serial`` holds port settings (``baudrate``, ``bytesize``,
    ``parity``, ``stopbits``); ``frame`` holds framing options for
    :class:`SerialScanner` (``terminator``, ``prefix`` as bytes,
    ``max_length``, ``frame_timeout`` in seconds, ``allowed``).
    """

    url: str
    scheme: str
    port: str
    serial: dict[str, Any] = field(default_factory=dict)
    frame: dict[str, Any] = field(default_factory=dict)


def parse_serial_scanner_url(url: DeviceUrl) -> ScannerAddress:
    """``serial://``, ``socket://``, ``rfc2217://`` or ``loop://`` with the serial
    line, framing and pyserial options (module docstring); no I/O."""
    options = url.options
    passthrough = {key: value for key in _PASSTHROUGH.get(url.scheme, ())
                   if (value := options.take(key)) is not None}
    serial = options.serial_line()
    frame: dict[str, Any] = {}
    terminator = options.choice("terminator", tuple(TERMINATORS))
    if terminator is not None:
        frame["terminator"] = terminator
    prefix = options.raw_bytes("prefix")
    if prefix is not None:
        if not 1 <= len(prefix) <= 8:
            raise url.error("prefix must be 1 to 8 bytes (percent-encoded, e.g. %02)")
        if b"\r" in prefix or b"\n" in prefix:
            raise url.error("prefix must not contain CR or LF")
        frame["prefix"] = prefix
    max_length = options.integer("max_length", 1, 4096)
    if max_length is not None:
        frame["max_length"] = max_length
    frame_timeout = options.number("frame_timeout", 0.05, 10, unit="seconds")
    if frame_timeout is not None:
        frame["frame_timeout"] = frame_timeout
    allowed = options.take("allowed")
    if allowed is not None:
        try:
            re.compile(allowed)
        except re.error as exc:
            raise url.error(f"allowed is not a valid regular expression: {exc}") from None
        frame["allowed"] = allowed

    if url.scheme == "serial":
        port = url.serial_port()
    elif url.scheme == "loop":
        url.no_location()
        port = "loop://"
    else:
        url.host_port()
        port = f"{url.scheme}://{url.parts.netloc}"
    if passthrough:
        port = urlunsplit((url.scheme, url.parts.netloc, "", "&".join(f"{k}={v}" for k, v in passthrough.items()), ""))
    return ScannerAddress(url=url.url, scheme=url.scheme, port=port, serial=serial, frame=frame)


# --------------------------------------------------------------------------- framing


class _Framer:
    """Turns a byte stream into accepted codes and rejections (no I/O, no clock).

    ``feed(data, now)`` and ``tick(now)`` return ``(kind, payload)`` items:
    ``("code", text)`` or ``(reason, raw bytes)`` with reason in
    :data:`REJECT_REASONS`. ``now`` is a monotonic time in seconds.
    """

    def __init__(self, terminator: bytes, prefix: bytes, max_length: int, frame_timeout: float,
                 allowed: re.Pattern[str] | None) -> None:
        self.terminator = terminator
        self.prefix = prefix
        self.max_length = max_length
        self.frame_timeout = frame_timeout
        self.allowed = allowed
        self.buffer = bytearray()
        self.discarding = False
        self.last_byte_at = 0.0
        # Bytes allowed in the buffer before a frame is over-long: prefix,
        # code, and a CR of a CRLF that is still waiting for its LF.
        self.limit = len(prefix) + max_length + len(terminator)

    def reset(self) -> None:
        self.buffer.clear()
        self.discarding = False

    def feed(self, data: bytes, now: float) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        self.last_byte_at = now
        self.buffer += data
        while True:
            index = self.buffer.find(self.terminator)
            if index < 0:
                break
            frame = bytes(self.buffer[:index])
            del self.buffer[: index + len(self.terminator)]
            if self.discarding:
                self.discarding = False  # the tail of an over-long frame ends here
                continue
            item = self._frame(frame)
            if item is not None:
                out.append(item)
        if not self.discarding and len(self.buffer.strip(b"\r\n")) > self.limit:
            out.append(("too_long", bytes(self.buffer)))
            self.buffer.clear()
            self.discarding = True
        elif self.discarding:
            # Keep what could be the start of a split terminator (the CR of a CRLF).
            del self.buffer[: max(0, len(self.buffer) - (len(self.terminator) - 1))]
        return out

    def tick(self, now: float) -> list[tuple[str, Any]]:
        """Reject what is left when no byte came for ``frame_timeout`` seconds."""
        if not (self.buffer or self.discarding) or now - self.last_byte_at < self.frame_timeout:
            return []
        left = bytes(self.buffer)
        was_discarding = self.discarding
        self.reset()
        if was_discarding or not left.strip(b"\r\n"):
            return []  # an over-long frame already counted, or stray CR/LF
        return [("noise" if not PRINTABLE.fullmatch(left.decode("latin-1")) else "partial", left)]

    def _frame(self, frame: bytes) -> tuple[str, Any] | None:
        body = frame.strip(b"\r\n")
        if not body:
            return None  # stray CR/LF between frames
        raw = body
        if self.prefix:
            if not body.startswith(self.prefix):
                return ("prefix", raw)
            body = body[len(self.prefix):]
        if len(body) > self.max_length:
            return ("too_long", raw)
        text = body.decode("latin-1")
        if not PRINTABLE.fullmatch(text) or (self.allowed is not None and not self.allowed.fullmatch(text)):
            return ("noise", raw)
        return ("code", text)


# --------------------------------------------------------------------------- scanner


class SerialScanner(Scanner):
    """A serial (or serial-over-TCP) barcode/QR scanner; see the module docstring.

    - ``url``: anything ``serial.serial_for_url`` opens (``/dev/ttyACM0``,
      ``socket://host:port``, ``rfc2217://host:port``, ``loop://``).
    - ``baudrate`` (and ``serial_options``: bytesize, parity, stopbits) set the port.
    - ``prefix``: bytes every frame starts with (stripped); b"" for none.
    - ``terminator``: ``"CR"``, ``"LF"`` or ``"CRLF"``.
    - ``max_length``: the longest accepted code, in characters.
    - ``allowed``: a regex (text or compiled) each code must match in full, on
      top of printable ASCII.
    - ``frame_timeout``: seconds without a byte after which a frame is partial.
    - ``on_code(code)``, ``on_status(DeviceStatus)``, ``on_reject(reason, raw)``:
      called on the reader thread.
    - ``backoff_initial`` / ``backoff_max``: reconnect delays in seconds
      (0.5 s doubling to 10 s).

    :raises InputError: a bad terminator, length, timeout or pattern.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        baudrate: int = DEFAULT_BAUDRATE,
        prefix: bytes = b"",
        terminator: str = "CR",
        max_length: int = DEFAULT_MAX_LENGTH,
        allowed: str | re.Pattern[str] | None = None,
        frame_timeout: float = DEFAULT_FRAME_TIMEOUT,
        on_code: Callable[[str], None] | None = None,
        on_status: StatusCallback | None = None,
        on_reject: RejectCallback | None = None,
        serial_options: dict[str, Any] | None = None,
        read_timeout: float = READ_TIMEOUT,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
        join_timeout: float = 2.0,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise InputError(f"scanner port must be a device path or pyserial URL, got {url!r}")
        if not isinstance(terminator, str) or terminator.upper() not in TERMINATORS:
            raise InputError(f"scanner terminator must be CR, LF or CRLF, got {terminator!r}")
        if not isinstance(prefix, bytes):
            raise InputError(f"scanner prefix must be bytes, got {prefix!r}")
        if not isinstance(max_length, int) or not 1 <= max_length <= 4096:
            raise InputError(f"scanner max_length must be 1 to 4096 characters, got {max_length!r}")
        for label, value in (("frame_timeout", frame_timeout), ("read_timeout", read_timeout),
                             ("backoff_initial", backoff_initial), ("backoff_max", backoff_max)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise InputError(f"scanner {label} must be more than 0 seconds, got {value!r}")
        if isinstance(allowed, str):
            try:
                allowed = re.compile(allowed)
            except re.error as exc:
                raise InputError(f"scanner allowed pattern is not a valid regular expression: {exc}") from None
        self.url = url
        self.name = name or f"scanner {url}"
        self.terminator = terminator.upper()
        self.settings: dict[str, Any] = {"baudrate": baudrate, **(serial_options or {})}
        self.on_code = on_code
        self.on_status = on_status
        self.on_reject = on_reject
        self.read_timeout = float(read_timeout)
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(max(backoff_max, backoff_initial))
        self.join_timeout = float(join_timeout)
        self._framer = _Framer(TERMINATORS[self.terminator], prefix, max_length, float(frame_timeout), allowed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = DeviceStatus(DeviceState.UNKNOWN, "not started")
        self._accepted = 0
        self._rejected: Counter[str] = Counter()
        self._connects = 0

    # -- Scanner

    def start(self, on_code: Callable[[str], None] | None = None) -> None:
        """Start the reader thread; ``on_code`` (or the constructor's) gets each code.

        :raises InputError: no callback. :raises DeviceError: already running.
        """
        callback = on_code or self.on_code
        if not callable(callback):
            raise InputError(f"{self.name}: start() needs an on_code callback")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise DeviceError(f"{self.name} is already running", device=self.name)
            self.on_code = callback
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._set_status(DeviceState.UNKNOWN, f"connecting to {self.url}")  # before the thread can report
        self._thread.start()

    def stop(self) -> None:
        """Stop reading, close the port and join the thread (at most ``join_timeout`` s)."""
        with self._lock:
            thread = self._thread
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.1f s", self.name, self.join_timeout)
                return
        with self._lock:
            if self._thread is thread:
                self._thread = None
        self._set_status(DeviceState.UNKNOWN, "stopped")

    def status(self) -> DeviceStatus:
        """ok (port open), offline (I/O failure, retrying), faulted, or unknown
        (not started, connecting, stopped). Never does I/O."""
        with self._lock:
            return self._status

    # -- extras

    @property
    def running(self) -> bool:
        """True while the reader thread runs."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    @property
    def accepted(self) -> int:
        """Codes delivered so far."""
        with self._lock:
            return self._accepted

    @property
    def rejected(self) -> dict[str, int]:
        """Rejected frames so far, by reason (noise, partial, too_long, prefix)."""
        with self._lock:
            return {reason: self._rejected[reason] for reason in REJECT_REASONS}

    @property
    def connects(self) -> int:
        """How many times the port was opened (1 + reconnects)."""
        with self._lock:
            return self._connects

    # -- thread

    def _set_status(self, state: DeviceState, message: str) -> None:
        with self._lock:
            if self._status.state == state and self._status.message == message:
                return
            self._status = DeviceStatus(state, message, utc_now())
            status = self._status
        callback = self.on_status
        if callback is not None:
            try:
                callback(status)
            except Exception:  # noqa: BLE001 - a consumer's bug must not kill the reader
                log.exception("on_status of %s failed", self.name)

    def _open(self) -> Any:
        return open_serial_port(self.url, timeout=self.read_timeout, **self.settings)

    def _run(self) -> None:
        import serial  # pyserial

        delay = self.backoff_initial
        while not self._stop.is_set():
            port = None
            opened_at = time.monotonic()
            try:
                port = self._open()
                with self._lock:
                    self._connects += 1
                self._framer.reset()
                self._set_status(DeviceState.OK, f"reading {self.url}")
                opened_at = time.monotonic()
                self._read(port)
                return  # stopped
            except (serial.SerialException, OSError) as exc:
                state, problem = DeviceState.OFFLINE, error_text(exc)
            except Exception as exc:  # noqa: BLE001 - shown as faulted, retried
                log.exception("%s failed", self.name)
                state, problem = DeviceState.FAULTED, error_text(exc)
            finally:
                if port is not None:
                    try:
                        port.close()
                    except Exception:  # noqa: BLE001, S110 - closing a dead port is best effort
                        pass
            if port is not None and time.monotonic() - opened_at > self.backoff_max:
                delay = self.backoff_initial  # it worked for a while: start the backoff afresh
            log.warning("%s: %s; retrying in %.1f s", self.name, problem, delay)
            self._set_status(state, f"{problem}; retrying in {delay:g} s")
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff_max)

    def _read(self, port: Any) -> None:
        framer = self._framer
        while not self._stop.is_set():
            waiting = port.in_waiting
            data = port.read(min(max(waiting, 1), 4096))
            now = time.monotonic()
            items = framer.feed(data, now) if data else framer.tick(now)
            for kind, payload in items:
                if kind == "code":
                    self._deliver(payload)
                else:
                    self._reject(kind, payload)

    def _deliver(self, code: str) -> None:
        with self._lock:
            self._accepted += 1
        callback = self.on_code
        if callback is None:
            return
        try:
            callback(code)
        except Exception:  # noqa: BLE001 - a consumer's bug must not kill the reader
            log.exception("on_code of %s failed on %r", self.name, code)

    def _reject(self, reason: str, raw: bytes) -> None:
        with self._lock:
            self._rejected[reason] += 1
        shown = raw if len(raw) <= 40 else raw[:40] + b"..."
        log.warning("%s rejected a frame (%s): %r", self.name, _REASON_TEXT[reason], shown)
        callback = self.on_reject
        if callback is not None:
            try:
                callback(reason, raw)
            except Exception:  # noqa: BLE001
                log.exception("on_reject of %s failed", self.name)


_REASON_TEXT = {
    "noise": "noise: bytes outside printable ASCII or the allowed pattern",
    "partial": "partial frame: no terminator before the gap",
    "too_long": "over-long frame",
    "prefix": "frame without the configured prefix",
}


def open_serial_scanner(address: ScannerAddress, *, name: str | None = None, **kwargs: Any) -> SerialScanner:
    """A :class:`SerialScanner` for a parsed scanner URL; not started.

    ``kwargs`` go to :class:`SerialScanner` (callbacks, timeouts, backoff) and
    win over the URL's framing options. No I/O happens until
    :meth:`SerialScanner.start`.
    """
    options: dict[str, Any] = {**address.frame, **kwargs}
    serial_options = {k: v for k, v in address.serial.items() if k != "baudrate"}
    options.setdefault("baudrate", address.serial["baudrate"])
    options.setdefault("serial_options", serial_options or None)
    return SerialScanner(address.port, name=name or address.url, **options)
