"""Axis License Plate Verifier push events (the FF Group LPR app that Axis ships).

A JSON object (``application/json``), or the JSON part of a multipart post
with the image as another part; JSON is read with :mod:`json` (only the
``datetime`` string has a regex).

Field names -- sources (found with the project's search tool):

- Axis/FF Group, "JSON Fields and Example for Protocol 1.6"
  (customerhub.ff-group.ai/portal/en/kb/articles/json-fields-protocol-1-6-js):
  ``packetCounter``, ``datetime`` (``YYYYMMDD HHMMSSFFF`` with an optional
  ``+HHMM``), ``plateUTF8``, ``plateUnicode``, ``plateText``,
  ``plateCountry`` (ISO 3166 alpha-3), ``plateConfidence`` (float),
  ``carState`` (``new``/``updated``/``lost``; samples send ``update``),
  ``carMoveDirection`` (``unk``/``in``/``out``), ``plateImageType``,
  ``carID``, ``sensorProviderID``, ``roiID``, ``capture_timestamp``; "HTTP
  Multipart POST ... a JSON payload containing the event description and the
  associated image" (ffgroup911.zohodesk.com "API FF integration events").
- The CAMMRA AI / LPV user manual's "Sample json data" (GitHub code index)
  and a 2022 blog "Parking solution based on Axis LPV and ThingsBoard": full
  payloads with ``plateConfidence`` ``"0.868800"`` (a string),
  ``capture_timestamp`` in epoch milliseconds, ``camera_info.SerialNumber``
  / ``ProdShortName``, ``plateRegion``, ``plateASCII``, ``imagesURI``.
- VAPIX "License plate verifier API"
  (developer.axis.com/vapix/applications/license-plate-verifier-api): NEW at
  first detection, UPDATE on a change, LOST 10 s after the last recognition;
  "access control systems use NEW and UPDATE events", which is why the
  listener ignores ``lost`` by default.
- ``imageArray`` (base64 pictures inside the JSON) is accepted when present
  but was not found in the sources; no picture is required.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hardware.anpr.common import (
    AnprEvent,
    AnprPayloadError,
    load_json,
    payload_number,
    plate,
    plate_read,
    unpack,
)
from hardware.base import utc_now

__all__ = ["AXIS_PLATE_KEYS", "axis_event", "parse_axis"]

log = logging.getLogger(__name__)

#: Keys that carry the plate, in the order they are tried; a JSON object with one is an Axis event.
AXIS_PLATE_KEYS = ("plateUTF8", "plateText", "plateUnicode", "plateASCII")
_AXIS_DATETIME = re.compile(r"^(\d{8}) (\d{6})(\d{3})?\s*(?:([+-])(\d{2}):?(\d{2}))?$")


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


def axis_event(data: Mapping[str, Any], images: Mapping[str, bytes], lane: str | None,
               received_at: datetime) -> AnprEvent:
    """The event of one Axis JSON object (``images``: pictures from other multipart parts)."""
    raw_value = next((data[key] for key in AXIS_PLATE_KEYS if isinstance(data.get(key), str)
                      and data[key].strip()), None)
    raw, normal = plate(raw_value)
    value = data.get("plateConfidence")
    if value is None or value == "":
        confidence = 0.0  # unknown: the attendant confirms
    else:
        confidence = payload_number(value, "plateConfidence")
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
        read=plate_read(normal, confidence, _axis_time(data, received_at), lane, "axis"),
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
    post = unpack(body, content_type)
    if post.json is None:
        raise post.missing("JSON")
    return axis_event(load_json(post.json), post.images, lane, received_at or utc_now())
