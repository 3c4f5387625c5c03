"""The small plate picture a :class:`~hardware.base.PlateRead` carries, so the attendant can check a read.

Every camera kind that has a picture puts one on its reads
(``PlateRead.image``): the ANPR listener from the camera's pictures
(:func:`event_picture`: a Hikvision ``licensePlatePicture.jpg``, an Axis
plate image, the webhook's ``image``), the OpenCV camera by cropping its
frame around the read's text box (:func:`frame_crop`). The console draws it
beside a read that needs confirming (:mod:`attendant.tui.widgets.plate_picture`).

The picture is always PNG bytes of at most :data:`MAX_WIDTH` x
:data:`MAX_HEIGHT` pixels (RGB; grey from a grey frame), whatever came in: a camera's JPEG is
decoded and scaled down, never passed on as sent. A picture that cannot be
decoded, or that is larger than :data:`MAX_SOURCE_PIXELS` (a decompression
bomb), gives None and the read goes on without it (logged at debug): a bad
picture never loses a read.

Libraries: Pillow decodes camera pictures (JPEG, PNG...) and encodes the
PNG; frames already decoded by OpenCV (numpy BGR arrays) are cropped with
numpy slicing and encoded by ``cv2.imencode``. Both load at the first picture.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAX_HEIGHT",
    "MAX_SOURCE_PIXELS",
    "MAX_WIDTH",
    "event_picture",
    "frame_crop",
    "picture_bytes",
    "plate_region",
    "region_png",
]

log = logging.getLogger(__name__)

#: Widest picture handed out, pixels (a plate crop needs no more to be read by eye).
MAX_WIDTH = 320
#: Tallest picture handed out, pixels.
MAX_HEIGHT = 160
#: Largest source picture decoded, pixels (a 4K scene is 8.3 M; more is refused as a decompression bomb).
MAX_SOURCE_PIXELS = 40_000_000
#: Margin added around the read's text box on each side, as a fraction of the box's width and height:
#: the text box holds the characters only (the plate reader's glyph box); the plate's edge is about this
#: far out. Measured 2026-12-06 on the region reader's located top reads (``bench_plate_reader.py
#: --verbose --json`` rows against the labelled plate boxes, 2 px slack): the picture holds the whole
#: plate for 209 of 217 plates-us reads and 106 of 108 plates-eu, median picture / plate area 2.2 and
#: 2.9 (0.1 / 0.4, set around the text detector's larger box: 151 and 92 around the glyph box, 208 and
#: 99 around the detector's box).
MARGIN_X = 0.2
MARGIN_Y = 0.7


def picture_bytes(data: bytes) -> bytes | None:
    """A camera picture (JPEG, PNG or another format Pillow reads) as a bounded PNG.

    Scaled down (aspect kept) to fit :data:`MAX_WIDTH` x :data:`MAX_HEIGHT`;
    never scaled up. Returns None for bytes that are not a picture, or a
    picture over :data:`MAX_SOURCE_PIXELS`.
    """
    if not data:
        return None
    from PIL import Image  # loaded with the first picture

    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > MAX_SOURCE_PIXELS:
                log.debug("plate picture of %dx%d pixels refused", picture.width, picture.height)
                return None
            picture.draft("RGB", (MAX_WIDTH, MAX_HEIGHT))  # JPEG: decode at a reduced scale (fast)
            rgb = picture.convert("RGB")
        rgb.thumbnail((MAX_WIDTH, MAX_HEIGHT), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        rgb.save(out, "PNG", compress_level=1)  # fast; the picture stays in memory, its size hardly matters
        return out.getvalue()
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds for broken files; the read goes on
        log.debug("plate picture not decoded: %s", error)
        return None


def _plate_named(name: str) -> bool:
    return "plate" in name.lower()


def event_picture(images: Mapping[str, bytes]) -> bytes | None:
    """The picture for an ANPR event's read: of ``images`` (name -> bytes as the camera sent
    them), the first whose name says it is the plate (``licensePlatePicture.jpg``,
    ``plate.jpg``, ``plateImage.jpg``...), else the first one (a scene), made a bounded PNG by
    :func:`picture_bytes`; the next one is tried when one does not decode. None: no picture."""
    ordered = sorted(images.items(), key=lambda item: not _plate_named(item[0]))  # stable: camera order kept
    for _name, data in ordered:
        picture = picture_bytes(data)
        if picture is not None:
            return picture
    return None


def plate_region(image: np.ndarray, box: tuple[int, int, int, int], *, margin_x: float = MARGIN_X,
                 margin_y: float = MARGIN_Y) -> np.ndarray | None:
    """The plate around a read's text ``box`` ``(x, y, w, h)`` (pixels) in a decoded frame, bounded.

    ``image``: an OpenCV frame (``(H, W, 3)`` BGR, ``(H, W, 4)`` BGRA or
    ``(H, W)`` grey, uint8). The box grows by ``margin_x`` x its width and
    ``margin_y`` x its height on each side and is clipped to the frame; the
    crop is scaled down (aspect kept, ``cv2.INTER_AREA``) to fit
    :data:`MAX_WIDTH` x :data:`MAX_HEIGHT`, BGRA made BGR. A new array (the
    frame is not kept); None for an empty crop or an unusable image.
    """
    import cv2  # already loaded by the camera that calls this

    try:
        x, y, w, h = (int(v) for v in box)
        height, width = image.shape[:2]
        dx, dy = round(w * margin_x), round(h * margin_y)
        left, top = max(x - dx, 0), max(y - dy, 0)
        right, bottom = min(x + w + dx, width), min(y + h + dy, height)
        if right <= left or bottom <= top:
            return None
        crop: Any = image[top:bottom, left:right]
        scale = min(MAX_WIDTH / crop.shape[1], MAX_HEIGHT / crop.shape[0], 1.0)
        if scale < 1.0:
            size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        if crop.ndim == 3 and crop.shape[2] == 4:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGRA2BGR)
        return crop.copy()
    except (cv2.error, ValueError, TypeError, IndexError, AttributeError) as error:
        log.debug("plate crop failed: %s", error)
        return None


def region_png(region: np.ndarray | None) -> bytes | None:
    """A :func:`plate_region` as PNG bytes (``cv2.imencode``); None for None or a failed encode."""
    if region is None:
        return None
    import cv2

    try:
        ok, encoded = cv2.imencode(".png", region)
    except cv2.error as error:
        log.debug("plate crop not encoded: %s", error)
        return None
    return encoded.tobytes() if ok else None


def frame_crop(image: np.ndarray, box: tuple[int, int, int, int], *, margin_x: float = MARGIN_X,
               margin_y: float = MARGIN_Y) -> bytes | None:
    """:func:`plate_region` encoded by :func:`region_png`: the picture of a read in a frame, or None."""
    return region_png(plate_region(image, box, margin_x=margin_x, margin_y=margin_y))
