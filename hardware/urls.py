"""Device URLs: the scheme registry's types and the one option parser every device uses.

A lane names each of its devices by a URL (``tcp://192.168.1.50:9100``,
``lcus:///dev/ttyUSB0?pulse=0.5``, ``standin://``). What all those URLs share
lives here, so a printer, a scanner, a gate and a camera URL are read the
same way and fail with the same wording:

- :class:`Scheme` and :class:`DeviceKind`: the registry. A kind (printer,
  gate, scanner, camera) is a table of schemes; each scheme has a parser
  (syntax only, no I/O) that turns the URL into the driver's address, an
  opener that builds the device from that address, a documented example URL
  and a ``stand_in`` capability flag. The tables themselves are in
  :mod:`hardware.printers`, :mod:`hardware.gates`, :mod:`hardware.scanners`,
  :mod:`hardware.cameras` and :mod:`hardware.displays` (customer displays);
  :mod:`hardware.devices` gathers them. Count
  signs (not lane devices) have theirs in :mod:`hardware.signs`.
- :class:`DeviceUrl`: one URL being parsed, with the location helpers the
  schemes share (host and port, a serial port, a local path, nothing).
- :class:`UrlOptions`: the query (``?a=1&b=yes``), read option by option as
  whole numbers or numbers in a range, yes/no, one of a few choices, text,
  bytes or IP networks. An option no parser asked for is refused by name.
- :data:`BAUDRATES`: the one list of serial rates printers, scanners and
  relay boards accept.
- :func:`split_device_url`: the serial port inside ``SCHEME://DEVICE`` URLs,
  including nested pyserial URLs (``lcus://socket://host:port``).

Every error is an :class:`~attendant.core.errors.InputError` whose message
starts with the kind and the URL and names the option, e.g.
``gate URL 'lcus:///dev/ttyUSB0?pulse=0': pulse must be between 0 and 600
seconds, got 0``. A password in a URL is never shown (``rtsp://***@host/``),
nor the value of a secret option (:data:`SECRET_OPTIONS`: ``?token=***``).

Query syntax: ``application/x-www-form-urlencoded`` as read by the standard
library's :func:`urllib.parse.parse_qsl` (strict: every field needs ``=``);
option names are case-insensitive and may be given once.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from attendant.core.errors import InputError

__all__ = [
    "BAUDRATES",
    "DeviceKind",
    "DeviceUrl",
    "Scheme",
    "SECRET_OPTIONS",
    "UrlOptions",
    "parse_networks",
    "redact",
    "split_device_url",
]

#: Serial rates (bits per second) every device URL accepts in ``baudrate=``:
#: the union of the lists the printer, scanner and gate drivers used to keep
#: apart. All are standard rates of pyserial's ``Serial.BAUDRATES``: the
#: classic 1200-115200 series that printers, scanners and relay boards offer,
#: and 230400, 460800 and 921600 for USB-CDC scanners and fast adapters.
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
DEFAULT_BAUDRATE = 9600
#: pyserial parity letters: none, even, odd, mark, space.
PARITIES = ("N", "E", "O", "M", "S")
#: pyserial stop bits.
STOPBITS = ("1", "1.5", "2")
#: Nested pyserial URLs a serial device URL may carry (``lcus://socket://host:port``).
NESTED_SCHEMES = ("loop", "socket", "rfc2217")

#: Query options whose values are secrets: :func:`redact` shows them as ``***``.
SECRET_OPTIONS = ("token", "password", "secret")
_SECRET_VALUE = re.compile(r"([?&](?:" + "|".join(SECRET_OPTIONS) + r")=)[^&#]*", re.IGNORECASE)

_TRUE = ("yes", "true", "1", "on")
_FALSE = ("no", "false", "0", "off")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def redact(url: str) -> str:
    """``url`` with any ``user:password@`` shown as ``***@`` and the values of
    :data:`SECRET_OPTIONS` (``?token=...``) as ``***`` (for messages and logs)."""
    url = _SECRET_VALUE.sub(r"\1***", url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rsplit('@', 1)[1]}{slash}{tail}"


def parse_networks(items: Iterable[object]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """IP networks from addresses (``192.168.1.50``, ``::1``, ``[fe80::1]``) or
    networks (``192.168.1.0/24``; host bits are allowed and dropped), read by
    :mod:`ipaddress`; network objects pass through; blank items are skipped.

    :raises ValueError: an item that is neither (the message names it).
    """
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for item in items:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            networks.append(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text.replace("[", "").replace("]", ""), strict=False))
        except ValueError:
            example = "e.g. 192.168.1.50 or 192.168.1.0/24"
            raise ValueError(f"{text!r} is not an IP address or network ({example})") from None
    return tuple(networks)


def or_list(choices: Sequence[object]) -> str:
    """``"CR, LF or CRLF"``: choices as a sentence fragment."""
    words = [str(choice) for choice in choices]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


class UrlOptions:
    """The query options of one device URL, taken one by one with checks.

    Every getter removes its option and returns the checked value, or
    ``default`` when the option is absent; :meth:`done` then refuses any option
    no getter took and lists the ones that were asked for. Values are text
    decoded as UTF-8; :meth:`raw_bytes` gives the bytes a value
    percent-encodes (``%02`` -> ``b"\\x02"``).

    :raises InputError: a malformed query or an option given twice (on
        construction); a bad value (from the getters); the message names the
        kind, the URL and the option.
    """

    def __init__(self, kind: str, url: str, scheme: str, query: str) -> None:
        self.kind = kind
        self.url = url
        self.scheme = scheme
        self._asked: list[str] = []
        self._values: dict[str, str] = {}
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query), errors="surrogateescape")
        except ValueError:
            raise self.error(f"malformed query {query!r}") from None
        for key, value in pairs:
            key = key.lower()
            if key in self._values:
                raise self.error(f"option {key!r} is given twice")
            self._values[key] = value

    def error(self, message: str) -> InputError:
        """An InputError ``"<kind> URL '<url>': <message>"``, the URL without its password."""
        return InputError(f"{self.kind} URL {redact(self.url)!r}: {message}")

    def has(self, name: str) -> bool:
        """True when the query gives ``name`` (not yet taken)."""
        return name in self._values

    def take(self, name: str) -> str | None:
        """The raw text of ``name`` (None when absent), removed from the query."""
        if name not in self._asked:
            self._asked.append(name)
        return self._values.pop(name, None)

    def rest(self) -> dict[str, str]:
        """Every option not taken yet (for drivers that pass a query on untouched)."""
        rest, self._values = self._values, {}
        return rest

    def text(self, name: str, default: str | None = None) -> str | None:
        """Non-empty text (stripped)."""
        value = self.take(name)
        if value is None:
            return default
        if not value.strip():
            raise self.error(f"{name} is empty")
        return value.strip()

    def raw_bytes(self, name: str) -> bytes | None:
        """The bytes the value percent-encodes, unstripped (``prefix=%02``)."""
        value = self.take(name)
        return None if value is None else value.encode("utf-8", "surrogateescape")

    def integer(self, name: str, low: int, high: int, default: int | None = None, *, base: int = 10) -> int | None:
        """A whole number in ``low..high`` (``base=16``: hex, ``0x`` allowed)."""
        value = self.take(name)
        if value is None:
            return default
        try:
            number = int(value, base)
        except ValueError:
            raise self.error(f"{name} must be {'a hex' if base == 16 else 'a whole'} number, got {value!r}") from None
        if not low <= number <= high:
            raise self.error(f"{name} must be between {low} and {high}, got {number}")
        return number

    def number(self, name: str, low: float, high: float, default: float | None = None, *, unit: str = "",
               above: bool = False) -> float | None:
        """A number in ``low..high`` (``above``: more than ``low``); ``unit`` ("seconds") goes into messages."""
        value = self.take(name)
        if value is None:
            return default
        units = f" {unit}" if unit else ""
        try:
            number = float(value)
        except ValueError:
            raise self.error(f"{name} must be a number{' of ' + unit if unit else ''}, got {value!r}") from None
        if not (low < number if above else low <= number) or not number <= high:
            raise self.error(f"{name} must be between {low:g} and {high:g}{units}, got {value}")
        return number

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        """yes/no (also true/false, 1/0, on/off; any case)."""
        value = self.take(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise self.error(f"{name} must be yes or no, got {value!r}")

    def choice(self, name: str, choices: Sequence[str], default: str | None = None) -> str | None:
        """One of ``choices`` (any case); returns it as written in ``choices``."""
        value = self.take(name)
        if value is None:
            return default
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
        raise self.error(f"{name} must be {or_list(choices)}, got {value!r}")

    def networks(self, name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
        """Comma-separated IP addresses or networks (``192.168.1.50,10.0.0.0/24``;
        see :func:`parse_networks`); None when absent."""
        value = self.take(name)
        if value is None:
            return None
        try:
            networks = parse_networks(value.split(","))
        except ValueError as error:
            raise self.error(f"{name}: {error}") from None
        if not networks:
            raise self.error(f"{name} is empty")
        return networks

    def baudrate(self, default: int = DEFAULT_BAUDRATE) -> int:
        """``baudrate``: one of :data:`BAUDRATES`."""
        value = self.take("baudrate")
        if value is None:
            return default
        try:
            rate = int(value)
        except ValueError:
            raise self.error(f"baudrate must be a whole number, got {value!r}") from None
        if rate not in BAUDRATES:
            raise self.error(f"baudrate {rate} is not a standard rate; use one of {', '.join(map(str, BAUDRATES))}")
        return rate

    def serial_line(self, *, bytesizes: tuple[int, int] = (5, 8), parities: Sequence[str] = PARITIES,
                    stopbits: Sequence[str] = STOPBITS) -> dict[str, Any]:
        """``baudrate``, ``bytesize``, ``parity``, ``stopbits`` as pyserial takes them
        (default 9600 8N1); a protocol narrows the ranges (Modbus RTU: 7-8 bits, N/E/O)."""
        line: dict[str, Any] = {
            "baudrate": self.baudrate(),
            "bytesize": self.integer("bytesize", bytesizes[0], bytesizes[1], 8),
            "parity": self.choice("parity", parities, "N"),
        }
        stop = self.choice("stopbits", stopbits, "1")
        line["stopbits"] = 1.5 if stop == "1.5" else int(stop or "1")
        return line

    def done(self) -> None:
        """:raises InputError: an option no getter took (unknown for this scheme)."""
        if not self._values:
            return
        unknown = sorted(self._values)[0]
        if not self._asked:
            raise self.error(f"unknown option {unknown!r}; {self.scheme}:// takes no options")
        raise self.error(f"unknown option {unknown!r} for {self.scheme}://; expected one of {', '.join(self._asked)}")


class DeviceUrl:
    """One device URL being parsed by its scheme's parser.

    ``kind`` ("printer"...), ``url`` (stripped), ``scheme`` (lower case),
    ``example`` (the scheme's documented URL, for messages), ``parts`` (from
    :func:`urllib.parse.urlsplit`) and ``options`` (the query, a
    :class:`UrlOptions`).
    """

    def __init__(self, kind: str, url: str, scheme: str, example: str) -> None:
        self.kind = kind
        self.url = url
        self.scheme = scheme
        self.example = example
        try:
            self.parts: SplitResult = urlsplit(url)
        except ValueError as error:  # e.g. an unclosed [IPv6 address
            raise InputError(f"{kind} URL {redact(url)!r} is not a valid URL: {error}") from None
        self.options = UrlOptions(kind, url, scheme, self.parts.query)

    def __repr__(self) -> str:
        return f"DeviceUrl({self.kind!r}, {self.shown!r})"

    @property
    def shown(self) -> str:
        """The URL as messages show it (no password)."""
        return redact(self.url)

    def error(self, message: str) -> InputError:
        """An InputError ``"<kind> URL '<url>': <message>"``."""
        return self.options.error(message)

    def no_location(self) -> None:
        """:raises InputError: the URL names a host or a path (``standin://gate1``)."""
        if self.parts.netloc or self.parts.path not in ("", "/"):
            raise self.error(f"{self.scheme}:// takes no host or path")

    def host_port(self, *, default: int | None = None, lowest: int = 1, path: bool = False) -> tuple[str, int]:
        """``(host, port)`` of ``scheme://HOST[:PORT]`` (IPv6 in brackets).

        ``default``: the port when none is given (None: a port is required);
        ``lowest``: the smallest port accepted (0 lets a listener pick one);
        ``path``: whether a path may follow (else refused).
        """
        parts = self.parts
        if parts.username is not None or parts.password is not None:
            raise self.error(f"{self.scheme}:// takes no user or password")
        if not parts.hostname:
            raise self.error(f"{self.scheme}:// needs a host, e.g. {self.example}")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if port is None:
            if default is None:
                raise self.error(f"{self.scheme}:// needs a port, e.g. {self.example}")
            port = default
        if not lowest <= port <= 65535:
            raise self.error(f"the port must be a number between {lowest} and 65535")
        if not path and parts.path not in ("", "/"):
            raise self.error(f"{self.scheme}:// takes no path")
        return parts.hostname, port

    def serial_port(self, *, nested: bool = True) -> str:
        """The serial port of ``scheme:///dev/ttyUSB0``, ``scheme://COM3`` or (``nested``)
        ``scheme://socket://HOST:PORT``; see :func:`split_device_url`."""
        port = split_device_url(self.url, self.kind)[0]
        if not nested and "://" in port:
            raise self.error(f"{self.scheme}:// takes a device path such as /dev/ttyUSB0, not {port}")
        return port

    def local_path(self) -> str:
        """The absolute path of ``file:///path`` (percent-decoded)."""
        if self.parts.netloc not in ("", "localhost"):
            raise self.error(f"{self.scheme}:// needs an absolute path, e.g. {self.example}")
        path = unquote(self.parts.path)
        if not path.startswith("/"):
            raise self.error(f"{self.scheme}:// needs an absolute path, e.g. {self.example}")
        return path


def split_device_url(url: str, kind: str) -> tuple[str, str]:
    """Split ``SCHEME://DEVICE?OPTIONS`` into (serial port for pyserial, query).

    The port is a device path (``/dev/ttyUSB0`` from ``scheme:///dev/ttyUSB0``),
    a bare name (``COM3``) or a pyserial URL (``loop://``,
    ``socket://host:port``, ``rfc2217://host:port``; also written
    ``scheme:loop://``). Options follow the first ``?``; the nested pyserial
    URL itself takes none. ``kind`` names the device in messages ("gate",
    "scanner").

    :raises InputError: no device, an unsupported nested URL, a fragment.
    """
    scheme, _, rest = url.partition(":")
    where = f"{kind} URL {redact(url)!r}"
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
        if nested not in NESTED_SCHEMES:
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


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Scheme:
    """One URL scheme of a device kind: a registry entry.

    - ``name``: the scheme, lower case (``"modbus+tcp"``).
    - ``parse(DeviceUrl) -> address``: checks the URL's syntax and options
      (no I/O) and returns what the opener needs; options it does not take
      are refused afterwards by :meth:`UrlOptions.done`.
    - ``open(address, **context) -> device``: builds the device (no blocking
      I/O); ``context`` is the kind's (e.g. ``lane``, ``name``).
    - ``example``: a documented URL of this scheme (it must parse).
    - ``stand_in``: an in-memory device for the demo and tests, no hardware.
    """

    name: str
    parse: Callable[[DeviceUrl], Any]
    open: Callable[..., Any]
    example: str
    stand_in: bool = False


class DeviceKind:
    """The schemes one kind of device accepts (``DeviceKind("gate", [...])``).

    :meth:`parse` checks a URL (syntax only) and returns the scheme's address;
    :meth:`open` parses and builds the device. Both refuse an empty URL, one
    without a scheme, an unknown scheme (listing this kind's schemes, with a
    "did you mean" for near misses), a ``#`` fragment and unknown options.

    :raises ValueError: (construction) a scheme listed twice or an example
        that is not of its scheme; a programming error, not input.
    """

    def __init__(self, name: str, schemes: Iterable[Scheme]) -> None:
        table: dict[str, Scheme] = {}
        for scheme in schemes:
            if scheme.name in table:
                raise ValueError(f"{name} scheme {scheme.name!r} is registered twice")
            if scheme.name != scheme.name.lower() or not scheme.example.startswith(scheme.name + ":"):
                raise ValueError(f"{name} scheme {scheme.name!r} needs a lower-case name and an example of it")
            table[scheme.name] = scheme
        self.name = name
        self.schemes: Mapping[str, Scheme] = MappingProxyType(table)

    def __repr__(self) -> str:
        return f"DeviceKind({self.name!r}, {list(self.schemes)})"

    @property
    def names(self) -> tuple[str, ...]:
        """The scheme names, in registry order."""
        return tuple(self.schemes)

    @property
    def stand_in_names(self) -> tuple[str, ...]:
        """The schemes of in-memory stand-ins (``sim``, ``standin``...)."""
        return tuple(name for name, scheme in self.schemes.items() if scheme.stand_in)

    def choices(self) -> str:
        """``"sim://, standin://, lcus://, ..."``: what "use one of" lists."""
        return ", ".join(f"{name}://" for name in self.schemes)

    def locate(self, url: object) -> tuple[Scheme, DeviceUrl]:
        """The scheme of ``url`` and the URL ready for its parser.

        :raises InputError: not text, empty, no scheme, an unknown scheme, a fragment.
        """
        if not isinstance(url, str):
            raise InputError(f"{self.name} URL must be text such as {self._first_example()}, got {url!r}")
        url = url.strip()
        if not url:
            raise InputError(f"{self.name} URL is empty; use one of {self.choices()}")
        scheme_text, _, _ = url.partition(":")
        if "://" not in url or not _SCHEME.fullmatch(scheme_text):
            raise InputError(f"{self.name} URL {redact(url)!r} is not a URL: it has no scheme://; "
                             f"use one of {self.choices()}")
        scheme = self.schemes.get(scheme_text.lower())
        if scheme is None:
            near = difflib.get_close_matches(scheme_text.lower(), self.names, n=1)
            hint = f" (did you mean {near[0]}://?)" if near else ""
            raise InputError(f"{self.name} URL {redact(url)!r}: unknown scheme {scheme_text!r}{hint}; "
                             f"use one of {self.choices()}")
        if "#" in url:
            raise InputError(f"{self.name} URL {redact(url)!r}: a '#' fragment is not allowed")
        return scheme, DeviceUrl(self.name, url, scheme.name, scheme.example)

    def parse(self, url: object) -> Any:
        """Check ``url`` without I/O; returns its scheme's address. :raises InputError: see :meth:`locate`."""
        return self._parse(url)[1]

    def open(self, url: object, **context: Any) -> Any:
        """Parse ``url`` and build its device with ``context`` (no blocking I/O).

        :raises InputError: a bad URL or option. :raises DeviceError: the driver
            cannot be used (the opener says why).
        """
        scheme, address = self._parse(url)
        return scheme.open(address, **context)

    def _parse(self, url: object) -> tuple[Scheme, Any]:
        scheme, located = self.locate(url)
        address = scheme.parse(located)
        located.options.done()  # what the scheme's parser did not take is not an option of it
        return scheme, address

    def _first_example(self) -> str:
        return next(iter(self.schemes.values())).example if self.schemes else "scheme://"
