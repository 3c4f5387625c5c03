"""IP ANPR cameras that push plate events: an HTTP listener and its payload parsers.

An ANPR camera reads the plate itself and POSTs each read to a server it is
configured with ("alarm server", "HTTP listening", "push events"). This
package is that server, one module per part:

- :mod:`~hardware.anpr.listener`: :class:`AnprListener`, the HTTP server
  (the standard library's ``http.server``) and what it answers;
- :mod:`~hardware.anpr.posts`: :func:`parse_post`, which vendor sent a post;
- :mod:`~hardware.anpr.hikvision`: Hikvision ISAPI ``EventNotificationAlert``
  posts (XML, alone or in a multipart post with JPEG parts);
- :mod:`~hardware.anpr.axis`: Axis License Plate Verifier push events (JSON,
  alone or in a multipart post);
- :mod:`~hardware.anpr.webhook`: this project's plain JSON webhook;
- :mod:`~hardware.anpr.common`: :class:`AnprEvent`, :class:`AnprPayloadError`
  and what the parsers share (multipart splitting with the standard
  :mod:`email` parser, JSON, plates, times).

Each vendor module lists the sources of its field names. Nothing home-made
parses HTTP, MIME, XML or JSON (only the Axis ``datetime`` string has a regex).
Cameras are configured by URL (``anpr+http://``, ``hikvision+http://``...,
see :mod:`hardware.cameras`).
"""

from hardware.anpr.axis import parse_axis
from hardware.anpr.common import AnprEvent, AnprPayloadError
from hardware.anpr.hikvision import parse_hikvision
from hardware.anpr.listener import DEFAULT_MAX_BODY, AnprListener
from hardware.anpr.posts import VENDORS, parse_post
from hardware.anpr.webhook import parse_webhook

__all__ = [
    "AnprEvent",
    "AnprListener",
    "AnprPayloadError",
    "DEFAULT_MAX_BODY",
    "VENDORS",
    "parse_axis",
    "parse_hikvision",
    "parse_post",
    "parse_webhook",
]
