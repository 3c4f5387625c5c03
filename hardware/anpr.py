"""IP ANPR cameras that push plate events: an HTTP listener and its parsers.

An ANPR camera reads the plate itself and POSTs each read to a server it is
configured with ("alarm server", "HTTP listening", "push events"). This
module is that server: :class:`AnprListener` accepts

- **Hikvision ISAPI** ``EventNotificationAlert`` posts with ``eventType``
  ``ANPR``: ``multipart/form-data`` (or ``multipart/mixed``) whose XML part
  (``anpr.xml``) carries the read and whose ``image/jpeg`` (or
  ``image/pjpeg``) parts are ``licensePlatePicture.jpg`` /
  ``detectionPicture.jpg``; or the XML alone (``application/xml``,
  ``text/xml``). Both XML namespaces seen in the field are accepted
  (``http://www.hikvision.com/ver20/XMLSchema`` and
  ``http://www.isapi.org/ver20/XMLSchema``); tags are matched by local name.
- **Axis License Plate Verifier** push events (the FF Group LPR app that
  Axis ships): a JSON object (``application/json``, or the JSON part of a
  multipart post with the image as another part).
- **A plain JSON webhook** of this project:
  ``{"plate": "AB12CDE", "confidence": 0.93, "lane": "E1", "at": "2024-06-14T14:04:36Z"}``
  (``lane`` and ``at`` optional; ``at`` ISO 8601 with a UTC offset).

Every accepted read is answered ``200`` and delivered as a
:class:`~hardware.base.PlateRead` (plate in normal form, confidence 0..1,
``at`` UTC, ``source`` ``"hikvision"`` / ``"axis"`` / ``"webhook"``) to
``on_read``, and as an :class:`AnprEvent` (raw text, direction, country,
JPEG pictures...) to ``on_event`` when given. Callbacks run in order on
one delivery thread per listener (:class:`~hardware.base.EventDispatcher`);
one that raises is logged and the listener goes on. Malformed posts are
answered ``400`` (``405`` for a method other than POST, ``413`` for a body
over ``max_body``, ``411`` without ``Content-Length``, ``404`` for another
path) with a short text body and logged; nothing is delivered. Well-formed
posts that are not plate reads (a Hikvision ``videoloss`` heartbeat, an Axis
``lost`` event, a repeated Hikvision upload with the same ``UUID``) are
answered ``200`` and ignored.

Libraries: the HTTP server is the standard library's
:class:`http.server.ThreadingHTTPServer` (a well-kept library: one thread per
connection, here all daemon threads), multipart bodies are split by the
standard :mod:`email` parser (the request's ``Content-Type`` header is
prepended so it sees a MIME message), XML is read with
:mod:`xml.etree.ElementTree` (documents with a ``DOCTYPE`` are refused, so no
entity tricks), JSON with :mod:`json`. Nothing home-made parses HTTP,
MIME, XML or JSON here (only the Axis ``datetime`` string has a regex).

Vendor field names -- sources (found with the project's search tool):

- Hikvision, *Device Network SDK (Traffic) Developer Guide* V6.1.4.X
  (2022-03-11), section ``XML_EventNotificationAlert_ANPR``: root fields
  ``ipAddress``, ``macAddress``, ``channelID``, ``dateTime`` (xs:datetime,
  e.g. ``2017-04-22T15:39:01+08:00``), ``activePostCount``, ``eventType``
  (``"ANPR"``), ``eventState``, ``eventDescription``; namespace
  ``http://www.isapi.org/ver20/XMLSchema`` (copy on ftp.distriseg.uy).
  Hikvision *Intelligent Security API (ANPR) Developer Guide*, ch. 5
  "Alarm or Event Receiving" (scribd.com/document/672838341).
- Hikvision, a captured camera post (pastebin.com/raw/z5Bzjthh):
  ``multipart/form-data`` with parts ``anpr.xml`` (``text/xml``) and
  ``licensePlatePicture.jpg`` (``image/pjpeg``), ``ANPR`` with
  ``country`` "Poland", ``licensePlate`` GKW5KE2, ``confidenceLevel`` 93.
- Hikvision, a public test client emulating a DS-TCG405-E capture camera
  (GitHub code index): the ``ANPR`` element's ``country``,
  ``licensePlate``, ``line``, ``direction`` (``forward``/``reverse``),
  ``confidenceLevel`` (0-100), ``plateType``, ``plateColor``,
  ``vehicleType``, ``pictureInfoList`` (``detectionPicture.jpg``,
  ``licensePlatePicture.jpg``), ``originalLicensePlate``, and the root's
  ``UUID``.
- Axis/FF Group, "JSON Fields and Example for Protocol 1.6"
  (customerhub.ff-group.ai/portal/en/kb/articles/json-fields-protocol-1-6-js):
  ``packetCounter``, ``datetime`` (``YYYYMMDD HHMMSSFFF`` with an optional
  ``+HHMM``), ``plateUTF8``, ``plateUnicode``, ``plateText``,
  ``plateCountry`` (ISO 3166 alpha-3), ``plateConfidence`` (float),
  ``carState`` (``new``/``updated``/``lost``; samples send ``update``),
  ``carMoveDirection``
  (``unk``/``in``/``out``), ``plateImageType``, ``carID``,
  ``sensorProviderID``, ``roiID``, ``capture_timestamp``; "HTTP Multipart
  POST ... a JSON payload containing the event description and the
  associated image" (ffgroup911.zohodesk.com "API FF integration events").
- Axis, the CAMMRA AI / LPV user manual's "Sample json data" (GitHub code
  index) and a 2022 blog "Parking solution based on Axis LPV and
  ThingsBoard": full payloads with ``plateConfidence`` ``"0.868800"`` (a
  string), ``capture_timestamp`` in epoch milliseconds,
  ``camera_info.SerialNumber`` / ``ProdShortName``, ``plateRegion``,
  ``plateASCII``, ``imagesURI``.
- Axis, VAPIX "License plate verifier API"
  (developer.axis.com/vapix/applications/license-plate-verifier-api):
  NEW at first detection, UPDATE on a change, LOST 10 s after the last
  recognition; "access control systems use NEW and UPDATE events", which is
  why ``lost`` is ignored by default.
- ``imageArray`` (base64 pictures inside the JSON) is accepted when present
  but was not found in the sources; no picture is required.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import json
import logging
import re
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from attendant.core.errors import InputError
from attendant.core.plates import normalize_plate

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

log = logging.getLogger(__name__)

#: Largest body accepted, in bytes (a Hikvision post with two JPEGs is ~170 kB).
DEFAULT_MAX_BODY = 5 * 1024 * 1024
#: ``vendor`` values; ``"json"`` is an alias of ``"webhook"``.
VENDORS = ("auto", "hikvision", "axis", "webhook")
_VENDOR_ALIASES = {"json": "webhook"}

_XML_TYPES = ("application/xml", "text/xml")
_AXIS_PLATE_KEYS = ("plateUTF8", "plateText", "plateUnicode", "plateASCII")
_NO_PLATE = {"", "unknown", "none", "null"}
_AXIS_DATETIME = re.compile(r"^(\d{8}) (\d{6})(\d{3})?\s*(?:([+-])(\d{2}):?(\d{2}))?$")
_DUPLICATE_MEMORY = 256


class AnprPayloadError(InputError):
    """A post that is not a usable plate read; ``str(error)`` is the reason.

    ``status`` is the HTTP status it is answered with (400 unless said).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AnprEvent:
    """One plate event as the camera sent it, with the :class:`PlateRead` made of it.

    - ``raw_plate``: the plate text exactly as sent (``read.plate`` is its
      normal form).
    - ``vendor``: ``"hikvision"``, ``"axis"`` or ``"webhook"``.
    - ``event_id``: Hikvision ``UUID``; Axis ``carID``; else None.
    - ``camera``: who sent it (Hikvision ``ipAddress``/``macAddress``, Axis
      ``camera_info.SerialNumber`` or ``sensorProviderID``).
    - ``channel``: Hikvision ``channelID``, Axis ``roiID``.
    - ``direction``: as sent (Hikvision ``forward``/``reverse``, Axis
      ``in``/``out``/``unk``).
    - ``country``, ``vehicle_type``, ``plate_color``: as sent, or None.
    - ``state``: Axis ``carState`` (``new``/``update``/``lost``), else None.
    - ``images``: picture name -> bytes (JPEG as sent), possibly empty.
    """

    read: PlateRead
    raw_plate: str
    vendor: str
    event_id: str | None = None
    camera: str | None = None
    channel: str | None = None
    direction: str | None = None
    country: str | None = None
    vehicle_type: str | None = None
    plate_color: str | None = None
    state: str | None = None
    images: Mapping[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", MappingProxyType(dict(self.images)))


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Part:
    name: str
    content_type: str
    data: bytes


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json_type(media: str) -> bool:
    return media in ("application/json", "text/json") or media.endswith("+json")


def _multipart(body: bytes, content_type: str) -> list[_Part]:
    """Split a multipart body with the stdlib email parser. :raises AnprPayloadError:"""
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    try:
        message = BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    except Exception as error:  # noqa: BLE001 - any parser failure is a malformed post
        raise AnprPayloadError(f"unreadable multipart body: {error}") from None
    if not message.is_multipart():
        raise AnprPayloadError("multipart post without a usable boundary")
    parts: list[_Part] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        name = part.get_filename() or part.get_param("name", header="content-disposition") or ""
        parts.append(_Part(str(name), part.get_content_type().lower(), payload))
    if not parts:
        raise AnprPayloadError("multipart post with no parts")
    return parts


def _looks_xml(part: _Part) -> bool:
    return (part.content_type.endswith("xml") or part.name.lower().endswith(".xml")
            or part.data.lstrip()[:1] == b"<")


def _looks_json(part: _Part) -> bool:
    return (_is_json_type(part.content_type) or part.name.lower().endswith(".json")
            or part.data.lstrip()[:1] == b"{")


def _images(parts: Iterable[_Part]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for index, part in enumerate(parts):
        if part.content_type.startswith("image/") and part.data:
            found[part.name or f"picture{index}"] = part.data
    return found


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


def _plate(raw: object) -> tuple[str, str]:
    """(raw text, normal form). :raises AnprPayloadError: no plate or not a plate."""
    if not isinstance(raw, str) or raw.strip().lower() in _NO_PLATE:
        raise AnprPayloadError("no plate in the post")
    try:
        return raw, normalize_plate(raw)
    except InputError:
        raise AnprPayloadError(f"plate {raw!r} is not a licence plate (2-10 letters or digits)") from None


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise AnprPayloadError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AnprPayloadError(f"{what} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise AnprPayloadError(f"{what} must be a number, got {value!r}")
    return number


def _aware_utc(value: datetime) -> datetime | None:
    if value.tzinfo is None or value.utcoffset() is None:
        return None
    return value.astimezone(UTC)


def _iso_time(text: str | None) -> datetime | None:
    """An ISO 8601 time with offset as UTC; None when absent, naive or unreadable."""
    if not text:
        return None
    try:
        return _aware_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        return None


def _read(plate: str, confidence: float, at: datetime, lane: str | None, source: str) -> PlateRead:
    try:
        return PlateRead(plate, confidence, at, lane, source)
    except InputError as error:  # pragma: no cover - inputs are checked before
        raise AnprPayloadError(str(error)) from None


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise AnprPayloadError(f"invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise AnprPayloadError("the JSON body must be an object")
    return data


# --------------------------------------------------------------------------- Hikvision


def _hikvision_xml(xml: bytes, images: Mapping[str, bytes], lane: str | None,
                   received_at: datetime) -> AnprEvent | None:
    head = xml[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in xml.upper():
        raise AnprPayloadError("XML with a DOCTYPE or ENTITY is refused")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        raise AnprPayloadError(f"invalid XML: {error}") from None
    if _local(root.tag) != "EventNotificationAlert":
        raise AnprPayloadError(f"XML root is <{_local(root.tag)}>, not <EventNotificationAlert>")
    event_type = (_text(root, "eventType") or "").upper()
    anpr = _child(root, "ANPR")
    if anpr is None:
        if event_type == "ANPR":
            raise AnprPayloadError("ANPR alert without an <ANPR> element")
        log.debug("Hikvision %s event ignored (not a plate read)", event_type or "untyped")
        return None
    raw, plate = _plate(_text(anpr, "licensePlate") or _text(anpr, "originalLicensePlate"))
    level = _text(anpr, "confidenceLevel")
    if level is None:
        confidence = 0.0  # unknown: the attendant confirms (see needs_confirmation)
    else:
        percent = _number(level, "confidenceLevel")
        if not 0 <= percent <= 100:
            raise AnprPayloadError(f"confidenceLevel must be 0-100, got {level!r}")
        confidence = percent / 100.0
    at = _iso_time(_text(root, "dateTime")) or received_at
    return AnprEvent(
        read=_read(plate, confidence, at, lane, "hikvision"),
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

    :raises AnprPayloadError: broken XML, another root element, an ANPR
        alert with no plate or a plate that is not one, a confidence outside
        0-100, no XML part, a content type that is neither XML nor multipart.
    """
    received_at = received_at or utc_now()
    media = _media_type(content_type)
    if media.startswith("multipart/"):
        parts = _multipart(body, content_type)
        xml_part = next((part for part in parts if _looks_xml(part)), None)
        if xml_part is None:
            raise AnprPayloadError("multipart post without an XML part")
        return _hikvision_xml(xml_part.data, _images(parts), lane, received_at)
    if media in _XML_TYPES:
        return _hikvision_xml(body, {}, lane, received_at)
    raise AnprPayloadError(f"content type {media or 'missing'!r} is not XML or multipart")


# --------------------------------------------------------------------------- Axis


def _axis_time(data: Mapping[str, Any], received_at: datetime) -> datetime:
    stamp = data.get("capture_timestamp")
    if stamp is not None and not isinstance(stamp, bool):
        try:
            millis = int(str(stamp).strip())
        except ValueError:
            millis = 0
        if 946_684_800_000 <= millis <= 32_503_680_000_000:  # 2000-01-01 .. 3000-01-01, epoch ms
            return datetime.fromtimestamp(millis / 1000, UTC)
    text = data.get("datetime")
    if isinstance(text, str):
        match = _AXIS_DATETIME.match(text.strip())
        if match and match.group(4):
            date, clock, millis_text, sign, hours, minutes = match.groups()
            offset = timedelta(hours=int(hours), minutes=int(minutes))
            try:
                local = datetime.strptime(date + clock, "%Y%m%d%H%M%S").replace(
                    microsecond=int(millis_text or 0) * 1000,
                    tzinfo=timezone(offset if sign == "+" else -offset))
            except ValueError:
                return received_at
            return local.astimezone(UTC)
    return received_at  # a camera-local time without a zone cannot be placed in UTC


def _axis_images(data: Mapping[str, Any]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    array = data.get("imageArray", data.get("ImageArray"))
    if not isinstance(array, list):
        return found
    for index, item in enumerate(array):
        if not isinstance(item, dict):
            continue
        encoded = next((item[key] for key in ("BinaryImage", "binaryImage", "image", "data", "base64")
                        if isinstance(item.get(key), str)), None)
        if encoded is None:
            continue
        kind = item.get("ImageType") or item.get("imageType") or item.get("type") or f"picture{index}"
        try:
            found[f"{kind}.jpg"] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            log.info("Axis event: picture %s is not base64; skipped", kind)
    return found


def _axis_event(data: Mapping[str, Any], images: Mapping[str, bytes], lane: str | None,
                received_at: datetime) -> AnprEvent:
    raw_value = next((data[key] for key in _AXIS_PLATE_KEYS if isinstance(data.get(key), str)
                      and data[key].strip()), None)
    raw, plate = _plate(raw_value)
    value = data.get("plateConfidence")
    if value is None or value == "":
        confidence = 0.0  # unknown: the attendant confirms
    else:
        confidence = _number(value, "plateConfidence")
        if 1.0 < confidence <= 100.0:  # some versions report a percentage
            confidence /= 100.0
        if not 0.0 <= confidence <= 1.0:
            raise AnprPayloadError(f"plateConfidence must be 0..1, got {value!r}")
    info = data.get("camera_info") if isinstance(data.get("camera_info"), dict) else {}

    def text(value: object) -> str | None:
        if value is None or isinstance(value, (dict, list)):
            return None
        return str(value).strip() or None

    pictures = dict(images)
    pictures.update(_axis_images(data))
    return AnprEvent(
        read=_read(plate, confidence, _axis_time(data, received_at), lane, "axis"),
        raw_plate=raw,
        vendor="axis",
        event_id=text(data.get("carID")),
        camera=text(info.get("SerialNumber")) or text(data.get("sensorProviderID")),
        channel=text(data.get("roiID")),
        direction=text(data.get("carMoveDirection")),
        country=text(data.get("plateCountry")),
        vehicle_type=text((data.get("vehicle_info") or {}).get("type"))
        if isinstance(data.get("vehicle_info"), dict) else None,
        state=(text(data.get("carState")) or "").lower() or None,
        images=pictures,
    )


def parse_axis(body: bytes, content_type: str, *, lane: str | None = None,
               received_at: datetime | None = None) -> AnprEvent:
    """Parse an Axis License Plate Verifier push event (JSON, or multipart with a JSON part).

    The plate is the first non-empty of ``plateUTF8``, ``plateText``,
    ``plateUnicode``, ``plateASCII``; ``plateConfidence`` (a number or a
    numeric string, 0..1; a 0-100 value is divided by 100; 0.0 when absent);
    ``at`` from ``capture_timestamp`` (epoch ms, UTC), else ``datetime``
    when it carries ``+HHMM``, else ``received_at`` (default now, UTC).
    Pictures: ``image/*`` parts of a multipart post and base64
    ``imageArray`` entries.

    :raises AnprPayloadError: invalid JSON, not an object, no plate, a
        confidence that is not a number in range, an unsupported content type.
    """
    received_at = received_at or utc_now()
    media = _media_type(content_type)
    images: dict[str, bytes] = {}
    if media.startswith("multipart/"):
        parts = _multipart(body, content_type)
        json_part = next((part for part in parts if _looks_json(part)), None)
        if json_part is None:
            raise AnprPayloadError("multipart post without a JSON part")
        body, images = json_part.data, _images(parts)
    elif not _is_json_type(media):
        raise AnprPayloadError(f"content type {media or 'missing'!r} is not JSON or multipart")
    return _axis_event(_load_json(body), images, lane, received_at)


# --------------------------------------------------------------------------- webhook


def _webhook_event(data: Mapping[str, Any], lane: str | None, received_at: datetime) -> AnprEvent:
    raw, plate = _plate(data.get("plate"))
    if "confidence" not in data:
        raise AnprPayloadError("webhook post without a confidence (0..1)")
    value = data["confidence"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnprPayloadError(f"confidence must be a number 0..1, got {value!r}")
    confidence = _number(value, "confidence")
    if not 0.0 <= confidence <= 1.0:
        raise AnprPayloadError(f"confidence must be between 0 and 1, got {value!r}")
    post_lane = data.get("lane")
    if post_lane is not None and (not isinstance(post_lane, str) or not post_lane.strip()):
        raise AnprPayloadError(f"lane must be non-empty text, got {post_lane!r}")
    at = received_at
    if data.get("at") is not None:
        if not isinstance(data["at"], str):
            raise AnprPayloadError(f"at must be an ISO 8601 time, got {data['at']!r}")
        try:
            parsed = datetime.fromisoformat(data["at"].strip())
        except ValueError:
            raise AnprPayloadError(f"at is not an ISO 8601 time: {data['at']!r}") from None
        aware = _aware_utc(parsed)
        if aware is None:
            raise AnprPayloadError(f"at must carry a UTC offset (e.g. Z or +01:00): {data['at']!r}")
        at = aware
    return AnprEvent(
        read=_read(plate, confidence, at, post_lane.strip() if post_lane else lane, "webhook"),
        raw_plate=raw,
        vendor="webhook",
        camera=data.get("camera") if isinstance(data.get("camera"), str) else None,
    )


def parse_webhook(body: bytes, content_type: str, *, lane: str | None = None,
                  received_at: datetime | None = None) -> AnprEvent:
    """Parse this project's plain JSON webhook.

    Body: ``{"plate": str, "confidence": number 0..1, "lane": str (optional),
    "at": ISO 8601 with offset (optional, default ``received_at`` or now)}``.
    The post's ``lane`` wins over the listener's ``lane``.

    :raises AnprPayloadError: not JSON, not an object, no plate, a missing
        or out-of-range confidence, an empty lane, a naive or unreadable ``at``.
    """
    if not _is_json_type(_media_type(content_type)):
        raise AnprPayloadError(f"content type {_media_type(content_type) or 'missing'!r} is not JSON")
    return _webhook_event(_load_json(body), lane, received_at or utc_now())


# --------------------------------------------------------------------------- dispatch


def parse_post(body: bytes, content_type: str | None, *, vendor: str = "auto", lane: str | None = None,
               received_at: datetime | None = None) -> AnprEvent | None:
    """Parse one camera post; ``vendor`` ``"auto"`` recognises the format.

    Auto: a multipart post with an XML part, or an XML body, is Hikvision; a
    JSON object with an Axis plate key (``plateUTF8``, ``plateText``...) is
    Axis, one with ``plate`` is the webhook; a multipart post with a JSON
    part is Axis or webhook by the same rule. Returns None for a well-formed
    post that is not a plate read.

    :raises AnprPayloadError: an unknown vendor, an unsupported content type,
        or any error of the vendor's parser.
    """
    vendor = _VENDOR_ALIASES.get(vendor, vendor)
    if vendor not in VENDORS:
        raise AnprPayloadError(f"unknown ANPR vendor {vendor!r}; use one of {', '.join(VENDORS)}")
    received_at = received_at or utc_now()
    content_type = content_type or ""
    if vendor == "hikvision":
        return parse_hikvision(body, content_type, lane=lane, received_at=received_at)
    if vendor == "axis":
        return parse_axis(body, content_type, lane=lane, received_at=received_at)
    if vendor == "webhook":
        return parse_webhook(body, content_type, lane=lane, received_at=received_at)
    media = _media_type(content_type)
    images: dict[str, bytes] = {}
    if media.startswith("multipart/"):
        parts = _multipart(body, content_type)
        xml_part = next((part for part in parts if _looks_xml(part)), None)
        if xml_part is not None:
            return _hikvision_xml(xml_part.data, _images(parts), lane, received_at)
        json_part = next((part for part in parts if _looks_json(part)), None)
        if json_part is None:
            raise AnprPayloadError("multipart post without an XML or JSON part")
        body, images = json_part.data, _images(parts)
    elif media in _XML_TYPES:
        return _hikvision_xml(body, {}, lane, received_at)
    elif not _is_json_type(media):
        raise AnprPayloadError(f"content type {media or 'missing'!r} is not XML, JSON or multipart")
    data = _load_json(body)
    if any(key in data for key in _AXIS_PLATE_KEYS):
        return _axis_event(data, images, lane, received_at)
    if "plate" in data:
        return _webhook_event(data, lane, received_at)
    raise AnprPayloadError("no plate in the JSON (Axis plateText/plateUTF8, or webhook plate)")


# --------------------------------------------------------------------------- listener


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
      comes 10 s after the car left, see the module docstring); the others
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
        vendor = _VENDOR_ALIASES.get(vendor, vendor)
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
