"""What every ANPR payload parser shares: the event, the error, and post unpacking.

Libraries (nothing home-made parses MIME, XML or JSON): multipart bodies are
split by the standard :mod:`email` parser (the request's ``Content-Type``
header is prepended so it sees a MIME message); JSON is read with :mod:`json`;
XML with ``defusedxml`` (:class:`defusedxml.ElementTree.DefusedXMLParser`,
which refuses DTDs, entity declarations and external references at the expat
level, whatever the document's encoding).

Bounds (each breach is a 400 :class:`AnprPayloadError`, never a 500): XML
at most :data:`MAX_XML_DEPTH` levels and :data:`MAX_XML_ELEMENTS` elements,
UTF-8 or UTF-16 only (:func:`decode_xml`); JSON at most
:data:`MAX_JSON_DEPTH` levels and :data:`MAX_JSON_VALUES` values; multipart
at most :data:`MAX_PARTS` parts. The body itself is bounded by the
listener's ``max_body``. A Hikvision alert is 5 levels and ~40 elements, an
Axis event 3 levels and ~60 values, a camera post 2-4 parts.
"""

from __future__ import annotations

import codecs
import email.policy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.parser import BytesParser
from types import MappingProxyType
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from attendant.core.errors import InputError
from attendant.core.plates import normalize_plate

from hardware.base import PlateRead
from hardware.plate_picture import event_picture

__all__ = [
    "AnprEvent",
    "AnprPayloadError",
    "MAX_JSON_DEPTH",
    "MAX_JSON_VALUES",
    "MAX_PARTS",
    "MAX_XML_DEPTH",
    "MAX_XML_ELEMENTS",
    "Post",
    "XML_TYPES",
    "aware_utc",
    "decode_xml",
    "iso_time",
    "load_json",
    "load_xml",
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
#: Deepest XML element nesting accepted (a Hikvision alert nests 5 levels).
MAX_XML_DEPTH = 32
#: Most XML elements in one document (a Hikvision alert has ~40).
MAX_XML_ELEMENTS = 4096
#: Deepest JSON nesting accepted (an Axis event nests 3 levels).
MAX_JSON_DEPTH = 32
#: Most JSON values (objects, arrays, strings, numbers...) in one body (an Axis event has ~60).
MAX_JSON_VALUES = 10_000
#: Most parts in one multipart post (a Hikvision post has 2-4).
MAX_PARTS = 16


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

    ``read.image`` is made here from ``images`` when the read has none: the
    plate picture (or else the first picture) as a small PNG
    (:func:`hardware.plate_picture.event_picture`), so every consumer of
    ``on_read`` gets it; None when no picture came or none decodes.
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
        if self.images and self.read.image is None:
            picture = event_picture(self.images)
            if picture is not None:
                object.__setattr__(self, "read", replace(self.read, image=picture))


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
    """Split a multipart body with the stdlib email parser. :raises AnprPayloadError:
    more than :data:`MAX_PARTS` parts (counted before parsing), no boundary, no parts."""
    # Every delimiter line (RFC 2046 5.1.1: CRLF "--" boundary), nested ones
    # included, starts with "\n--": counting them bounds the parser's work
    # before it runs (a JPEG holds that sequence about once per 16 MB).
    delimiters = body.count(b"\n--") + body.startswith(b"--")
    if delimiters > MAX_PARTS + 1:
        raise AnprPayloadError(f"multipart post with more than {MAX_PARTS} parts")
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
    """The JSON object of ``body`` (UTF-8, UTF-16 or UTF-32, as :func:`json.loads` detects).

    :raises AnprPayloadError: invalid JSON, not an object, nested deeper than
        :data:`MAX_JSON_DEPTH` or holding more than :data:`MAX_JSON_VALUES` values.
    """
    try:
        data = json.loads(body)
    except RecursionError:
        raise AnprPayloadError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise AnprPayloadError(f"invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise AnprPayloadError("the JSON body must be an object")
    _check_json_shape(data)
    return data


def _check_json_shape(data: object) -> None:
    """:raises AnprPayloadError: ``data`` deeper than MAX_JSON_DEPTH or larger than MAX_JSON_VALUES."""
    count = 0
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:  # iterative: a deep document cannot exhaust the stack here
        value, depth = stack.pop()
        count += 1
        if count > MAX_JSON_VALUES:
            raise AnprPayloadError(f"JSON with more than {MAX_JSON_VALUES} values")
        if depth > MAX_JSON_DEPTH:
            raise AnprPayloadError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


#: Byte-order marks -> codec; UTF-32 ones are checked first (FF FE 00 00 starts like UTF-16 LE).
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_UTF16 = ("utf-16", "utf-16-le", "utf-16-be")
_SHOWN = {"utf-8": "UTF-8", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE"}


def decode_xml(data: bytes) -> tuple[str, str, bool]:
    """``(text, codec, bom)``: an XML document's bytes decoded strictly.

    The codec comes from the bytes (XML 1.0 appendix F): a UTF-8 or UTF-16
    byte-order mark; else a NUL among the first two bytes (never in UTF-8 XML,
    where NUL is not allowed) is UTF-16 without a mark, little-endian when the
    NUL is second (``<\\0``); else UTF-8. ``codec`` is ``"utf-8"``,
    ``"utf-16-le"`` or ``"utf-16-be"``; ``bom`` says whether a mark was there
    (it is not part of ``text``).

    :raises AnprPayloadError: UTF-32 (or another 4-byte form), bytes that
        are not valid in the detected encoding, a NUL character.
    """
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) or data[:4] in (b"<\0\0\0", b"\0\0\0<"):
        raise AnprPayloadError("XML in UTF-32 is refused; send UTF-8 or UTF-16")
    for mark, codec in _BOMS:
        if data.startswith(mark):
            data, bom = data[len(mark):], True
            break
    else:
        bom = False
        if len(data) >= 2 and data[1] == 0 and data[0] != 0:
            codec = "utf-16-le"
        elif len(data) >= 2 and data[0] == 0 and data[1] != 0:
            codec = "utf-16-be"
        else:
            codec = "utf-8"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        raise AnprPayloadError(f"XML is not valid {_SHOWN[codec]} ({error.reason} at byte {error.start}); "
                               "send UTF-8 or UTF-16") from None
    if "\0" in text:  # never allowed in XML (expat lets some through); UTF-32 read as UTF-16 shows them
        raise AnprPayloadError(f"XML read as {_SHOWN[codec]} holds NUL characters (UTF-32?); send UTF-8 or UTF-16")
    return text, codec, bom


def _check_declared(declared: str | None, codec: str, bom: bool) -> None:
    """:raises AnprPayloadError: the XML declaration's ``encoding`` disagrees with the bytes."""
    if declared is None:
        return  # no declaration: UTF-8, or UTF-16 told by its mark or its NULs
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        raise AnprPayloadError(f"XML declares an unknown encoding {declared!r}; send UTF-8 or UTF-16") from None
    if name != "utf-8" and name not in _UTF16:
        raise AnprPayloadError(f"XML declares encoding {declared!r}; only UTF-8 and UTF-16 are accepted")
    if (name in _UTF16) != (codec in _UTF16) or (name in ("utf-16-le", "utf-16-be") and name != codec):
        how = " with a byte-order mark" if bom else ""
        raise AnprPayloadError(f"XML declares encoding {declared!r} but is sent as {_SHOWN[codec]}{how}")


class _BoundedTree:
    """An ElementTree :class:`~xml.etree.ElementTree.TreeBuilder` that refuses
    documents deeper than MAX_XML_DEPTH or larger than MAX_XML_ELEMENTS while
    they are parsed (the parser stops at the first breach)."""

    def __init__(self) -> None:
        self._tree = TreeBuilder()
        self._depth = 0
        self._count = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        self._count += 1
        if self._depth > MAX_XML_DEPTH:
            raise AnprPayloadError(f"XML nested deeper than {MAX_XML_DEPTH} levels")
        if self._count > MAX_XML_ELEMENTS:
            raise AnprPayloadError(f"XML with more than {MAX_XML_ELEMENTS} elements")
        return self._tree.start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return self._tree.end(tag)

    def data(self, data: str) -> None:
        self._tree.data(data)

    def close(self) -> Element:
        return self._tree.close()


def load_xml(data: bytes) -> Element:
    """The root element of an XML document, parsed with ``defusedxml``.

    The bytes are decoded first (:func:`decode_xml`), then parsed as text by
    :class:`~defusedxml.ElementTree.DefusedXMLParser` with DTDs, entity
    declarations and external references forbidden -- so a ``DOCTYPE`` is
    refused whether the document is UTF-8, UTF-16 with or without a mark, or
    declares another encoding; the XML declaration's ``encoding`` must then
    agree with the bytes.

    :raises AnprPayloadError: (all answered 400) a ``DOCTYPE``/``ENTITY``/external
        reference, an encoding other than UTF-8/UTF-16 or one that disagrees
        with the declaration, bytes that do not decode, broken XML, more than
        MAX_XML_DEPTH levels or MAX_XML_ELEMENTS elements.
    """
    text, codec, bom = decode_xml(data)
    parser = DefusedXMLParser(target=_BoundedTree(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    declared: list[str | None] = []
    # defusedxml's parser is ElementTree's pure-Python one: .parser is its expat parser.
    parser.parser.XmlDeclHandler = lambda version, encoding, standalone: declared.append(encoding)
    try:
        # Text goes to expat as UTF-8 with its encoding set by pyexpat, so the
        # declaration cannot switch expat to another decoder.
        parser.feed(text)
        root = parser.close()
    except DefusedXmlException as error:
        raise AnprPayloadError(f"XML with a DOCTYPE, ENTITY or external reference is refused "
                               f"({type(error).__name__})") from None
    except SyntaxError as error:  # ElementTree's ParseError
        raise AnprPayloadError(f"invalid XML: {error}") from None
    _check_declared(declared[0] if declared else None, codec, bom)
    return root
