"""The camera's plate picture beside a read to confirm, in the entry form (issue 12 item 5).

The real path: the entry lane's camera is an ANPR listener on 127.0.0.1 (a
``hikvision+http://`` URL in the lane configuration, opened by the console as
it opens any camera); the test posts a Hikvision ISAPI alert with a plate
crop JPEG drawn here with OpenCV (white plate, black "SD62 UVF" by
``cv2.putText``) and an unsure read "5D62UVF" (64 %), as a camera that
mistook the S for a 5 would. The console must show the picture beside the
"confirm plate" note at the size the terminal gives it, drop it once the
read is confirmed (or edited, or replaced) and issue the ticket at the next
Enter. A read without a picture says so. Snapshots at 80x24, 120x40 and
200x55 show the form with a picture (the demo camera's, drawn with Pillow).
"""

from __future__ import annotations

import asyncio
import http.client
from dataclasses import replace

import pytest

from attendant.tui.demo_faults import plate_picture
from attendant.tui.widgets.plate_picture import PlatePicture
from db.models import ParkingSession
from tests.tui.support import (
    Clock,
    console,
    pilot_test,
    plate_of,
    rows,
    settle,
    still_gates_config,
    text_of,
    until,
)
from tests.tui.test_tui_sizes import SECRET, screen_text, still, visible

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

PS = ParkingSession.__table__


def plate_crop_jpeg(text: str = "SD62 UVF") -> bytes:
    """A plate crop as an ANPR camera sends it: 520x112, white, thick black text (OpenCV), JPEG."""
    crop = np.full((112, 520, 3), 255, np.uint8)
    cv2.rectangle(crop, (2, 2), (517, 109), (0, 0, 0), 3)
    cv2.putText(crop, text, (22, 84), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (0, 0, 0), 9, cv2.LINE_AA)
    ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def hikvision_post(plate: str, confidence: int, pictures: dict[str, bytes], uuid: str) -> tuple[bytes, str]:
    """A Hikvision ``EventNotificationAlert`` (ANPR) as the camera posts it: multipart/form-data."""
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="2.0" '
           f'xmlns="http://www.hikvision.com/ver20/XMLSchema"><ipAddress>10.10.10.243</ipAddress>'
           f"<channelID>1</channelID><dateTime>2026-11-21T09:30:00+00:00</dateTime><eventType>ANPR</eventType>"
           f"<ANPR><country>UK</country><licensePlate>{plate}</licensePlate>"
           f"<confidenceLevel>{confidence}</confidenceLevel></ANPR><UUID>{uuid}</UUID>"
           f"</EventNotificationAlert>").encode()
    chunks = [(b'--b0und\r\nContent-Disposition: form-data; name="anpr.xml"; filename="anpr.xml"\r\n'
               b"Content-Type: text/xml\r\n\r\n"), xml, b"\r\n"]
    for name, data in pictures.items():
        chunks += [f'--b0und\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                   f"Content-Type: image/jpeg\r\n\r\n".encode(), data, b"\r\n"]
    chunks.append(b"--b0und--\r\n")
    return b"".join(chunks), "multipart/form-data; boundary=b0und"


def post(port: int, body: bytes, content_type: str) -> int:
    """POST to the listener with the stdlib HTTP client; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", "/anpr", body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def anpr_entry_config():
    """The demo lanes, E1's camera an ANPR listener on a free loopback port."""
    config = still_gates_config()
    return replace(config, lanes=tuple(replace(lane, camera="hikvision+http://127.0.0.1:0/anpr")
                                       if lane.code == "E1" else lane for lane in config.lanes))


def colours(widget: PlatePicture) -> list[tuple[int, int, int]]:
    """Every half block's upper and lower colour, as drawn."""
    found = []
    for y in range(widget.drawn[1]):
        for segment in widget.render_line(y):
            if segment.text == "▀" and segment.style is not None:
                found += [c.get_truecolor() for c in (segment.style.color, segment.style.bgcolor) if c is not None]
    return found


@pilot_test
async def test_an_unsure_anpr_read_shows_its_plate_picture_and_confirming_issues_the_ticket(engine, tmp_path,
                                                                                           monkeypatch):
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv("ATTENDANT_SECRET_FILE", str(secret))
    app = console(engine, Clock(), anpr_entry_config(), actor="picture-test")
    app.device_hub.monitor = False
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        listener = app.booth.devices(app.booth.lanes["E1"]).camera
        assert listener.port != 0
        form = app.screen.query_one("#entry-form")
        widget = app.screen.query_one("#entry-picture", PlatePicture)
        assert not form.picture_shown and widget.region.height == 0

        body, content_type = hikvision_post("5D62UVF", 64, {"detectionPicture.jpg": b"\xff\xd8 not a jpeg",
                                                            "licensePlatePicture.jpg": plate_crop_jpeg()}, "u1")
        assert await asyncio.to_thread(post, listener.port, body, content_type) == 200
        await until(pilot, lambda: form.read == ("5D62UVF", 0.64))
        await settle(pilot)
        still(app)

        # beside the note, inside the 80x24 screen: 44 columns, 5 rows (the 320x69 crop at 44x9 pixels)
        assert form.picture_shown and visible(widget)
        assert (widget.region.width, widget.region.height) == (44, 5) and widget.drawn == (44, 5)
        note = app.screen.query_one("#entry-read")
        assert widget.region.x > note.region.x and widget.region.y == note.region.y
        drawn = colours(widget)
        assert any(min(c) > 200 for c in drawn) and any(max(c) < 90 for c in drawn)  # white plate, black text
        assert "confirm plate (64%)" in text_of(app, "#entry-read")
        assert "check it against the picture" in text_of(app, "#entry-read")
        assert sum("▀" * 40 in line for line in screen_text(app).splitlines()) == 5

        # the first Enter confirms the read: the picture goes; the second issues the ticket
        await pilot.press("f2", "enter")
        await settle(pilot)
        assert rows(engine, PS) == []
        assert not form.picture_shown and widget.region.height == 0 and widget.drawn == (0, 0)
        assert "plate confirmed" in text_of(app, "#entry-read")
        assert "▀" * 40 not in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        (session,) = rows(engine, PS)
        assert (plate_of(session), session.entry_lane) == ("5D62UVF", "E1")

        # the next vehicle's unsure read brings its picture; the attendant types the plate it shows: the
        # picture goes (the plate is the attendant's own) and the ticket issues at the first Enter
        body, content_type = hikvision_post("5D62UVF", 61, {"licensePlatePicture.jpg": plate_crop_jpeg()}, "u2")
        assert await asyncio.to_thread(post, listener.port, body, content_type) == 200
        await until(pilot, lambda: form.read == ("5D62UVF", 0.61))
        await settle(pilot)
        assert form.picture_shown
        await pilot.press("f2", "end", *["backspace"] * 7, *"SD62UVF")
        await settle(pilot)
        assert not form.picture_shown
        await pilot.press("enter")
        await settle(pilot)
        assert [plate_of(s) for s in rows(engine, PS)] == ["5D62UVF", "SD62UVF"]


@pilot_test
async def test_a_read_without_a_picture_says_so_and_escape_or_a_new_read_replaces_it(engine):
    app = console(engine, Clock(), still_gates_config(), actor="picture-test")
    app.device_hub.monitor = False
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        camera = app.booth.devices(app.booth.lanes["E1"]).camera
        form = app.screen.query_one("#entry-form")
        camera.push("5D62UVF", 0.64)  # a camera that sends no picture
        await until(pilot, lambda: form.read is not None)
        await settle(pilot)
        assert not form.picture_shown
        assert "no picture from the camera" in text_of(app, "#entry-read")
        assert "no picture from the camera" in screen_text(app)

        # bytes that are not a picture: no picture either, and no crash
        camera.push("5D62UVG", 0.63, image=b"\x89PNG broken")
        await until(pilot, lambda: form.read == ("5D62UVG", 0.63))
        await settle(pilot)
        assert not form.picture_shown and "no picture from the camera" in text_of(app, "#entry-read")

        # a picture, then Escape (the vehicle went): the form and the picture clear
        camera.push("5D62UVF", 0.62, image=plate_picture("SD62 UVF"))
        await until(pilot, lambda: form.read == ("5D62UVF", 0.62))
        await settle(pilot)
        assert form.picture_shown
        first = form.read_picture
        await pilot.press("f2", "escape")
        await settle(pilot)
        assert not form.picture_shown and text_of(app, "#entry-read") == ""

        # a new vehicle's read replaces the picture; a sure read shows none
        camera.push("AB12CDE", 0.7, image=plate_picture("AB12 CDE"))
        await until(pilot, lambda: form.read == ("AB12CDE", 0.7))
        await settle(pilot)
        assert form.picture_shown and form.read_picture not in (None, first)
        camera.push("XY34ZZZ", 0.95, image=plate_picture("XY34 ZZZ"))
        await until(pilot, lambda: form.read == ("XY34ZZZ", 0.95))
        await settle(pilot)
        assert not form.picture_shown and "camera read 95%" in text_of(app, "#entry-read")


SIZES = [(80, 24), (120, 40), (200, 55)]
SIZE_IDS = ["80x24", "120x40", "200x55"]
#: (picture width, rows) expected per size: CSS in attendant/tui/widgets/entry_form.py, 260x60 demo plate picture
PICTURE_CELLS = {(80, 24): (43, 5), (120, 40): (56, 7), (200, 55): (64, 8)}


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_entry_form_with_a_plate_picture(engine, tmp_path, monkeypatch, snap_compare, size):
    secret = tmp_path / "secret.key"
    secret.write_text(SECRET + "\n")
    monkeypatch.setenv("ATTENDANT_SECRET_FILE", str(secret))
    app = console(engine, Clock(), still_gates_config(), actor="snapshot")

    async def run_before(pilot):
        await settle(pilot)
        camera = app.booth.devices(app.booth.lanes["E1"]).camera
        camera.push("5D62UVF", 0.64, image=plate_picture("SD62 UVF"))
        form = app.screen.query_one("#entry-form")
        await until(pilot, lambda: form.read is not None)
        await settle(pilot)
        still(app)
        widget = app.screen.query_one("#entry-picture", PlatePicture)
        assert visible(widget) and widget.drawn == PICTURE_CELLS[size]
        text = screen_text(app)
        assert "confirm plate (64%)" in text and "5D62UVF" in text
        assert sum("▀" * PICTURE_CELLS[size][0] in line for line in text.splitlines()) == PICTURE_CELLS[size][1]
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_half_blocks_put_the_upper_pixel_in_front_and_the_lower_behind():
    from PIL import Image

    from attendant.tui.widgets.plate_picture import half_block_rows

    picture = Image.new("RGB", (2, 3))
    for (x, y), colour in {(0, 0): (255, 0, 0), (1, 0): (0, 255, 0), (0, 1): (0, 0, 255), (1, 1): (9, 9, 9),
                           (0, 2): (200, 200, 200), (1, 2): (1, 2, 3)}.items():
        picture.putpixel((x, y), colour)
    rows = half_block_rows(picture, 2, 2)  # 2x3 pixels fit 2 columns x 2 rows as they are
    drawn = [[(s.text, s.style.color.get_truecolor(), s.style.bgcolor and s.style.bgcolor.get_truecolor())
              for s in row] for row in rows]
    assert drawn == [[("▀", (255, 0, 0), (0, 0, 255)), ("▀", (0, 255, 0), (9, 9, 9))],
                     [("▀", (200, 200, 200), None), ("▀", (1, 2, 3), None)]]  # odd last row: no lower pixel
    assert len(half_block_rows(Image.new("RGB", (320, 69)), 44, 6)[0]) == 44  # width-bound: 44 columns
    assert half_block_rows(picture, 0, 5) == []
