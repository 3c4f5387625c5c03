"""What every ANPR payload parser shares: the event, the error, and post unpacking.

Libraries (nothing home-made parses MIME or JSON): multipart bodies are split
by the standard :mod:`email` parser (the request's ``Content-Type`` header is
prepended so it sees a MIME message); JSON is read with :mod:`json`.
"""

from __future__ import annotations

import email.policy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from types import MappingProxyType
from typing import Any

from attendant.core.errors import InputError
from attendant.core.plates import normalize_plate

from hardware.base import PlateRead

__all__ = [
    "AnprEvent",
    "AnprPayloadError",
    "Post",
    "XML_TYPES",
    "aware_utc",
    "iso_time",
    "load_json",
    "media_type",
    "is_json_type",
    "payload_number",
    "plate",
    "plate_read",
    "unpack",
]

#: Content types of an XML body.
XML_TYPES = ("application/xml", "text/xml")
_NO_PLATE = {"", "unknown", "none", "null"}


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


@dataclass(frozen=True)
class _Part:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Post:
    """A camera post unpacked: its ``media`` type, whether it was ``multipart``,
    the first ``xml`` document and the first ``json`` body it carries (None
    when absent) and its pictures (``images``: part name -> bytes)."""

    media: str
    multipart: bool
    xml: bytes | None
    json: bytes | None
    images: dict[str, bytes] = field(default_factory=dict)

    def missing(self, formats: str) -> AnprPayloadError:
        """The error for a post that carries none of ``formats`` ("XML", "JSON", "XML or JSON")."""
        if self.multipart:
            article = "an" if formats.startswith("XML") else "a"
            return AnprPayloadError(f"multipart post without {article} {formats} part")
        return AnprPayloadError(f"content type {self.media or 'missing'!r} is not {formats} or multipart")


def unpack(body: bytes, content_type: str | None) -> Post:
    """Split a post by its content type: a multipart body into its XML, JSON and
    image parts; an XML or JSON body as itself. :raises AnprPayloadError: a
    multipart body without a boundary or without parts."""
    media = media_type(content_type)
    if media.startswith("multipart/"):
        parts = _multipart(body, content_type or "")
        return Post(media, True, next((part.data for part in parts if _looks_xml(part)), None),
                    next((part.data for part in parts if _looks_json(part)), None), _images(parts))
    return Post(media, False, body if media in XML_TYPES else None, body if is_json_type(media) else None)


def media_type(content_type: str | None) -> str:
    """``"multipart/form-data"`` from ``"multipart/form-data; boundary=..."`` (lower case)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_type(media: str) -> bool:
    """``application/json``, ``text/json`` or any ``+json`` type."""
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
    return (is_json_type(part.content_type) or part.name.lower().endswith(".json")
            or part.data.lstrip()[:1] == b"{")


def _images(parts: Iterable[_Part]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for index, part in enumerate(parts):
        if part.content_type.startswith("image/") and part.data:
            found[part.name or f"picture{index}"] = part.data
    return found


def plate(raw: object) -> tuple[str, str]:
    """(raw text, normal form) of a plate as sent. :raises AnprPayloadError: no plate or not a plate."""
    if not isinstance(raw, str) or raw.strip().lower() in _NO_PLATE:
        raise AnprPayloadError("no plate in the post")
    try:
        return raw, normalize_plate(raw)
    except InputError:
        raise AnprPayloadError(f"plate {raw!r} is not a licence plate (2-10 letters or digits)") from None


def payload_number(value: object, what: str) -> float:
    """A finite number from a payload field ``what``. :raises AnprPayloadError: anything else."""
    if isinstance(value, bool):
        raise AnprPayloadError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AnprPayloadError(f"{what} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise AnprPayloadError(f"{what} must be a number, got {value!r}")
    return number


def aware_utc(value: datetime) -> datetime | None:
    """``value`` in UTC, or None when it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        return None
    return value.astimezone(UTC)


def iso_time(text: str | None) -> datetime | None:
    """An ISO 8601 time with offset as UTC; None when absent, naive or unreadable."""
    if not text:
        return None
    try:
        return aware_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        return None


def plate_read(text: str, confidence: float, at: datetime, lane: str | None, source: str) -> PlateRead:
    """The :class:`PlateRead` of a checked payload."""
    try:
        return PlateRead(text, confidence, at, lane, source)
    except InputError as error:  # pragma: no cover - inputs are checked before
        raise AnprPayloadError(str(error)) from None


def load_json(body: bytes) -> dict[str, Any]:
    """The JSON object of ``body``. :raises AnprPayloadError: invalid JSON, not an object."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise AnprPayloadError(f"invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise AnprPayloadError("the JSON body must be an object")
    return data
