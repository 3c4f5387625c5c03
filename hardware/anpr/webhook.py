"""This project's plain JSON webhook, for integrators and cameras that can post any JSON.

``{"plate": "AB12CDE", "confidence": 0.93, "lane": "E1", "at": "2024-06-14T14:04:36Z"}``
(``lane`` and ``at`` optional; ``at`` ISO 8601 with a UTC offset), posted as
``application/json``. An optional ``"image"`` carries the plate picture as
base64 (standard alphabet, RFC 4648, read by :mod:`base64`) of a JPEG or PNG;
the read then carries it (``PlateRead.image``, :mod:`hardware.plate_picture`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hardware.anpr.common import (
    AnprEvent,
    AnprPayloadError,
    aware_utc,
    is_json_type,
    load_json,
    media_type,
    payload_number,
    plate,
    plate_read,
)
from hardware.base import utc_now

__all__ = ["parse_webhook", "webhook_event"]


def webhook_event(data: Mapping[str, Any], lane: str | None, received_at: datetime) -> AnprEvent:
    """The event of one webhook JSON object; its ``lane`` wins over ``lane``."""
    raw, normal = plate(data.get("plate"))
    if "confidence" not in data:
        raise AnprPayloadError("webhook post without a confidence (0..1)")
    value = data["confidence"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnprPayloadError(f"confidence must be a number 0..1, got {value!r}")
    confidence = payload_number(value, "confidence")
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
        aware = aware_utc(parsed)
        if aware is None:
            raise AnprPayloadError(f"at must carry a UTC offset (e.g. Z or +01:00): {data['at']!r}")
        at = aware
    images: dict[str, bytes] = {}
    if data.get("image") is not None:
        encoded = data["image"]
        problem = AnprPayloadError("image must be a base64 JPEG or PNG (standard alphabet)")
        if not isinstance(encoded, str):
            raise problem
        try:
            images["image"] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise problem from None
    return AnprEvent(
        read=plate_read(normal, confidence, at, post_lane.strip() if post_lane else lane, "webhook"),
        raw_plate=raw,
        vendor="webhook",
        camera=data.get("camera") if isinstance(data.get("camera"), str) else None,
        images=images,
    )


def parse_webhook(body: bytes, content_type: str, *, lane: str | None = None,
                  received_at: datetime | None = None) -> AnprEvent:
    """Parse this project's plain JSON webhook.

    Body: ``{"plate": str, "confidence": number 0..1, "lane": str (optional),
    "at": ISO 8601 with offset (optional, default ``received_at`` or now),
    "image": base64 JPEG or PNG of the plate (optional)}``.
    The post's ``lane`` wins over the listener's ``lane``.

    :raises AnprPayloadError: not JSON, not an object, no plate, a missing
        or out-of-range confidence, an empty lane, a naive or unreadable ``at``,
        an ``image`` that is not base64 text (base64 of bytes that are not a
        picture is accepted: the read goes on without a picture).
    """
    media = media_type(content_type)
    if not is_json_type(media):
        raise AnprPayloadError(f"content type {media or 'missing'!r} is not JSON")
    return webhook_event(load_json(body), lane, received_at or utc_now())
