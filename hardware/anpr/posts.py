"""One camera post: which vendor's format it is, and that vendor's parser.

``vendor`` is fixed per listener (``hikvision``, ``axis``, ``webhook``;
``json`` is an alias of ``webhook``) or ``auto``, which recognises each post:
an XML document (alone or as a multipart part) is Hikvision; a JSON object
with an Axis plate key (``plateUTF8``, ``plateText``...) is Axis, one with
``plate`` is the webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hardware.anpr.axis import AXIS_PLATE_KEYS, axis_event, parse_axis
from hardware.anpr.common import AnprEvent, AnprPayloadError, load_json, unpack
from hardware.anpr.hikvision import hikvision_event, parse_hikvision
from hardware.anpr.webhook import parse_webhook, webhook_event
from hardware.base import utc_now

__all__ = ["PARSERS", "VENDORS", "VENDOR_ALIASES", "parse_post"]

#: Each vendor's post parser: ``parser(body, content_type, lane=, received_at=)``.
PARSERS: dict[str, Callable[..., AnprEvent | None]] = {
    "hikvision": parse_hikvision,
    "axis": parse_axis,
    "webhook": parse_webhook,
}
#: ``vendor`` values; ``"json"`` is an alias of ``"webhook"``.
VENDORS = ("auto", *PARSERS)
VENDOR_ALIASES = {"json": "webhook"}


def parse_post(body: bytes, content_type: str | None, *, vendor: str = "auto", lane: str | None = None,
               received_at: datetime | None = None) -> AnprEvent | None:
    """Parse one camera post; ``vendor`` ``"auto"`` recognises the format (module docstring).

    ``received_at`` (default now, UTC) stands in for a post without a usable
    time. Returns None for a well-formed post that is not a plate read.

    :raises AnprPayloadError: an unknown vendor, an unsupported content type,
        or any error of the vendor's parser.
    """
    vendor = VENDOR_ALIASES.get(vendor, vendor)
    if vendor not in VENDORS:
        raise AnprPayloadError(f"unknown ANPR vendor {vendor!r}; use one of {', '.join(VENDORS)}")
    received_at = received_at or utc_now()
    if vendor in PARSERS:
        return PARSERS[vendor](body, content_type or "", lane=lane, received_at=received_at)
    post = unpack(body, content_type)
    if post.xml is not None:
        return hikvision_event(post.xml, post.images, lane, received_at)
    if post.json is None:
        raise post.missing("XML or JSON")
    data = load_json(post.json)
    if any(key in data for key in AXIS_PLATE_KEYS):
        return axis_event(data, post.images, lane, received_at)
    if "plate" in data:
        return webhook_event(data, lane, received_at)
    raise AnprPayloadError("no plate in the JSON (Axis plateText/plateUTF8, or webhook plate)")
