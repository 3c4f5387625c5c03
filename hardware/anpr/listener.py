"""The HTTP server IP ANPR cameras push plate events to: :class:`AnprListener`.

Every accepted read is answered ``200`` and delivered as a
:class:`~hardware.base.PlateRead` (plate in normal form, confidence 0..1,
``at`` UTC, ``source`` ``"hikvision"`` / ``"axis"`` / ``"webhook"``) to
``on_read``, and as an :class:`~hardware.anpr.common.AnprEvent` (raw text,
direction, country, JPEG pictures...) to ``on_event`` when given. Callbacks
run in order on one delivery thread per listener
(:class:`~hardware.base.EventDispatcher`); one that raises is logged and the
listener goes on. Malformed posts are answered ``400`` (``405`` for a method
other than POST, ``413`` for a body over ``max_body``, ``411`` without
``Content-Length`` or with a chunked body, ``404`` for another path, ``431``
for headers over 64 KiB, ``401``/``403`` for missing credentials or a source
not allowed, ``503`` when busy) with a short text body and logged; nothing
is delivered. Well-formed posts that are not plate reads (a
Hikvision ``videoloss`` heartbeat, an Axis ``lost`` event, a repeated
Hikvision upload with the same ``UUID``) are answered ``200`` and ignored.

Bounds (a booth PC faces whatever reaches its camera network):

- at most ``max_connections`` connections at once (default 16); one more is
  answered a fixed ``503`` (plain HTTP) or closed (TLS) at once by the
  accepting thread, never queued;
- the request line and headers (and the TLS handshake) must arrive within
  ``header_timeout`` seconds of the connection (or of the previous answer on a
  kept-alive connection), in at most 64 KiB; the body within ``body_timeout``
  seconds of the headers. Each read waits only for what is left of that
  deadline, so a client trickling a byte at a time is dropped on time;
- ``Content-Length`` is checked against ``max_body`` (default 1 MiB) before
  anything is read (``413``) and the read stops there; chunked bodies are
  refused with ``411`` without reading them (cameras send Content-Length);
- bodies are parsed one at a time on the listener's parser thread (a post
  waits for it until its body deadline, then gets ``503``), so memory stays
  within about ``max_connections x max_body`` plus one parse (~10x one body
  for a multipart post with pictures).

Trust (each optional): ``allow`` -- source addresses or networks (refused
with a fixed ``403`` before a thread is started); ``token`` -- a shared secret
sent as ``Authorization: Bearer <token>`` or as the password of HTTP basic
authentication (with ``user`` as the user name when given; what Hikvision's
"HTTP listening" and Axis's HTTP recipients send), compared in constant time
(:func:`hmac.compare_digest` of SHA-256 digests), else ``401`` with a
``WWW-Authenticate`` challenge; ``certfile``/``keyfile`` -- TLS with the
standard :mod:`ssl` module wrapping the listening socket. A refused source or
credential is logged and shows the listener as faulted in the device status
for :data:`TRUST_ALERT_SECONDS` (or until an authorised read arrives).

Library: the standard library's :class:`http.server.ThreadingHTTPServer` (a
well-kept library: one thread per connection, here all daemon threads) does
all HTTP parsing; this module only bounds it: a connection counter, a
deadline on each socket read (:class:`_DeadlineReader`, a
:class:`socket.SocketIO`) and the checks above. The payloads are parsed by
:func:`hardware.anpr.posts.parse_post`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import ipaddress
import logging
import socket
import ssl
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from attendant.core.errors import InputError

from hardware.anpr.common import AnprEvent, AnprPayloadError
from hardware.anpr.posts import VENDOR_ALIASES, VENDORS, parse_post
from hardware.urls import parse_networks
from hardware.base import (
    DeviceError,
    DeviceState,
    DeviceStatus,
    EventDispatcher,
    PlateCamera,
    PlateRead,
    utc_now,
)

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "MAX_HEAD",
    "TRUST_ALERT_SECONDS",
    "AnprListener",
    "parse_allow",
]

log = logging.getLogger(__name__)

#: Largest body accepted, in bytes (a Hikvision post with two JPEGs is ~170 kB;
#: raise it for cameras that send full-resolution scene pictures).
DEFAULT_MAX_BODY = 1024 * 1024
#: Connections served at once; more are refused (503) at once.
DEFAULT_MAX_CONNECTIONS = 16
#: Seconds for the TLS handshake, request line and headers of one request.
DEFAULT_HEADER_TIMEOUT = 5.0
#: Seconds for the body of one request, from the end of its headers.
DEFAULT_BODY_TIMEOUT = 10.0
#: Most bytes of request line and headers read for one request (http.server
#: alone would take 100 header lines of 64 KiB each).
MAX_HEAD = 64 * 1024
#: Seconds a refused source or credential shows the listener as faulted.
TRUST_ALERT_SECONDS = 60.0
_DUPLICATE_MEMORY = 256
_READ_BUFFER = 16 * 1024
_LOG_EVERY = 1.0  # seconds between warnings of one kind; the rest go to debug


class _HeadTooLarge(Exception):
    """The request line and headers went over MAX_HEAD bytes."""


def _fixed_reply(status: HTTPStatus, text: str, headers: Mapping[str, str] | None = None) -> bytes:
    """A whole ``Connection: close`` response, sent by the accepting thread to a
    connection it refuses without starting a handler (no request is read)."""
    body = (text + "\n").encode("utf-8")
    lines = [f"HTTP/1.1 {status.value} {status.phrase}", "Content-Type: text/plain; charset=utf-8",
             f"Content-Length: {len(body)}", "Connection: close",
             *(f"{key}: {value}" for key, value in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_allow(allow: Iterable[str | ipaddress.IPv4Network | ipaddress.IPv6Network] | str | None,
                ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """The networks of an allow-list: addresses (``192.168.1.50``, ``::1``) or
    networks (``192.168.1.0/24``), as an iterable or one comma-separated text
    (read by :func:`hardware.urls.parse_networks`, i.e. :mod:`ipaddress`);
    None or empty: every source is allowed.

    :raises InputError: an entry that is not an IP address or network.
    """
    if allow is None:
        return None
    try:
        networks = parse_networks(allow.split(",") if isinstance(allow, str) else allow)
    except ValueError as error:
        raise InputError(f"ANPR listener: allow entry {error}") from None
    return networks or None


def _source(client_address: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The peer's address (an IPv4-mapped IPv6 address as IPv4), None if unreadable."""
    try:
        address = ipaddress.ip_address(str(client_address[0]).split("%", 1)[0])
    except (ValueError, IndexError, TypeError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    listener: AnprListener
    tls = False
    # listen() backlog: socketserver's 5 makes a burst of connections wait for
    # SYN retransmits (1 s, 3 s...); these are accepted at once and then served
    # or refused by max_connections.
    request_queue_size = 128
    slots: threading.BoundedSemaphore  # max_connections, set by AnprListener.start

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """The allow-list, before any thread or read: a refused source gets a fixed 403."""
        return self.listener._source_allowed(self, request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection while fewer than max_connections run; else a fixed 503 at once."""
        if not self.slots.acquire(blocking=False):
            self.listener._busy(self, request, client_address)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def refuse(self, request: socket.socket, reply: bytes) -> None:
        """Answer ``reply`` without blocking the accepting thread (plain HTTP; TLS: just
        close, as no handshake is made here). shutdown_request() closes afterwards."""
        if self.tls:
            return
        try:
            request.setblocking(False)
            request.send(reply)
            # Take what already arrived, so closing sends FIN rather than RST and
            # the client reads the answer.
            request.recv(MAX_HEAD)
        except OSError:
            pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The stdlib prints to stderr, which would tear the console's screen.
        listener = self.listener
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # TLS handshake failures, resets, time-outs: the client's doing
            listener._dropped(client_address, f"connection failed: {error}")
            return
        log.exception("%s: error on a connection from %s", listener.name, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _DeadlineReader(socket.SocketIO):
    """The connection's raw reader: each read waits only until the handler's deadline.

    http.server reads a request line, headers and a body through a buffered
    reader; with a plain socket time-out a client that sends one byte per
    time-out would hold the connection for ever. Here every ``recv`` gets the
    time left of the current phase's deadline, and bytes read while the
    request line and headers are awaited are counted against MAX_HEAD.
    """

    def __init__(self, sock: socket.socket, handler: _Handler) -> None:
        super().__init__(sock, "rb")
        self._handler = handler

    def readinto(self, buffer: Any) -> int | None:
        handler = self._handler
        remaining = handler.deadline - time.monotonic()
        if remaining <= 0:
            handler.timed_out = True
            raise TimeoutError(f"{handler.phase} not received within {handler.phase_limit:g} s")
        self._sock.settimeout(remaining)
        try:
            count = super().readinto(buffer)
        except TimeoutError:
            handler.timed_out = True
            raise
        if count and handler.head_left is not None:
            handler.head_bytes += count
            handler.head_left -= count
            if handler.head_left < 0:
                raise _HeadTooLarge
        return count


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "attendant-anpr/1"
    timeout = DEFAULT_HEADER_TIMEOUT  # the TLS handshake and writes; reads use the deadline

    def setup(self) -> None:
        listener = self.server.listener
        self.requests = 0
        self.timed_out = False
        self._phase("the request line and headers", listener.header_timeout, head=True)
        super().setup()  # sets self.timeout on the socket, builds rfile/wfile
        if isinstance(self.connection, ssl.SSLSocket):
            # Here, not in the accepting thread: a silent client only holds its own slot.
            self.connection.settimeout(max(0.001, self.deadline - time.monotonic()))
            self.connection.do_handshake()  # CPython bounds the whole handshake by this time-out
            self.connection.settimeout(self.timeout)
        self.rfile.close()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self), _READ_BUFFER)

    def _phase(self, phase: str, seconds: float, *, head: bool) -> None:
        self.phase, self.phase_limit = phase, seconds
        self.deadline = time.monotonic() + seconds
        self.head_left: int | None = MAX_HEAD if head else None
        self.head_bytes = 0

    def start_body(self) -> None:
        """The headers are in: the body has body_timeout seconds from now."""
        self._phase("the body", self.server.listener.body_timeout, head=False)

    def handle_one_request(self) -> None:
        listener = self.server.listener
        if self.requests:
            self._phase("the request line and headers", listener.header_timeout, head=True)
        self.requests += 1
        self.timed_out = False
        # What reply() and the logs read before http.server has parsed a request line.
        self.command, self.requestline, self.request_version = "", "", "HTTP/1.1"
        try:
            super().handle_one_request()
        except ConnectionError as error:  # reset or broken pipe: the client left
            self.close_connection = True
            if self.head_bytes or self.requests == 1 or self.head_left is None:
                listener._dropped(self.client_address, f"connection failed: {error}")
            return
        except _HeadTooLarge:
            self.close_connection = True
            listener._dropped(self.client_address, f"request line and headers over {MAX_HEAD} bytes")
            self.reply(431, f"request line and headers over {MAX_HEAD} bytes", close=True)
            return
        if self.timed_out and self.head_left is not None:
            self.close_connection = True
            if self.head_bytes or self.requests == 1:  # an idle kept-alive connection just ends
                listener._dropped(self.client_address, f"{self.phase} not received within "
                                                       f"{self.phase_limit:g} s")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self.start_body()
        self.server.listener._handle_post(self)

    def _not_allowed(self) -> None:
        self.server.listener._reject(self, 405, f"method {self.command} not allowed; cameras POST",
                                     headers={"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.listener._reject(self, 405, "method HEAD not allowed; cameras POST",
                                     headers={"Allow": "POST"}, body=False)

    def reply(self, status: int, text: str, *, headers: Mapping[str, str] | None = None,
              close: bool = False, body: bool = True) -> None:
        payload = (text + "\n").encode("utf-8")
        try:
            self.connection.settimeout(self.timeout)  # reads left a deadline's remainder on it
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if body:
                self.wfile.write(payload)
        except OSError as error:
            log.info("%s: could not answer %s: %s", self.server.listener.name, self.client_address, error)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s: %s - %s", self.server.listener.name, self.address_string(), format % args)


class AnprListener(PlateCamera):
    """An HTTP server that IP ANPR cameras push plate reads to.

    - ``host``/``port``: address to listen on; port 0 picks a free port (read
      :attr:`port` after :meth:`start`). ``"0.0.0.0"`` (or ``"::"``) listens
      on every interface.
    - ``lane``: put on each read unless the post names one (webhook).
    - ``vendor``: ``"auto"``, ``"hikvision"``, ``"axis"``, ``"webhook"``
      (alias ``"json"``); a fixed vendor refuses the others' posts with 400.
    - ``on_read(PlateRead)`` / ``on_event(AnprEvent)``: called in order on
      the listener's delivery thread; ``start(on_read)`` may give ``on_read``.
    - ``max_body``: largest body in bytes (default 1 MiB), larger posts get 413.
    - ``path``: if set (e.g. ``"/anpr"``), posts to other paths get 404.
    - ``axis_states``: Axis ``carState`` values delivered (default ``new``
      and ``update`` -- spelt ``updated`` in the protocol 1.6 table; ``lost``
      comes 10 s after the car left, see :mod:`hardware.anpr.axis`); the others
      are answered 200 and ignored.
    - ``max_connections``: connections served at once (default 16); more
      are answered 503 (closed under TLS) without being read.
    - ``header_timeout`` / ``body_timeout``: seconds for the TLS handshake,
      request line and headers (default 5) and for the body (default 10);
      a slower client is dropped.
    - ``token``: shared secret each post must carry (``Authorization:
      Bearer <token>``, or HTTP basic with it as the password); ``user``:
      the basic user name required too (optional). Wrong or missing: 401.
    - ``allow``: addresses/networks allowed to connect (see
      :func:`parse_allow`); others get 403. None: any source.
    - ``certfile`` / ``keyfile``: PEM certificate (chain) and private key;
      given, the listener speaks HTTPS only (loaded by :meth:`start`).

    :raises InputError: a bad argument (unknown vendor, port outside
        0-65535, non-positive ``max_body``/``max_connections``/time-outs, a
        path not starting with ``/``, an empty token, a bad allow entry, a
        key without a certificate).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, lane: str | None = None,
                 vendor: str = "auto", on_read: Callable[[PlateRead], None] | None = None,
                 on_event: Callable[[AnprEvent], None] | None = None, max_body: int = DEFAULT_MAX_BODY,
                 path: str | None = None, name: str | None = None,
                 axis_states: Iterable[str] = ("new", "update", "updated"),
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, header_timeout: float = DEFAULT_HEADER_TIMEOUT,
                 body_timeout: float = DEFAULT_BODY_TIMEOUT, token: str | None = None, user: str | None = None,
                 allow: Iterable[str | ipaddress.IPv4Network | ipaddress.IPv6Network] | str | None = None,
                 certfile: str | None = None, keyfile: str | None = None, join_timeout: float = 2.0) -> None:
        if not isinstance(host, str) or not host.strip():
            raise InputError(f"ANPR listener: host must be an address such as 127.0.0.1, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InputError(f"ANPR listener: port must be 0-65535, got {port!r}")
        vendor = VENDOR_ALIASES.get(vendor, vendor)
        if vendor not in VENDORS:
            raise InputError(f"ANPR listener: unknown vendor {vendor!r}; use one of {', '.join(VENDORS)}")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body <= 0:
            raise InputError(f"ANPR listener: max_body must be a positive number of bytes, got {max_body!r}")
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise InputError(f"ANPR listener: path must start with /, got {path!r}")
        for callback, what in ((on_read, "on_read"), (on_event, "on_event")):
            if callback is not None and not callable(callback):
                raise InputError(f"ANPR listener: {what} must be callable, got {callback!r}")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections <= 0:
            raise InputError(f"ANPR listener: max_connections must be a positive whole number, "
                             f"got {max_connections!r}")
        for seconds, what in ((header_timeout, "header_timeout"), (body_timeout, "body_timeout")):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 3600:
                raise InputError(f"ANPR listener: {what} must be a number of seconds in (0, 3600], got {seconds!r}")
        for secret, what in ((token, "token"), (user, "user")):
            if secret is not None and (not isinstance(secret, str) or not secret or ":" in secret and what == "user"):
                raise InputError(f"ANPR listener: {what} must be non-empty text"
                                 f"{' without :' if what == 'user' else ''}")
        if user is not None and token is None:
            raise InputError("ANPR listener: user needs a token (the basic-authentication password)")
        if keyfile is not None and certfile is None:
            raise InputError("ANPR listener: keyfile needs a certfile")
        self.host = host.strip().strip("[]")
        self._port = port
        self.lane = lane
        self.vendor = vendor
        self.max_body = max_body
        self.path = path if path not in (None, "/") else None
        self.name = name or f"ANPR listener{' ' + lane if lane else ''}"
        self.axis_states = frozenset(state.lower() for state in axis_states)
        self.max_connections = max_connections
        self.header_timeout = float(header_timeout)
        self.body_timeout = float(body_timeout)
        self.allow = parse_allow(allow)
        self.user = user
        self.certfile = certfile
        self.keyfile = keyfile
        # Only digests are kept: compare_digest on equal-length values, and no secret in repr() or tracebacks.
        self._token = None if token is None else hashlib.sha256(token.encode("utf-8")).digest()
        self._user = None if user is None else hashlib.sha256(user.encode("utf-8")).digest()
        self.join_timeout = float(join_timeout)
        self._on_read = on_read
        self._on_event = on_event
        self._lock = threading.RLock()  # re-entrant: status() and start() read .url and .port
        self._parser: ThreadPoolExecutor | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._dispatcher: EventDispatcher | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._state = DeviceStatus(DeviceState.UNKNOWN, "not started")
        self.accepted = 0
        self.rejected = 0
        self.ignored = 0
        self.last_rejection: str | None = None
        #: Posts refused by the allow-list (403) or the token (401); the last one's text and time (monotonic).
        self.unauthorised = 0
        self.last_unauthorised: str | None = None
        self._unauthorised_at: float | None = None
        #: Connections dropped: too slow, headers too large, over max_connections, failed TLS handshake.
        self.dropped = 0
        self.last_drop: str | None = None
        self._warned: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port: the bound one while running, else the configured one."""
        with self._lock:
            server = self._server
        return server.server_address[1] if server is not None else self._port

    @property
    def tls(self) -> bool:
        """True when the listener speaks HTTPS (a certificate was given)."""
        return self.certfile is not None

    @property
    def url(self) -> str:
        """``http://host:port/path`` (``https://`` with TLS) to configure on the camera."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{self.path or '/'}"

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def start(self, on_read: Callable[[PlateRead], None] | None = None) -> None:
        """Bind and serve on a daemon thread; reads go to ``on_read`` (or the constructor's).

        :raises InputError: no callable ``on_read`` and no ``on_event``.
        :raises DeviceError: already running, the address cannot be bound
            (in use, not an address of this machine), or the certificate or
            key cannot be loaded.
        """
        if on_read is not None and not callable(on_read):
            raise InputError(f"{self.name}: on_read must be callable, got {on_read!r}")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise DeviceError(f"{self.name} is already running", device=self.name)
            if on_read is not None:
                self._on_read = on_read
            if self._on_read is None and self._on_event is None:
                raise InputError(f"{self.name}: give on_read (or on_event) to deliver plate reads to")
            handler = type("AnprHandler", (_Handler,), {"timeout": self.header_timeout})
            server_class = _Server6 if ":" in self.host else _Server
            server: _Server | None = None
            try:
                context = self._tls_context()
                server = server_class((self.host, self._port), handler, bind_and_activate=False)
                server.listener = self
                server.slots = threading.BoundedSemaphore(self.max_connections)
                server.server_bind()
                server.server_activate()
                if context is not None:
                    # Handshakes run on the connection's thread (_Handler.setup), within header_timeout.
                    server.socket = context.wrap_socket(server.socket, server_side=True,
                                                        do_handshake_on_connect=False)
                    server.tls = True
            except OSError as error:  # ssl.SSLError is an OSError
                if server is not None:
                    server.server_close()
                if isinstance(error, _TlsError):
                    message = f"{self.name}: {error}"
                else:
                    message = f"{self.name} cannot listen on {self.host}:{self._port}: {error.strerror or error}"
                self._state = DeviceStatus(DeviceState.FAULTED, message)
                raise DeviceError(message, device=self.name) from None
            self._server = server
            self._parser = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name} parser")
            self._dispatcher = EventDispatcher(self.name)
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{self.name} http", daemon=True)
            self._thread.start()
            self._state = DeviceStatus(DeviceState.OK, f"listening on {self.url}")
        log.info("%s listening on %s (vendor %s)", self.name, self.url, self.vendor)

    def stop(self) -> None:
        """Stop serving, free the port, deliver what is queued; joins bounded by ``join_timeout`` s."""
        with self._lock:
            server, thread, dispatcher, parser = self._server, self._thread, self._dispatcher, self._parser
            self._server = self._thread = self._dispatcher = self._parser = None
            if server is not None:
                self._state = DeviceStatus(DeviceState.OFFLINE, "stopped")
        if server is not None:
            if thread is not None and thread is not threading.current_thread():
                server.shutdown()
            server.server_close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.1f s", self.name, self.join_timeout)
        if parser is not None:
            parser.shutdown(wait=False, cancel_futures=True)
        if dispatcher is not None:
            dispatcher.close(self.join_timeout)

    def _tls_context(self) -> ssl.SSLContext | None:
        """The server-side TLS context of certfile/keyfile (TLS 1.2 or later), None without TLS.

        :raises _TlsError: the files cannot be read or do not match.
        """
        if self.certfile is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            raise _TlsError(f"cannot load the TLS certificate {self.certfile}"
                            f"{' and key ' + self.keyfile if self.keyfile else ''}: "
                            f"{getattr(error, 'strerror', None) or error}") from None
        return context

    def status(self) -> DeviceStatus:
        """ok while listening (with counts), offline after stop, faulted if it could not bind, and
        faulted for TRUST_ALERT_SECONDS after a refused source or credential (until an authorised read)."""
        with self._lock:
            state = self._state
            if state.state != DeviceState.OK:
                return state
            message = f"listening on {self.url}; {self.accepted} reads, {self.rejected} rejected"
            if self.last_rejection:
                message += f" (last: {self.last_rejection})"
            if self.dropped:
                message += f"; {self.dropped} connections dropped (last: {self.last_drop})"
            alert = self._unauthorised_at
            if alert is not None and time.monotonic() - alert < TRUST_ALERT_SECONDS:
                return DeviceStatus(DeviceState.FAULTED,
                                    f"refused {self.unauthorised} unauthorised posts (last: {self.last_unauthorised}); "
                                    f"check the camera's credentials and address; {message}")
        return DeviceStatus(DeviceState.OK, message)

    # -- connection bounds and trust (accepting thread / server threads) ----

    def _warn(self, kind: str, message: str, *args: Any) -> None:
        """Log a warning, at most one per _LOG_EVERY seconds of each ``kind`` (the rest at debug):
        a flood of refused connections must not flood the log."""
        now = time.monotonic()
        with self._lock:
            quiet = now - self._warned.get(kind, -_LOG_EVERY) < _LOG_EVERY
            if not quiet:
                self._warned[kind] = now
        log.log(logging.DEBUG if quiet else logging.WARNING, message, *args)

    def _dropped(self, client_address: Any, reason: str) -> None:
        with self._lock:
            self.dropped += 1
            self.last_drop = reason
        self._warn("drop", "%s: dropped a connection from %s: %s", self.name, _peer(client_address), reason)

    def _busy(self, server: _Server, request: socket.socket, client_address: Any) -> None:
        reason = f"over the limit of {self.max_connections} connections"
        self._dropped(client_address, reason)
        server.refuse(request, _fixed_reply(HTTPStatus.SERVICE_UNAVAILABLE, f"busy: {reason}; retry",
                                            {"Retry-After": "1"}))

    def _source_allowed(self, server: _Server, request: socket.socket, client_address: Any) -> bool:
        if self.allow is None:
            return True
        source = _source(client_address)
        if source is not None and any(source in network for network in self.allow
                                      if network.version == source.version):
            return True
        reason = f"source {_peer(client_address)} is not allowed"
        self._unauthorised(client_address, 403, reason)
        server.refuse(request, _fixed_reply(HTTPStatus.FORBIDDEN, reason))
        return False

    def _unauthorised(self, client_address: Any, status: int, reason: str) -> None:
        with self._lock:
            self.rejected += 1
            self.unauthorised += 1
            self.last_rejection = self.last_unauthorised = f"{status} {reason}"
            self._unauthorised_at = time.monotonic()
        self._warn("trust", "%s: refused %s: %s %s", self.name, _peer(client_address), status, reason)

    def _credentials_problem(self, header: str | None) -> str | None:
        """Why the ``Authorization`` header does not carry the token (None: it does, or none is needed)."""
        if self._token is None:
            return None
        if not header or not header.strip():
            return "no credentials; send Authorization: Bearer <token> or HTTP basic"
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            if self._user is not None:
                return "this listener wants HTTP basic with its user name"
            given = value.encode("latin-1")  # http.server decodes header bytes as ISO-8859-1: these are the bytes sent
            user_ok = True
        elif scheme.lower() == "basic":
            try:  # RFC 7617: base64 of user-id ":" password, UTF-8
                user, colon, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, ValueError):
                return "unreadable basic credentials"
            if not colon:
                return "unreadable basic credentials"
            given = password.encode("utf-8")
            user_ok = self._user is None or hmac.compare_digest(hashlib.sha256(user.encode()).digest(), self._user)
        else:
            return f"unsupported authentication scheme {scheme[:20]!r}; use Bearer or Basic"
        token_ok = hmac.compare_digest(hashlib.sha256(given).digest(), self._token)
        return None if token_ok and user_ok else "wrong credentials"

    # -- request handling (server threads) ---------------------------------

    def _reject(self, handler: _Handler, status: int, reason: str, *,
                headers: Mapping[str, str] | None = None, body: bool = True) -> None:
        with self._lock:
            self.rejected += 1
            self.last_rejection = f"{status} {reason}"
        log.warning("%s: refused a %s from %s: %s %s", self.name, handler.command,
                    handler.client_address[0], status, reason)
        handler.reply(status, reason, headers=headers, close=True, body=body)

    def _handle_post(self, handler: _Handler) -> None:
        try:
            self._serve_post(handler)
        except Exception:  # noqa: BLE001 - a bug here must not take the server down
            log.exception("%s: failed on a post from %s", self.name, handler.client_address[0])
            handler.reply(500, "internal error", close=True)

    def _serve_post(self, handler: _Handler) -> None:
        problem = self._credentials_problem(handler.headers.get("Authorization"))
        if problem is not None:
            self._unauthorised(handler.client_address, 401, problem)
            length = _content_length(handler)
            if length is not None and 0 < length <= self.max_body:
                self._drain(handler, length)  # so the camera reads the 401, not a reset
            handler.reply(401, f"unauthorised: {problem}", close=True,
                          headers={"WWW-Authenticate": 'Basic realm="ANPR", charset="UTF-8"'})
            return
        if self.path is not None and urlsplit(handler.path).path != self.path:
            self._reject(handler, 404, f"no ANPR endpoint at {urlsplit(handler.path).path}; use {self.path}")
            return
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            self._reject(handler, 411, "chunked bodies are not accepted; send Content-Length")
            return
        length_text = handler.headers.get("Content-Length")
        if length_text is None:
            self._reject(handler, 411, "Content-Length required")
            return
        length = _content_length(handler)
        if length is None:
            shown = ", ".join(handler.headers.get_all("Content-Length") or [])
            self._reject(handler, 400, f"bad Content-Length {shown[:40]!r}")
            return
        if length > self.max_body:
            if length <= 4 * self.max_body:
                # Read and drop a moderately large body so a client that sends
                # it all before reading (urllib, most camera firmware) sees the
                # 413 instead of a broken pipe; beyond that, just hang up.
                self._drain(handler, length)
            self._reject(handler, 413, f"body of {length} bytes is over the {self.max_body}-byte limit")
            return
        try:
            body = handler.rfile.read(length)  # at most max_body bytes, within body_timeout
        except OSError as error:
            reason = (f"{handler.phase} not received within {handler.phase_limit:g} s" if handler.timed_out
                      else f"body not read: {error}")
            self._dropped(handler.client_address, reason)
            handler.close_connection = True
            return
        if len(body) < length:
            self._reject(handler, 400, "body shorter than Content-Length")
            return
        with self._lock:
            self._unauthorised_at = None  # an authorised post: the camera's credentials work
        # One parse at a time, on the listener's parser thread: parsing holds the
        # GIL, so running several gains nothing, and the email parser holds ~10x a
        # binary body while it works; on one thread that memory is one allocator
        # arena's, reused by the next parse, not one retained per connection thread.
        parser = self._parser
        if parser is None:
            return  # stopping
        job = parser.submit(parse_post, body, handler.headers.get("Content-Type"), vendor=self.vendor,
                            lane=self.lane, received_at=utc_now())
        del body
        try:
            event = job.result(timeout=max(0.0, handler.deadline - time.monotonic()))
        except FutureTimeout:
            job.cancel()
            self._reject(handler, 503, "busy parsing other posts; retry", headers={"Retry-After": "1"})
            return
        except AnprPayloadError as error:
            self._reject(handler, error.status, str(error))
            return
        if event is None or (event.vendor == "axis" and event.state and event.state not in self.axis_states):
            self._ignore(handler, "not a plate read" if event is None else f"Axis {event.state} event")
            return
        if event.vendor == "hikvision" and event.event_id and self._repeat(event.event_id):
            self._ignore(handler, f"repeat of event {event.event_id}")
            return
        self._deliver(event)
        handler.reply(200, "OK")

    @staticmethod
    def _drain(handler: _Handler, length: int) -> None:
        """Read and drop ``length`` body bytes (64 KiB at a time, within body_timeout)."""
        try:
            while length > 0:
                chunk = handler.rfile.read(min(length, 64 * 1024))
                if not chunk:
                    return
                length -= len(chunk)
        except OSError:  # includes the connection's timeout
            return

    def _ignore(self, handler: _Handler, reason: str) -> None:
        with self._lock:
            self.ignored += 1
        log.debug("%s: ignored a post from %s: %s", self.name, handler.client_address[0], reason)
        handler.reply(200, f"ignored: {reason}")

    def _repeat(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._seen:
                self._seen.move_to_end(event_id)
                return True
            self._seen[event_id] = None
            if len(self._seen) > _DUPLICATE_MEMORY:
                self._seen.popitem(last=False)
            return False

    def _deliver(self, event: AnprEvent) -> None:
        with self._lock:
            self.accepted += 1
            dispatcher, on_read, on_event = self._dispatcher, self._on_read, self._on_event
        log.info("%s: %s read %s (%.0f%%)", self.name, event.vendor, event.read.plate, event.read.confidence * 100)
        if dispatcher is None:
            return
        if on_read is not None:
            dispatcher.post((on_read,), event.read)
        if on_event is not None:
            dispatcher.post((on_event,), event)


class _TlsError(OSError):
    """The certificate or key of a TLS listener cannot be loaded."""


def _peer(client_address: Any) -> str:
    try:
        return str(client_address[0])
    except (IndexError, TypeError):
        return str(client_address)


def _content_length(handler: _Handler) -> int | None:
    """The request's one ``Content-Length`` as a whole number >= 0; None when absent, repeated
    with different values, or not a number (http.server keeps every header line)."""
    values = {value.strip() for value in handler.headers.get_all("Content-Length") or []}
    if len(values) != 1:
        return None
    text = values.pop()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)
