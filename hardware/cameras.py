"""Plate cameras by URL: the camera kind's scheme table and :func:`open_camera`.

Schemes:

- ``standin://`` -- the stand-in camera (:mod:`hardware.standins`).
- ``anpr+http://HOST:PORT/PATH?vendor=auto|hikvision|axis|json`` -- an
  :class:`~hardware.anpr.AnprListener` bound to ``HOST:PORT`` that cameras
  POST to (``PATH`` optional; ``vendor`` defaults to ``auto``; ``json`` is
  the project's plain webhook). Aliases fix the vendor:
  ``hikvision+http://``, ``axis+http://``, ``webhook+http://``. Other
  options (defaults in :mod:`hardware.anpr.listener`):

  - ``lane``: used when no lane is passed;
  - bounds: ``max_body`` (bytes, default 1 MiB), ``max_connections``
    (default 16), ``header_timeout`` and ``body_timeout`` (seconds, default
    5 and 10);
  - trust: ``token`` (the shared secret: ``Authorization: Bearer <token>`` or
    the HTTP basic password; Hikvision cameras take at most 16 characters),
    ``user`` (the HTTP basic user name, optional), ``allow`` (comma-separated
    addresses or networks, e.g. ``allow=192.168.1.50,10.1.0.0/24``),
    ``cert`` and ``key`` (PEM files: the listener then speaks HTTPS only).
    ``token`` is never shown in messages (:func:`hardware.urls.redact`).

  ``HOST`` ``0.0.0.0`` listens on every interface; a port is required
  (``0`` picks a free one, for tests). Example, one URL:
  ``hikvision+http://0.0.0.0:8081/anpr?allow=192.168.1.50&user=camera&token=s3cret``
  ``&cert=/etc/attendant/anpr.pem&key=/etc/attendant/anpr.key``.
- ``opencv://``, ``rtsp://``, ``rtsps://``, ``file://``, ``http://``,
  ``https://`` -- a plain camera or video read through OpenCV
  (:mod:`hardware.camera_opencv`, whose :data:`~hardware.camera_opencv.OPENCV_SCHEMES`
  are listed here).

Opening does not start anything: call ``start(on_read)`` on the result.
:mod:`hardware.anpr` (the standard library's HTTP server, MIME and XML
parsers, ~35 ms to import) loads when the first ANPR camera is opened.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from hardware.base import PlateCamera
from hardware.camera_opencv import OPENCV_SCHEMES
from hardware.standins import open_standin_camera, parse_standin_url
from hardware.urls import DeviceKind, DeviceUrl, Scheme, redact

__all__ = ["ANPR_VENDORS", "CAMERA", "ListenerAddress", "open_camera", "parse_camera_url"]

#: ANPR listener schemes: (scheme, the vendor it fixes or None for ``?vendor=``, example).
_LISTENERS = (
    ("anpr+http", None, "anpr+http://0.0.0.0:8081/?vendor=auto"),
    ("hikvision+http", "hikvision", "hikvision+http://0.0.0.0:8081/anpr"),
    ("axis+http", "axis", "axis+http://0.0.0.0:8082/"),
    ("webhook+http", "webhook", "webhook+http://0.0.0.0:8083/plates"),
)
#: ``vendor=`` values: ``auto`` (recognise each post) or one vendor's format.
ANPR_VENDORS = ("auto", *(vendor for _, vendor, _ in _LISTENERS if vendor))
_VENDOR_ALIASES = {"json": "webhook"}
#: The largest ``max_body`` a URL may ask for, bytes.
MAX_BODY_LIMIT = 1 << 30
#: The most ``max_connections`` a URL may ask for.
MAX_CONNECTIONS_LIMIT = 1024
#: The longest ``header_timeout`` / ``body_timeout`` a URL may ask for, seconds.
TIMEOUT_LIMIT = 600.0


@dataclass(frozen=True)
class ListenerAddress:
    """A parsed ANPR listener URL: where to listen (``host``, ``port``, optional
    ``path``), which ``vendor``'s posts to accept, the URL's ``lane``, and the
    listener's bounds and trust settings (None: the listener's default, or
    off): ``max_body`` (bytes), ``max_connections``, ``header_timeout`` and
    ``body_timeout`` (seconds), ``token``, ``user``, ``allow`` (networks),
    ``cert`` and ``key`` (paths). ``token`` is left out of ``repr()``."""

    url: str
    scheme: str
    host: str
    port: int
    path: str | None
    vendor: str
    lane: str | None = None
    max_body: int | None = None
    max_connections: int | None = None
    header_timeout: float | None = None
    body_timeout: float | None = None
    token: str | None = field(default=None, repr=False)
    user: str | None = None
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
    cert: str | None = None
    key: str | None = None

    def __repr__(self) -> str:
        return f"ListenerAddress({redact(self.url)!r})"


def _listener_parser(fixed: str | None) -> Callable[[DeviceUrl], ListenerAddress]:
    """The parser of an ANPR scheme whose vendor is ``fixed`` (None: from ``?vendor=``)."""

    def parse(url: DeviceUrl) -> ListenerAddress:
        host, port = url.host_port(lowest=0, path=True)
        options = url.options
        asked = options.choice("vendor", (*ANPR_VENDORS, *_VENDOR_ALIASES))
        vendor = _VENDOR_ALIASES.get(asked or "", asked) or fixed or "auto"
        if fixed is not None and vendor != fixed:
            raise url.error(f"{url.scheme}:// takes {fixed} posts, not vendor={asked}")
        path = url.parts.path if url.parts.path not in ("", "/") else None
        seconds = {"unit": "seconds", "above": True}
        address = ListenerAddress(
            url=url.url, scheme=url.scheme, host=host, port=port, path=path, vendor=vendor,
            lane=options.text("lane"), max_body=options.integer("max_body", 1, MAX_BODY_LIMIT),
            max_connections=options.integer("max_connections", 1, MAX_CONNECTIONS_LIMIT),
            header_timeout=options.number("header_timeout", 0, TIMEOUT_LIMIT, **seconds),
            body_timeout=options.number("body_timeout", 0, TIMEOUT_LIMIT, **seconds),
            token=options.take("token"), user=options.text("user"), allow=options.networks("allow"),
            cert=options.text("cert"), key=options.text("key"))
        if address.token is not None and not address.token:
            raise url.error("token is empty")
        if address.user is not None and (address.token is None or ":" in address.user):
            raise url.error("user needs a token (the HTTP basic password) and cannot contain ':'")
        if address.key is not None and address.cert is None:
            raise url.error("key needs cert (the listener's certificate)")
        return address

    return parse


def _open_listener(address: ListenerAddress, *, lane: str | None = None, name: str | None = None) -> PlateCamera:
    """The :class:`~hardware.anpr.AnprListener` of a parsed address (not started)."""
    from hardware.anpr import AnprListener  # http.server, email, xml: loaded with the first ANPR camera

    given = {"max_body": address.max_body, "max_connections": address.max_connections,
             "header_timeout": address.header_timeout, "body_timeout": address.body_timeout}
    return AnprListener(address.host, address.port, lane=lane or address.lane, vendor=address.vendor,
                        path=address.path, name=name, token=address.token, user=address.user, allow=address.allow,
                        certfile=address.cert, keyfile=address.key,
                        **{key: value for key, value in given.items() if value is not None})


#: The camera kind: every camera URL scheme with its parser and opener.
CAMERA = DeviceKind("camera", (
    Scheme("standin", parse_standin_url, open_standin_camera, "standin://", stand_in=True),
    *(Scheme(scheme, _listener_parser(vendor), _open_listener, example) for scheme, vendor, example in _LISTENERS),
    *OPENCV_SCHEMES,
))


def parse_camera_url(url: str) -> object:
    """Check a camera URL without I/O; returns its scheme's address
    (:class:`ListenerAddress`, :class:`~hardware.camera_opencv.SourceSpec`, or
    the checked ``standin://``).

    :raises InputError: not a URL, an unknown scheme, a bad option.
    """
    return CAMERA.parse(url)


def open_camera(url: str, *, lane: str | None = None, name: str | None = None) -> PlateCamera:
    """Open (not start) the plate camera named by ``url``; see the module docstring.

    ``lane`` is put on the camera's reads; ``name`` names it in messages and
    device health (optional).

    :raises InputError: not a URL, an unknown scheme, a bad option.
    """
    camera: PlateCamera = CAMERA.open(url, lane=lane, name=name)
    return camera
