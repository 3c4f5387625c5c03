"""What the plate picture costs per read: making it (camera side) and drawing it (console side).

Usage: ``python benchmarks/bench_plate_picture.py [--runs 200]``

Each figure is the median of ``--runs`` timed calls (after one warm-up),
printed with the baseline it is compared to, measured in the same run:

- ANPR post: :func:`hardware.anpr.parse_post` of a Hikvision multipart post
  with a 520x112 plate crop and a 1920x1080 scene (JPEGs made here with
  Pillow) -- the listener's whole parse, which now also makes the read's
  picture -- against the parse of the same bytes with the picture parts
  sent as ``application/octet-stream`` (same MIME work, no picture: what
  the parse cost before pictures were made);
- OpenCV camera: :func:`hardware.plate_picture.frame_crop` of a 640x480
  frame around a plate's text box, against ``cv2.imencode`` of the whole
  frame as JPEG (what keeping the frame itself would cost);
- console: drawing the picture at 44x5 cells (80x24) and 64x8 cells
  (200x55) with :func:`attendant.tui.widgets.plate_picture.half_block_rows`,
  decoding the PNG included, against Rich rendering the same number of
  cells as text, each cell in its own colour (``Text.render``): the part
  of the cost that is the drawing itself, not the picture.

Times in microseconds. The machine is shared (2 cores): read ratios, not
absolutes.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_us(call, runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def jpeg(size: tuple[int, int], text: str | None) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", size, "white" if text else (60, 64, 70))
    if text:
        ImageDraw.Draw(picture).text((size[0] // 12, size[1] // 8), text, fill="black",
                                     font=ImageFont.load_default(size=size[1] * 3 // 4))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def hikvision_post(plate_jpeg: bytes, scene_jpeg: bytes, kind: str = "image/jpeg") -> tuple[bytes, str]:
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert version="2.0" '
           b'xmlns="http://www.hikvision.com/ver20/XMLSchema"><eventType>ANPR</eventType><ANPR>'
           b"<licensePlate>5D62UVF</licensePlate><confidenceLevel>64</confidenceLevel></ANPR>"
           b"<UUID>u1</UUID></EventNotificationAlert>")
    parts = [(b'--b\r\nContent-Disposition: form-data; name="anpr.xml"; filename="anpr.xml"\r\n'
              b"Content-Type: text/xml\r\n\r\n"), xml, b"\r\n"]
    for name, data in (("detectionPicture.jpg", scene_jpeg), ("licensePlatePicture.jpg", plate_jpeg)):
        parts += [f'--b\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                  f"Content-Type: {kind}\r\n\r\n".encode(), data, b"\r\n"]
    parts.append(b"--b--\r\n")
    return b"".join(parts), "multipart/form-data; boundary=b"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs

    import cv2
    import numpy as np
    from PIL import Image
    from rich.console import Console
    from rich.text import Text

    from attendant.tui.widgets.plate_picture import half_block_rows
    from hardware.anpr import parse_post
    from hardware.plate_picture import frame_crop

    plate, scene = jpeg((520, 112), "SD62 UVF"), jpeg((1920, 1080), None)
    body, content_type = hikvision_post(plate, scene)
    event = parse_post(body, content_type)
    assert event is not None and event.read.image is not None
    picture = event.read.image

    plain, _ = hikvision_post(plate, scene, "application/octet-stream")
    assert parse_post(plain, content_type).read.image is None

    with_picture = median_us(lambda: parse_post(body, content_type), runs)
    without = median_us(lambda: parse_post(plain, content_type), runs)
    print(f"ANPR post ({len(body) // 1024} KiB, plate crop + 1920x1080 scene), median of {runs}:")
    print(f"  parse, no picture step (baseline) {without:9.0f} us")
    print(f"  parse + read's picture            {with_picture:9.0f} us   x{with_picture / without:.2f}")

    frame = np.full((480, 640, 3), 128, np.uint8)
    cv2.rectangle(frame, (170, 200), (470, 270), (255, 255, 255), -1)
    cv2.putText(frame, "SD62UVF", (185, 252), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 4, cv2.LINE_AA)
    crop = median_us(lambda: frame_crop(frame, (185, 215, 270, 45)), runs)
    whole = median_us(lambda: cv2.imencode(".jpg", frame), runs)
    print("OpenCV camera, 640x480 frame:")
    print(f"  whole frame as JPEG (baseline)    {whole:9.0f} us")
    print(f"  plate crop as PNG                 {crop:9.0f} us   x{crop / whole:.2f}")

    console = Console(width=80, color_system="truecolor", file=io.StringIO())

    def as_text(cells: tuple[int, int]) -> Text:
        text = Text()
        for index in range(cells[0] * cells[1]):
            text.append("▀", style=f"#{index % 256:02x}{index // 256 % 256:02x}80 on #20{index % 256:02x}40")
        return text

    def draw(cells: tuple[int, int]) -> None:
        with Image.open(io.BytesIO(picture)) as opened:
            half_block_rows(opened.convert("RGB"), *cells)

    print("Console, drawing the picture (PNG decode + scale + half blocks), once per read and size:")
    for cells in ((44, 5), (64, 8)):
        text = median_us(lambda cells=cells: list(as_text(cells).render(console)), runs)
        cost = median_us(lambda cells=cells: draw(cells), runs)
        print(f"  {cells[0]}x{cells[1]} cells as styled text (baseline) {text:7.0f} us")
        print(f"  {cells[0]}x{cells[1]} cells of picture              {cost:7.0f} us   x{cost / text:.2f}")


if __name__ == "__main__":
    main()
