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
``Content-Length``, ``404`` for another path) with a short text body and
logged; nothing is delivered. Well-formed posts that are not plate reads (a
Hikvision ``videoloss`` heartbeat, an Axis ``lost`` event, a repeated
Hikvision upload with the same ``UUID``) are answered ``200`` and ignored.

Library: the standard library's :class:`http.server.ThreadingHTTPServer` (a
well-kept library: one thread per connection, here all daemon threads); the
payloads are parsed by :func:`hardware.anpr.posts.parse_post`.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from attendant.core.errors import InputError

from hardware.anpr.common import AnprEvent, AnprPayloadError
from hardware.anpr.posts import VENDOR_ALIASES, VENDORS, parse_post
from hardware.base import (
    DeviceError,
    DeviceState,
    DeviceStatus,
    EventDispatcher,
    PlateCamera,
    PlateRead,
    utc_now,
)

__all__ = ["DEFAULT_MAX_BODY", "AnprListener"]

log = logging.getLogger(__name__)

#: Largest body accepted, in bytes (a Hikvision post with two JPEGs is ~170 kB).
DEFAULT_MAX_BODY = 5 * 1024 * 1024
_DUPLICATE_MEMORY = 256


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    listener: AnprListener

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The stdlib prints to stderr, which would tear the console's screen.
        log.exception("%s: error on a connection from %s", self.listener.name, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "attendant-anpr/1"
    timeout = 10.0

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
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
    - ``max_body``: largest body in bytes (default 5 MB), larger posts get 413.
    - ``path``: if set (e.g. ``"/anpr"``), posts to other paths get 404.
    - ``axis_states``: Axis ``carState`` values delivered (default ``new``
      and ``update`` -- spelt ``updated`` in the protocol 1.6 table; ``lost``
      comes 10 s after the car left, see :mod:`hardware.anpr.axis`); the others
      are answered 200 and ignored.
    - ``request_timeout``: seconds a connection may stay silent.

    :raises InputError: a bad argument (unknown vendor, port outside
        0-65535, non-positive ``max_body``, a path not starting with ``/``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, lane: str | None = None,
                 vendor: str = "auto", on_read: Callable[[PlateRead], None] | None = None,
                 on_event: Callable[[AnprEvent], None] | None = None, max_body: int = DEFAULT_MAX_BODY,
                 path: str | None = None, name: str | None = None,
                 axis_states: Iterable[str] = ("new", "update", "updated"), request_timeout: float = 10.0,
                 join_timeout: float = 2.0) -> None:
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
        self.host = host.strip().strip("[]")
        self._port = port
        self.lane = lane
        self.vendor = vendor
        self.max_body = max_body
        self.path = path if path not in (None, "/") else None
        self.name = name or f"ANPR listener{' ' + lane if lane else ''}"
        self.axis_states = frozenset(state.lower() for state in axis_states)
        self.request_timeout = float(request_timeout)
        self.join_timeout = float(join_timeout)
        self._on_read = on_read
        self._on_event = on_event
        self._lock = threading.RLock()  # re-entrant: status() and start() read .url and .port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._dispatcher: EventDispatcher | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._state = DeviceStatus(DeviceState.UNKNOWN, "not started")
        self.accepted = 0
        self.rejected = 0
        self.ignored = 0
        self.last_rejection: str | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port: the bound one while running, else the configured one."""
        with self._lock:
            server = self._server
        return server.server_address[1] if server is not None else self._port

    @property
    def url(self) -> str:
        """``http://host:port/path`` to configure on the camera."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path or '/'}"

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def start(self, on_read: Callable[[PlateRead], None] | None = None) -> None:
        """Bind and serve on a daemon thread; reads go to ``on_read`` (or the constructor's).

        :raises InputError: no callable ``on_read`` and no ``on_event``.
        :raises DeviceError: already running, or the address cannot be bound
            (in use, not an address of this machine).
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
            handler = type("AnprHandler", (_Handler,), {"timeout": self.request_timeout})
            server_class = _Server6 if ":" in self.host else _Server
            server: _Server | None = None
            try:
                server = server_class((self.host, self._port), handler, bind_and_activate=False)
                server.listener = self
                server.server_bind()
                server.server_activate()
            except OSError as error:
                if server is not None:
                    server.server_close()
                message = f"{self.name} cannot listen on {self.host}:{self._port}: {error.strerror or error}"
                self._state = DeviceStatus(DeviceState.FAULTED, message)
                raise DeviceError(message, device=self.name) from None
            self._server = server
            self._dispatcher = EventDispatcher(self.name)
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{self.name} http", daemon=True)
            self._thread.start()
            self._state = DeviceStatus(DeviceState.OK, f"listening on {self.url}")
        log.info("%s listening on %s (vendor %s)", self.name, self.url, self.vendor)

    def stop(self) -> None:
        """Stop serving, free the port, deliver what is queued; joins bounded by ``join_timeout`` s."""
        with self._lock:
            server, thread, dispatcher = self._server, self._thread, self._dispatcher
            self._server = self._thread = self._dispatcher = None
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
        if dispatcher is not None:
            dispatcher.close(self.join_timeout)

    def status(self) -> DeviceStatus:
        """ok while listening (with counts), offline after stop, faulted if it could not bind."""
        with self._lock:
            state = self._state
            if state.state != DeviceState.OK:
                return state
            message = f"listening on {self.url}; {self.accepted} reads, {self.rejected} rejected"
            if self.last_rejection:
                message += f" (last: {self.last_rejection})"
        return DeviceStatus(DeviceState.OK, message)

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
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self._reject(handler, 400, f"bad Content-Length {length_text!r}")
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
            body = handler.rfile.read(length)
        except (TimeoutError, OSError) as error:
            log.warning("%s: post from %s not read: %s", self.name, handler.client_address[0], error)
            handler.close_connection = True
            return
        if len(body) < length:
            self._reject(handler, 400, "body shorter than Content-Length")
            return
        try:
            event = parse_post(body, handler.headers.get("Content-Type"), vendor=self.vendor, lane=self.lane,
                               received_at=utc_now())
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
