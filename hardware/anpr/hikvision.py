"""Hikvision ISAPI ``EventNotificationAlert`` posts with ``eventType`` ``ANPR``.

A Hikvision camera posts ``multipart/form-data`` (or ``multipart/mixed``)
whose XML part (``anpr.xml``) carries the read and whose ``image/jpeg`` (or
``image/pjpeg``) parts are ``licensePlatePicture.jpg`` /
``detectionPicture.jpg``; or the XML alone (``application/xml``,
``text/xml``). Both XML namespaces seen in the field are accepted
(``http://www.hikvision.com/ver20/XMLSchema`` and
``http://www.isapi.org/ver20/XMLSchema``); tags are matched by local name.
XML is read with ``defusedxml`` (:func:`hardware.anpr.common.load_xml`):
documents with a ``DOCTYPE``, an ``ENTITY`` or an external reference are
refused in any encoding, and only UTF-8 or UTF-16 whose declaration agrees
with the bytes is read, so no entity tricks.

Field names -- sources (found with the project's search tool):

- *Device Network SDK (Traffic) Developer Guide* V6.1.4.X (2022-03-11),
  section ``XML_EventNotificationAlert_ANPR``: root fields ``ipAddress``,
  ``macAddress``, ``channelID``, ``dateTime`` (xs:datetime, e.g.
  ``2017-04-22T15:39:01+08:00``), ``activePostCount``, ``eventType``
  (``"ANPR"``), ``eventState``, ``eventDescription``; namespace
  ``http://www.isapi.org/ver20/XMLSchema`` (copy on ftp.distriseg.uy).
  *Intelligent Security API (ANPR) Developer Guide*, ch. 5 "Alarm or Event
  Receiving" (scribd.com/document/672838341).
- A captured camera post (pastebin.com/raw/z5Bzjthh): ``multipart/form-data``
  with parts ``anpr.xml`` (``text/xml``) and ``licensePlatePicture.jpg``
  (``image/pjpeg``), ``ANPR`` with ``country`` "Poland", ``licensePlate``
  GKW5KE2, ``confidenceLevel`` 93.
- A public test client emulating a DS-TCG405-E capture camera (GitHub code
  index): the ``ANPR`` element's ``country``, ``licensePlate``, ``line``,
  ``direction`` (``forward``/``reverse``), ``confidenceLevel`` (0-100),
  ``plateType``, ``plateColor``, ``vehicleType``, ``pictureInfoList``
  (``detectionPicture.jpg``, ``licensePlatePicture.jpg``),
  ``originalLicensePlate``, and the root's ``UUID``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from xml.etree import ElementTree

from hardware.anpr.common import (
    AnprEvent,
    AnprPayloadError,
    iso_time,
    load_xml,
    payload_number,
    plate,
    plate_read,
    unpack,
)
from hardware.base import utc_now

__all__ = ["hikvision_event", "parse_hikvision"]

log = logging.getLogger(__name__)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: ElementTree.Element, name: str) -> str | None:
    child = _child(element, name)
    if child is None or child.text is None:
        return None
    text = child.text.strip()
    return text or None


def hikvision_event(xml: bytes, images: Mapping[str, bytes], lane: str | None,
                    received_at: datetime) -> AnprEvent | None:
    """The event of one ``EventNotificationAlert`` document (None: not a plate read)."""
    root = load_xml(xml)
    if _local(root.tag) != "EventNotificationAlert":
        raise AnprPayloadError(f"XML root is <{_local(root.tag)}>, not <EventNotificationAlert>")
    event_type = (_text(root, "eventType") or "").upper()
    anpr = _child(root, "ANPR")
    if anpr is None:
        if event_type == "ANPR":
            raise AnprPayloadError("ANPR alert without an <ANPR> element")
        log.debug("Hikvision %s event ignored (not a plate read)", event_type or "untyped")
        return None
    raw, normal = plate(_text(anpr, "licensePlate") or _text(anpr, "originalLicensePlate"))
    level = _text(anpr, "confidenceLevel")
    if level is None:
        confidence = 0.0  # unknown: the attendant confirms (see needs_confirmation)
    else:
        percent = payload_number(level, "confidenceLevel")
        if not 0 <= percent <= 100:
            raise AnprPayloadError(f"confidenceLevel must be 0-100, got {level!r}")
        confidence = percent / 100.0
    at = iso_time(_text(root, "dateTime")) or received_at
    return AnprEvent(
        read=plate_read(normal, confidence, at, lane, "hikvision"),
        raw_plate=raw,
        vendor="hikvision",
        event_id=_text(root, "UUID"),
        camera=_text(root, "ipAddress") or _text(root, "macAddress"),
        channel=_text(root, "channelID"),
        direction=_text(anpr, "direction"),
        country=_text(anpr, "country"),
        vehicle_type=_text(anpr, "vehicleType"),
        plate_color=_text(anpr, "plateColor"),
        images=images,
    )


def parse_hikvision(body: bytes, content_type: str, *, lane: str | None = None,
                    received_at: datetime | None = None) -> AnprEvent | None:
    """Parse a Hikvision ISAPI ``EventNotificationAlert`` post.

    ``body`` is the raw request body; ``content_type`` its header
    (``multipart/form-data; boundary=...``, ``multipart/mixed; ...``,
    ``application/xml`` or ``text/xml``). ``confidenceLevel`` (0-100) becomes
    confidence 0..1 (0.0 when absent, so the attendant confirms);
    ``dateTime`` (ISO 8601 with offset) becomes ``at`` in UTC, or
    ``received_at`` (default now, UTC) when absent or without an offset.
    ``lane`` is put on the read (ISAPI names no lane).

    Returns None for a well-formed alert that is not a plate read (e.g. a
    ``videoloss`` heartbeat).

    :raises AnprPayloadError: broken XML, a ``DOCTYPE``/``ENTITY``, an
        encoding other than UTF-8/UTF-16 (see :func:`~hardware.anpr.common.load_xml`), another root element, an ANPR
        alert with no plate or a plate that is not one, a confidence outside
        0-100, no XML part, a content type that is neither XML nor multipart.
    """
    post = unpack(body, content_type)
    if post.xml is None:
        raise post.missing("XML")
    return hikvision_event(post.xml, post.images, lane, received_at or utc_now())
