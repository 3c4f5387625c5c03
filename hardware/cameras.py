"""Open a plate camera from its URL (the ``camera = "..."`` of a lane).

Schemes:

- ``standin://`` -- the stand-in camera (:mod:`hardware.standins`).
- ``anpr+http://HOST:PORT/PATH?vendor=auto|hikvision|axis|json`` -- an
  :class:`~hardware.anpr.AnprListener` bound to ``HOST:PORT`` that cameras
  POST to (``PATH`` optional; ``vendor`` defaults to ``auto``; ``json`` is
  the project's plain webhook). Aliases fix the vendor:
  ``hikvision+http://``, ``axis+http://``, ``webhook+http://``. Other
  options: ``max_body`` (bytes) and ``lane`` (used when no lane is passed).
  ``HOST`` ``0.0.0.0`` listens on every interface; a port is required
  (``0`` picks a free one, for tests).
- ``opencv://``, ``rtsp://``, ``file://``, ``http://``, ``https://`` -- a
  plain camera or video read through OpenCV, by
  ``hardware.camera_opencv.open_opencv_camera(url, lane=...)`` (imported
  only when such a URL is opened).

Opening does not start anything: call ``start(on_read)`` on the result.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from attendant.core.errors import InputError

from hardware.base import PlateCamera

__all__ = ["ANPR_SCHEMES", "OPENCV_SCHEMES", "open_camera"]

#: URL scheme -> fixed vendor (None: from ``?vendor=``, default auto).
ANPR_SCHEMES: dict[str, str | None] = {
    "anpr+http": None,
    "hikvision+http": "hikvision",
    "axis+http": "axis",
    "webhook+http": "webhook",
}
OPENCV_SCHEMES = ("opencv", "rtsp", "file", "http", "https")
_ANPR_OPTIONS = {"vendor", "max_body", "lane"}


def _anpr_listener(url: str, scheme: str, lane: str | None, name: str | None) -> PlateCamera:
    from hardware.anpr import VENDORS, AnprListener

    parts = urlsplit(url)
    if parts.fragment or parts.username or parts.password:
        raise InputError(f"camera URL {url!r}: {scheme}:// takes no user, password or #fragment")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise InputError(f"camera URL {url!r}: unreadable options {parts.query!r}") from None
    unknown = sorted(set(query) - _ANPR_OPTIONS)
    if unknown:
        raise InputError(f"camera URL {url!r}: unknown option(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(_ANPR_OPTIONS))}")
    options: dict[str, str] = {}
    for key, values in query.items():
        if len(values) != 1 or not values[0]:
            raise InputError(f"camera URL {url!r}: give {key} once, with a value")
        options[key] = values[0]
    host = parts.hostname
    if not host:
        raise InputError(f"camera URL {url!r}: name the address to listen on "
                         f"(e.g. {scheme}://0.0.0.0:8080/ for every interface)")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"camera URL {url!r}: the port must be a number 0-65535") from None
    if port is None:
        raise InputError(f"camera URL {url!r}: give the port cameras post to, e.g. {scheme}://{host}:8080/")
    fixed = ANPR_SCHEMES[scheme]
    vendor = options.get("vendor", fixed or "auto").lower()
    if vendor == "json":
        vendor = "webhook"
    if fixed is not None and vendor != fixed:
        raise InputError(f"camera URL {url!r}: {scheme}:// takes {fixed} posts, not vendor={options['vendor']}")
    if vendor not in VENDORS:
        raise InputError(f"camera URL {url!r}: unknown vendor {options['vendor']!r}; "
                         "use auto, hikvision, axis or json")
    kwargs: dict[str, object] = {}
    if "max_body" in options:
        try:
            kwargs["max_body"] = int(options["max_body"])
        except ValueError:
            raise InputError(f"camera URL {url!r}: max_body must be a number of bytes") from None
    path = parts.path if parts.path not in ("", "/") else None
    return AnprListener(host, port, lane=lane or options.get("lane"), vendor=vendor, path=path,
                        name=name, **kwargs)  # type: ignore[arg-type]


def open_camera(url: str, *, lane: str | None = None, name: str | None = None) -> PlateCamera:
    """Open (not start) the plate camera named by ``url``; see the module docstring.

    ``lane`` is put on the camera's reads; ``name`` names it in messages and
    device health (optional).

    :raises InputError: not a URL, an unknown scheme, a bad option, or an
        OpenCV URL when the OpenCV driver is not available.
    """
    if not isinstance(url, str) or "://" not in url:
        raise InputError(f"camera URL {url!r} is not a URL; use standin://, anpr+http://HOST:PORT/ "
                         "or rtsp://...")
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "standin":
        from hardware.standins import open_camera as open_standin

        return open_standin(url, lane=lane, name=name)
    if scheme in ANPR_SCHEMES:
        return _anpr_listener(url, scheme, lane, name)
    if scheme in OPENCV_SCHEMES:
        try:
            from hardware.camera_opencv import open_opencv_camera
        except ImportError as error:
            raise InputError(f"camera URL {url!r}: OpenCV cameras are not available ({error})") from None
        camera = open_opencv_camera(url, lane=lane)
        if name:
            try:
                camera.name = name
            except AttributeError:
                pass
        return camera
    known = ["standin", *ANPR_SCHEMES, *OPENCV_SCHEMES]
    raise InputError(f"camera URL {url!r}: unknown scheme {scheme}://; use one of "
                     + ", ".join(f"{s}://" for s in known))
