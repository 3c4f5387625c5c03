"""IP ANPR listener: real HTTP posts over a real socket, real vendor field names.

The Hikvision bodies copy the shape of a captured camera post
(``multipart/form-data`` with ``anpr.xml`` and JPEG parts, each with its own
``Content-Length``) and the ``ANPR`` fields of a DS-TCG405-E; the Axis body
copies the LPV "Sample json data" (plateConfidence as a string,
capture_timestamp in epoch ms). Sources are listed in hardware/anpr/hikvision.py
and hardware/anpr/axis.py.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import queue
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from attendant.core.errors import InputError
from hardware.anpr import (
    AnprEvent,
    AnprListener,
    AnprPayloadError,
    parse_axis,
    parse_hikvision,
    parse_post,
    parse_webhook,
)
from hardware.base import DeviceError, DeviceState, PlateRead
from hardware.cameras import open_camera
from hardware.standins import StandinPlateCamera

PLATES_EU = Path(__file__).resolve().parents[2] / "shared" / "data" / "plates-eu"
HIK_NS = "http://www.hikvision.com/ver20/XMLSchema"
ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
WAIT = 5.0


def jpeg(colour: str = "white") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 24), colour).save(out, "JPEG")
    return out.getvalue()


def hik_xml(plate: str = "GKW5KE2", confidence: str | None = "87", *, ns: str = HIK_NS,
            event_type: str = "ANPR", date_time: str = "2024-12-02T14:51:24+08:00",
            uuid: str = "a0fe72d4-3652-464a-aebd-3f9190010236") -> bytes:
    level = f"<confidenceLevel>{confidence}</confidenceLevel>" if confidence is not None else ""
    anpr = f"""<ANPR>
<country>Poland</country>
<licensePlate>{plate}</licensePlate>
<line>1</line>
<direction>forward</direction>
{level}
<plateType>unknown</plateType>
<plateColor>white</plateColor>
<licenseBright>173</licenseBright>
<vehicleType>vehicle</vehicleType>
<pictureInfoList>
<pictureInfo><fileName>detectionPicture.jpg</fileName><type>detectionPicture</type></pictureInfo>
<pictureInfo><fileName>licensePlatePicture.jpg</fileName><type>licensePlatePicture</type></pictureInfo>
</pictureInfoList>
<originalLicensePlate>{plate}</originalLicensePlate>
</ANPR>""" if event_type == "ANPR" else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="{ns}">
<ipAddress>10.10.10.243</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>68:6d:bc:7d:9e:27</macAddress>
<channelID>1</channelID>
<dateTime>{date_time}</dateTime>
<activePostCount>1</activePostCount>
<eventType>{event_type}</eventType>
<eventState>active</eventState>
<eventDescription>{event_type} alarm</eventDescription>
{anpr}
<UUID>{uuid}</UUID>
<picNum>2</picNum>
</EventNotificationAlert>""".encode()


def hik_multipart(xml: bytes, pictures: dict[str, bytes], *, boundary: str = "boundary",
                  subtype: str = "form-data") -> tuple[bytes, str]:
    """A body laid out like the camera's: per-part Content-Length, CRLF lines."""
    chunks = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"anpr.xml\"; filename=\"anpr.xml\"\r\n"
              f"Content-Type: text/xml; charset=\"UTF-8\"\r\nContent-Length: {len(xml)}\r\n\r\n".encode(),
              xml, b"\r\n"]
    for name, data in pictures.items():
        stem = name.rsplit(".", 1)[0]
        chunks += [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                   f"Content-Type: image/jpeg\r\nContent-Length: {len(data)}\r\nContent-ID: {stem}\r\n\r\n".encode(),
                   data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/{subtype}; boundary={boundary}"


AXIS_EVENT = {
    "carID": "1327",
    "roiID": "1",
    "geotag": {"lat": 55.70421, "lon": 13.19366},
    "carState": "update",
    "datetime": "20240614 160436372",
    "GEOtarget": "Camera",
    "imageType": "vehicle",
    "imagesURI": ["/local/fflprapp/tools.cgi?action=getImage&name=9/20240614160436_464953lp_1AB1234_13046.jpg"],
    "plateList": "",
    "plateText": "1AB1234",
    "plateUTF8": "1AB1234",
    "profileID": "1",
    "capture_ts": "1718373876372000000",
    "plateASCII": "1AB1234",
    "camera_info": {"MACAddress": "", "SerialNumber": "B8A44F960ACE", "ProdShortName": "AXIS Q1805-LE"},
    "plateRegion": "Praha",
    "plateCountry": "CZE",
    "plateUnicode": "1AB1234",
    "vehicle_info": {"type": "CAR", "view": "front", "brand": "Skoda", "color": "GRAY"},
    "packetCounter": "13046",
    "plateImageSize": "0",
    "plateImageType": "jpeg",
    "timeProcessing": "0",
    "frame_timestamp": "1718373875705442",
    "plateConfidence": "0.868800",
    "carMoveDirection": "in",
    "plateCoordinates": [519, 633, 141, 42],
    "sensorProviderID": "PRG-82",
    "capture_timestamp": "1718373876372",
}


def post(listener: AnprListener, body: bytes, content_type: str | None, *, method: str = "POST",
         path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One request with the stdlib HTTP client; returns (status, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
    try:
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        connection.request(method, path, body=body if method != "GET" else None, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class Reads:
    """Collects what the listener delivers, on its delivery thread."""

    def __init__(self) -> None:
        self.reads: queue.Queue[PlateRead] = queue.Queue()
        self.events: queue.Queue[AnprEvent] = queue.Queue()

    def one(self) -> PlateRead:
        return self.reads.get(timeout=WAIT)

    def event(self) -> AnprEvent:
        return self.events.get(timeout=WAIT)

    def none(self, listener: AnprListener) -> None:
        # a marker read proves everything posted before it was delivered (one ordered thread)
        status, _ = post(listener, json.dumps({"plate": "MARK1", "confidence": 1.0}).encode(), "application/json")
        assert status == 200
        assert self.one().plate == "MARK1"
        assert self.reads.empty()


@pytest.fixture
def reads() -> Reads:
    return Reads()


@pytest.fixture
def listener(reads: Reads):
    camera = AnprListener("127.0.0.1", 0, lane="E1", on_event=reads.events.put)
    camera.start(reads.reads.put)
    yield camera
    camera.stop()


# --------------------------------------------------------------------------- over HTTP


def test_hikvision_multipart_alert_with_pictures(listener: AnprListener, reads: Reads) -> None:
    plate_jpeg, scene_jpeg = jpeg("white"), jpeg("grey")
    body, content_type = hik_multipart(hik_xml("GKW 5KE2", "87"), {"licensePlatePicture.jpg": plate_jpeg,
                                                                    "detectionPicture.jpg": scene_jpeg})
    assert listener.port != 0
    status, text = post(listener, body, content_type)
    assert (status, text.strip()) == (200, "OK")
    read = reads.one()
    assert (read.plate, read.confidence, read.lane, read.source) == ("GKW5KE2", 0.87, "E1", "hikvision")
    assert read.at == datetime(2024, 12, 2, 6, 51, 24, tzinfo=UTC)  # +08:00 camera time, stored UTC
    event = reads.event()
    assert event.raw_plate == "GKW 5KE2" and event.direction == "forward" and event.country == "Poland"
    assert event.channel == "1" and event.camera == "10.10.10.243"
    assert event.images == {"licensePlatePicture.jpg": plate_jpeg, "detectionPicture.jpg": scene_jpeg}
    assert event.images["licensePlatePicture.jpg"][:2] == b"\xff\xd8"  # JPEG bytes arrive intact
    reads.none(listener)
    assert listener.status().state == DeviceState.OK and "2 reads, 0 rejected" in listener.status().message


def test_hikvision_xml_only_alert_isapi_namespace(listener: AnprListener, reads: Reads) -> None:
    status, _ = post(listener, hik_xml("AB12CDE", "93", ns=ISAPI_NS), "application/xml; charset=UTF-8")
    assert status == 200
    read = reads.one()
    assert (read.plate, read.confidence, read.source) == ("AB12CDE", 0.93, "hikvision")
    assert reads.event().images == {}


def test_hikvision_multipart_mixed_and_real_plate_photo(listener: AnprListener, reads: Reads) -> None:
    photo = PLATES_EU / "eu1.jpg"
    if not photo.exists():
        pytest.skip("../shared/data/plates-eu is absent (a fresh clone has no shared data)")
    data = photo.read_bytes()
    plate = (PLATES_EU / "eu1.txt").read_text().split("\t")[-1].strip()
    body, content_type = hik_multipart(hik_xml(plate, "99"), {"detectionPicture.jpg": data}, subtype="mixed",
                                       boundary="MIME_boundary")
    assert post(listener, body, content_type)[0] == 200
    assert reads.one().plate == plate
    assert reads.event().images["detectionPicture.jpg"] == data


def test_axis_lpv_event(listener: AnprListener, reads: Reads) -> None:
    status, _ = post(listener, json.dumps(AXIS_EVENT).encode(), "application/json")
    assert status == 200
    read = reads.one()
    assert (read.plate, read.confidence, read.lane, read.source) == ("1AB1234", 0.8688, "E1", "axis")
    assert read.at == datetime(2024, 6, 14, 14, 4, 36, 372000, tzinfo=UTC)  # capture_timestamp, epoch ms
    event = reads.event()
    assert (event.direction, event.country, event.camera, event.state, event.vehicle_type) == (
        "in", "CZE", "B8A44F960ACE", "update", "CAR")


def test_axis_lost_event_is_answered_but_not_delivered(listener: AnprListener, reads: Reads) -> None:
    status, text = post(listener, json.dumps({**AXIS_EVENT, "carState": "lost"}).encode(), "application/json")
    assert status == 200 and text.startswith("ignored")
    reads.none(listener)


def test_axis_multipart_with_picture_and_escaped_plate(listener: AnprListener, reads: Reads) -> None:
    # Older LPV payload: plateText as \u escapes, plateUTF8 plain, datetime without zone.
    event = {"packetCounter": "11890300", "datetime": "20210611 130538252",
             "plateText": "\\u0052\\u004c\\u0045\\u0031\\u0031\\u0036\\u0038\\u0034",
             "plateUTF8": "RLE11684", "plateCountry": "SWE", "plateConfidence": "0.719034",
             "carState": "new", "carMoveDirection": "out", "capture_timestamp": "1623405938252"}
    raw = json.dumps(event).replace("\\\\u", "\\u").encode()  # real \u escapes on the wire
    picture = jpeg()
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"event\"\r\nContent-Type: application/json\r\n\r\n" + raw
            + b"\r\n--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"plate.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + picture + b"\r\n--xyz--\r\n")
    assert post(listener, body, "multipart/form-data; boundary=xyz")[0] == 200
    assert (reads.one().plate, reads.event().images) == ("RLE11684", {"plate.jpg": picture})


def test_webhook_json(listener: AnprListener, reads: Reads) -> None:
    body = {"plate": "ab12 cde", "confidence": 0.93, "lane": "X2", "at": "2024-06-14T15:04:36+01:00"}
    assert post(listener, json.dumps(body).encode(), "application/json")[0] == 200
    read = reads.one()
    assert (read.plate, read.confidence, read.lane, read.source) == ("AB12CDE", 0.93, "X2", "webhook")
    assert read.at == datetime(2024, 6, 14, 14, 4, 36, tzinfo=UTC)
    assert post(listener, json.dumps({"plate": "AB12CDE", "confidence": 1}).encode(), "application/json")[0] == 200
    assert reads.one().lane == "E1"  # the listener's lane when the post names none


def plate_jpeg(text: str = "SD62 UVF", size: tuple[int, int] = (520, 112)) -> bytes:
    """A camera's plate crop: white plate, black text (Pillow's bundled font), JPEG."""
    from PIL import ImageDraw, ImageFont

    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    draw.text((size[0] // 12, size[1] // 8), text, fill="black", font=ImageFont.load_default(size=size[1] * 3 // 4))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def picture_of(read: PlateRead) -> Image.Image:
    assert read.image is not None and read.image.startswith(b"\x89PNG")  # always a PNG, whatever came in
    return Image.open(io.BytesIO(read.image)).convert("RGB")


def test_reads_carry_the_plate_picture_bounded(listener: AnprListener, reads: Reads) -> None:
    # Hikvision: the scene comes first, the plate crop second; the read carries the plate crop, scaled down.
    scene = io.BytesIO()
    Image.new("RGB", (1920, 1080), (40, 40, 40)).save(scene, "JPEG")
    body, content_type = hik_multipart(hik_xml("5D62UVF", "64"), {"detectionPicture.jpg": scene.getvalue(),
                                                                   "licensePlatePicture.jpg": plate_jpeg()})
    assert post(listener, body, content_type)[0] == 200
    picture = picture_of(reads.one())
    assert picture.size == (320, 69)  # 520x112 scaled to MAX_WIDTH, aspect kept
    assert min(picture.getpixel((2, 2))) > 240 and picture.convert("L").getextrema()[0] < 60  # white plate, black text
    # only a scene: the scene, within 320x160
    body, content_type = hik_multipart(hik_xml("AB12CDE", uuid="other"), {"detectionPicture.jpg": scene.getvalue()})
    assert post(listener, body, content_type)[0] == 200
    assert picture_of(reads.one()).size == (284, 160)
    # the XML alone: no picture
    assert post(listener, hik_xml("AB12CDE", uuid="third"), "application/xml")[0] == 200
    assert reads.one().image is None


def test_webhook_and_axis_pictures_in_base64(listener: AnprListener, reads: Reads) -> None:
    encoded = base64.b64encode(plate_jpeg()).decode()
    assert post(listener, json.dumps({"plate": "5D62UVF", "confidence": 0.64, "image": encoded}).encode(),
                "application/json")[0] == 200
    assert picture_of(reads.one()).size == (320, 69)
    axis = {**AXIS_EVENT, "imageArray": [{"ImageType": "plate", "BinaryImage": encoded}]}
    assert post(listener, json.dumps(axis).encode(), "application/json")[0] == 200
    assert picture_of(reads.one()).size == (320, 69)
    # base64 of something that is not a picture: the read goes on without one
    junk = base64.b64encode(b"not a picture").decode()
    assert post(listener, json.dumps({"plate": "AB12CDE", "confidence": 0.9, "image": junk}).encode(),
                "application/json")[0] == 200
    read = reads.one()
    assert (read.plate, read.image) == ("AB12CDE", None)
    # an image that is not base64 text: refused, nothing delivered
    for image in ("%%%not base64%%%", 12):
        status, text = post(listener, json.dumps({"plate": "AB12CDE", "confidence": 0.9, "image": image}).encode(),
                            "application/json")
        assert status == 400 and "image must be a base64 JPEG or PNG" in text
    reads.none(listener)


def test_plate_picture_helpers_bound_and_refuse() -> None:
    from hardware.plate_picture import (
        MAX_HEIGHT,
        MAX_WIDTH,
        event_picture,
        picture_bytes,
    )

    assert picture_bytes(b"") is None and picture_bytes(b"\xff\xd8 broken jpeg") is None
    small = io.BytesIO()
    Image.new("RGB", (40, 10), "white").save(small, "PNG")
    assert Image.open(io.BytesIO(picture_bytes(small.getvalue()))).size == (40, 10)  # never scaled up
    tall = io.BytesIO()
    Image.new("RGB", (100, 1000), "white").save(tall, "PNG")
    width, height = Image.open(io.BytesIO(picture_bytes(tall.getvalue()))).size
    assert height == MAX_HEIGHT and width <= MAX_WIDTH
    # a broken plate crop: the next picture is used
    assert event_picture({"licensePlatePicture.jpg": b"\xff\xd8 broken", "scene.jpg": small.getvalue()}) is not None
    assert event_picture({}) is None
    with pytest.raises(InputError, match="image must be bytes"):
        PlateRead("AB12CDE", 0.9, datetime.now(UTC), None, "test", image="not bytes")  # type: ignore[arg-type]


MALFORMED = [
    ("broken XML", hik_xml()[:-30], "application/xml", 400, "invalid XML"),
    ("XML with DOCTYPE", b'<!DOCTYPE x [<!ENTITY a "b">]>' + hik_xml().split(b"?>", 1)[1], "text/xml", 400,
     "DOCTYPE"),
    ("not an alert", b"<Foo/>", "application/xml", 400, "not <EventNotificationAlert>"),
    ("ANPR with no plate", hik_xml(plate=""), "application/xml", 400, "no plate"),
    ("plate 'unknown'", hik_xml(plate="unknown"), "application/xml", 400, "no plate"),
    ("confidence over 100", hik_xml(confidence="187"), "application/xml", 400, "confidenceLevel"),
    ("not a plate", hik_xml(plate="AB-12-CDE-FGH-IJK"), "application/xml", 400, "not a licence plate"),
    ("invalid JSON", b'{"plate": "AB12CDE", ', "application/json", 400, "invalid JSON"),
    ("JSON array", b'["AB12CDE"]', "application/json", 400, "object"),
    ("JSON without plate", b'{"confidence": 0.9}', "application/json", 400, "no plate"),
    ("webhook without confidence", b'{"plate": "AB12CDE"}', "application/json", 400, "confidence"),
    ("webhook naive time", b'{"plate": "AB12CDE", "confidence": 0.5, "at": "2024-06-14T14:04:36"}',
     "application/json", 400, "UTC offset"),
    ("Axis confidence not a number", json.dumps({**AXIS_EVENT, "plateConfidence": "high"}).encode(),
     "application/json", 400, "plateConfidence"),
    ("wrong content type", b"plate=AB12CDE", "application/x-www-form-urlencoded", 400, "content type"),
    ("no content type", hik_xml(), None, 400, "content type"),
    ("multipart without boundary", b"--x\r\n\r\n--x--", "multipart/form-data", 400, "boundary"),
    ("multipart with only a picture",
     b"--b\r\nContent-Disposition: form-data; name=\"p.jpg\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
     b"\xff\xd8\xff\xd9\r\n--b--\r\n", "multipart/form-data; boundary=b", 400, "without an XML or JSON part"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "reason"),
                         [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_posts_are_refused_and_logged(listener: AnprListener, reads: Reads, caplog, body: bytes,
                                                content_type: str | None, status: int, reason: str) -> None:
    with caplog.at_level(logging.WARNING, logger="hardware.anpr"):
        got, text = post(listener, body, content_type)
    assert got == status and reason in text
    assert any(reason in record.getMessage() for record in caplog.records)
    reads.none(listener)
    assert listener.rejected >= 1 and reason in (listener.last_rejection or "")


def test_wrong_method_too_large_wrong_path_and_no_length(reads: Reads) -> None:
    listener = AnprListener(port=0, path="/anpr", max_body=4096, on_read=reads.reads.put)
    listener.start()
    try:
        assert post(listener, b"", None, method="GET", path="/anpr")[0] == 405
        assert post(listener, b"{}", "application/json", method="PUT", path="/anpr")[0] == 405
        status, text = post(listener, b"x" * 12_000, "application/json", path="/anpr")
        assert status == 413 and "4096-byte limit" in text
        assert post(listener, hik_xml(), "application/xml", path="/elsewhere")[0] == 404
        # A raw request without Content-Length (HTTP/1.1 chunked): 411.
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as raw:
            raw.sendall(b"POST /anpr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            assert raw.recv(200).startswith(b"HTTP/1.1 411")
        assert post(listener, hik_xml("AB12CDE"), "application/xml", path="/anpr?x=1")[0] == 200
        assert reads.one().plate == "AB12CDE" and reads.reads.empty()
    finally:
        listener.stop()


def test_heartbeat_and_repeated_upload_are_ignored(listener: AnprListener, reads: Reads) -> None:
    status, text = post(listener, hik_xml(event_type="videoloss"), "application/xml")
    assert status == 200 and "ignored" in text
    assert post(listener, hik_xml("AB12CDE", uuid="u-1"), "application/xml")[0] == 200
    assert post(listener, hik_xml("AB12CDE", uuid="u-1"), "application/xml")[1].startswith("ignored")
    assert reads.one().plate == "AB12CDE"
    reads.none(listener)


def test_callback_that_raises_does_not_stop_the_listener(reads: Reads, caplog) -> None:
    calls: list[str] = []

    def broken(read: PlateRead) -> None:
        calls.append(read.plate)
        if read.plate == "BAD1":
            raise RuntimeError("consumer bug")
        reads.reads.put(read)

    listener = AnprListener(on_read=broken)
    listener.start()
    try:
        with caplog.at_level(logging.ERROR):
            assert post(listener, b'{"plate": "BAD1", "confidence": 0.9}', "application/json")[0] == 200
            assert post(listener, b'{"plate": "GOOD1", "confidence": 0.9}', "application/json")[0] == 200
            assert reads.one().plate == "GOOD1"
        assert calls == ["BAD1", "GOOD1"]
        assert any("consumer bug" in (record.exc_text or str(record.exc_info)) for record in caplog.records)
        assert listener.running and listener.status().ok
    finally:
        listener.stop()


def test_stop_frees_the_port_and_status_follows(reads: Reads) -> None:
    listener = AnprListener(lane="X1", on_read=reads.reads.put)
    assert listener.status().state == DeviceState.UNKNOWN
    listener.start()
    port = listener.port
    assert listener.status().state == DeviceState.OK and str(port) in listener.status().message
    with pytest.raises(DeviceError, match="already running"):
        listener.start()
    busy = AnprListener(port=port, on_read=reads.reads.put)
    with pytest.raises(DeviceError, match="cannot listen"):
        busy.start()
    assert busy.status().state == DeviceState.FAULTED
    listener.stop()
    assert not listener.running and listener.status().state == DeviceState.OFFLINE
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    again = AnprListener(port=port, on_read=reads.reads.put)  # the port is free again
    again.start()
    try:
        assert again.port == port
        assert post(again, b'{"plate": "AB12CDE", "confidence": 0.5}', "application/json")[0] == 200
        assert reads.one().plate == "AB12CDE"
    finally:
        again.stop()
    listener.stop()  # a second stop is harmless


def test_listener_arguments_are_checked() -> None:
    with pytest.raises(InputError, match="vendor"):
        AnprListener(vendor="dahua")
    with pytest.raises(InputError, match="port"):
        AnprListener(port=70000)
    with pytest.raises(InputError, match="max_body"):
        AnprListener(max_body=0)
    with pytest.raises(InputError, match="on_read"):
        AnprListener().start()


def test_fixed_vendor_refuses_other_formats(reads: Reads) -> None:
    listener = AnprListener(vendor="hikvision", on_read=reads.reads.put)
    listener.start()
    try:
        status, text = post(listener, json.dumps(AXIS_EVENT).encode(), "application/json")
        assert status == 400 and "not XML" in text
        assert post(listener, hik_xml("AB12CDE"), "text/xml")[0] == 200
        assert reads.one().source == "hikvision"
    finally:
        listener.stop()


# --------------------------------------------------------------------------- parsers


def test_parsers_directly() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    event = parse_hikvision(hik_xml("AB12CDE", None, date_time="2024-12-02T14:51:24"), "application/xml",
                            lane="E2", received_at=now)
    assert event is not None and event.read.confidence == 0.0  # absent: confirm
    assert event.read.at == now  # a camera time without offset cannot be placed in UTC
    assert parse_hikvision(hik_xml(event_type="videoloss"), "application/xml") is None
    axis = parse_axis(json.dumps({"plateUTF8": "AB12CDE", "plateConfidence": 87,
                                  "datetime": "20240614 160436372+0200"}).encode(), "application/json")
    assert axis.read.confidence == 0.87 and axis.read.at == datetime(2024, 6, 14, 14, 4, 36, 372000, tzinfo=UTC)
    hook = parse_webhook(b'{"plate": "AB12CDE", "confidence": 0.5, "at": "2024-06-14T14:04:36Z"}',
                         "application/json")
    assert hook.read.at == datetime(2024, 6, 14, 14, 4, 36, tzinfo=UTC)
    with pytest.raises(AnprPayloadError, match="no plate"):
        parse_post(json.dumps(AXIS_EVENT).encode(), "application/json", vendor="json")
    with pytest.raises(AnprPayloadError, match="unknown ANPR vendor"):
        parse_post(b"{}", "application/json", vendor="dahua")


# --------------------------------------------------------------------------- router


def test_open_camera_router() -> None:
    from hardware.anpr import VENDORS
    from hardware.cameras import ANPR_VENDORS

    assert ANPR_VENDORS == VENDORS  # the URL's vendor= choices are the listener's parsers
    assert isinstance(open_camera("standin://", lane="E1"), StandinPlateCamera)
    camera = open_camera("anpr+http://127.0.0.1:0/anpr?vendor=hikvision", lane="E1")
    assert isinstance(camera, AnprListener)
    assert (camera.host, camera.port, camera.path, camera.vendor, camera.lane) == (
        "127.0.0.1", 0, "/anpr", "hikvision", "E1")
    assert open_camera("axis+http://0.0.0.0:8080/").vendor == "axis"
    assert open_camera("webhook+http://127.0.0.1:8080").vendor == "webhook"
    assert open_camera("anpr+http://127.0.0.1:8080/?vendor=json&max_body=1000").max_body == 1000
    assert open_camera("hikvision+http://[::1]:8080/", name="E1 camera").name == "E1 camera"
    assert open_camera("anpr+http://127.0.0.1:8080/?lane=X2").lane == "X2"  # the URL's lane when none is passed
    for url, message in [
        ("anpr+http://127.0.0.1/", "needs a port"),
        ("anpr+http://:8080/", "needs a host"),
        ("anpr+http://user:secret@127.0.0.1:8080/", "takes no user or password"),
        ("anpr+http://127.0.0.1:8080/?vendor=dahua", "vendor must be auto, hikvision, axis, webhook or json"),
        ("anpr+http://127.0.0.1:8080/?max_body=0", "max_body must be between 1 and"),
        ("axis+http://127.0.0.1:8080/?vendor=hikvision", "takes axis posts"),
        ("anpr+http://127.0.0.1:8080/?colour=red", "unknown option"),
        ("anpr+http://127.0.0.1:99999/", "port"),
        ("ftp://camera/", "unknown scheme"),
        ("camera", "not a URL"),
    ]:
        with pytest.raises(InputError, match=message):
            open_camera(url)


def test_open_camera_builds_opencv_cameras_without_starting_them(tmp_path: Path) -> None:
    from hardware.camera_opencv import OpenCVPlateCamera

    for url, kind in (("rtsp://10.0.0.5/stream?channel=1", "stream"), ("rtsps://10.0.0.5/s", "stream"),
                      ("opencv://0", "device"), (f"file://{tmp_path}/", "folder"),
                      ("https://cam/mjpeg", "stream")):
        camera = open_camera(url, lane="X1", name="X1 camera")
        assert isinstance(camera, OpenCVPlateCamera)
        assert (camera.spec.kind, camera.lane, camera.name, camera.running) == (kind, "X1", "X1 camera", False)
    assert open_camera("rtsp://admin:secret@10.0.0.5/stream").spec.target == "rtsp://admin:secret@10.0.0.5/stream"
    with pytest.raises(InputError) as failure:
        open_camera("rtsp://admin:secret@10.0.0.5/stream#x")
    assert "secret" not in str(failure.value)  # messages never show a password


def test_importing_the_camera_table_loads_no_opencv_numpy_or_http_server() -> None:
    import subprocess
    import sys

    code = ("import sys, hardware.cameras\n"
            "heavy = ('cv2', 'numpy', 'rapidocr', 'hardware.anpr', 'http.server')\n"
            "heavy = sorted(m for m in heavy if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
