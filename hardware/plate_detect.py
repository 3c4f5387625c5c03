"""Where a plate may be in a frame, from OpenCV geometry alone (no model).

Library used: **OpenCV** (``opencv-python-headless``): Sobel gradients,
morphological closing, Otsu thresholding and contours. The method is the
classic one of plate localisation by vertical-edge density (a plate is a
rectangle of tightly packed vertical strokes): see OpenCV's documentation
"Morphological Transformations" and "Contour Features", and e.g. the
OpenALPR "detection" overview (edge/morphology pre-filter) for the idea.

:func:`find_plate_boxes` returns candidate rectangles, best first, scored by
edge density x contrast and kept only when their shape can be a plate (width
/ height 1.5 to 7, at least ``min_width`` pixels wide, at most half the
frame). The reader (:class:`hardware.plate_reader.PlateReader`) reads each
crop at its own scale, so plates 50-120 px wide in a 1280-px frame are read
without enlarging the whole frame.

Shapes: images are ``uint8`` ``(H, W, 3)`` BGR or ``(H, W)`` grey; boxes are
``(x, y, w, h)`` integer pixels of the input image.
"""

from __future__ import annotations

import numpy as np

__all__ = ["find_plate_boxes"]

MIN_ASPECT = 1.5
MAX_ASPECT = 7.0


def find_plate_boxes(image: np.ndarray, *, limit: int = 4, min_width: int = 36,
                     work_side: int = 1280) -> list[tuple[int, int, int, int]]:
    """Up to ``limit`` rectangles that may hold a plate, best first.

    ``min_width``: narrowest plate considered, pixels of the input image;
    ``work_side``: frames are analysed with their longer side at most this
    many pixels (boxes are scaled back). Pure function of the pixels.
    """
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    height, width = grey.shape[:2]
    scale = min(1.0, work_side / max(height, width))
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = grey.shape[:2]
    grad = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3))
    grad = cv2.normalize(grad, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    grad = cv2.GaussianBlur(grad, (5, 5), 0)
    _, mask = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # join the strokes of one plate (characters are ~1/2 height apart), then drop thin noise
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 3)))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    edges = cv2.Canny(grey, 80, 200)
    scored: list[tuple[float, tuple[int, int, int, int]]] = []
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        if bw < min_width * scale or bh < 8 or bw > w / 2 or bh > h / 3:
            continue
        aspect = bw / bh
        if not MIN_ASPECT <= aspect <= MAX_ASPECT:
            continue
        fill = cv2.contourArea(contour) / float(bw * bh)
        if fill < 0.45:
            continue  # not rectangular
        density = float(np.count_nonzero(edges[y:y + bh, x:x + bw])) / (bw * bh)
        if not 0.08 <= density <= 0.6:
            continue
        contrast = float(grey[y:y + bh, x:x + bw].std()) / 64.0
        scored.append((density * min(contrast, 1.5) * fill, (x, y, bw, bh)))
    scored.sort(key=lambda item: -item[0])
    boxes = []
    for _score, (x, y, bw, bh) in scored[:limit]:
        boxes.append((int(x / scale), int(y / scale), round(bw / scale), round(bh / scale)))
    return boxes
