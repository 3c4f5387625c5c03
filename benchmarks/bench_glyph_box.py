"""How well the plate reader's glyph box (:attr:`hardware.plate_reader.TextLine.glyph_box`) fits the glyphs.

Usage::

    python benchmarks/bench_glyph_box.py [--factors 0.7,0.84,1.0] [--json]

Plate-like lines (7 characters, capitals and digits) are rendered with Pillow in three DejaVu fonts
(``/usr/share/fonts/truetype/dejavu``, the system's; a missing font is skipped) at 5 sizes (font
size 18-70 px: lines 13-53 px high) on a light plate in a grey 736 x 552 frame, blurred (3 x 3
Gaussian) and with noise (sigma 4 grey levels, seeded); the ink's box is known. The region reader's
text detector (:meth:`PlateReader._detect` at 736 px, RapidOCR's default thresholds) finds each
line; its quad is shrunk back to DB's kernel (:attr:`TextLine.unclip`) and the kernel grown by each
factor x its area / perimeter. Figures per factor: share of lines whose grown box covers the ink
across the line (height) and along it (width), the largest shortfall a side (px and % of the ink
height) and the median margin a side across the line (% of the ink height; negative: short).

Measured 2026-12-06 (90 lines)::

    factor 0.70  covers height 50.0 %, width 67.8 %; short at most 3.9 px (7.3 %); margin -0.0 %
    factor 0.84  covers height 80.0 %, width 88.9 %; short at most 2.1 px (4.0 %); margin 3.8 %
    factor 1.00  covers height 96.7 %, width 98.9 %; short at most 0.1 px (0.1 %); margin 8.2 %
    the detector's quad (unclip 1.6): 1.49 x the ink height, 1.10 x its width (medians)

The factor needed grows with the text's size (median 0.17 across the line at font size 18, 0.86 at
70): the kernel is a few pixels wider than a proportional shrink would make it. The labelled-photo
side of the choice (glyph box inside the labelled plate) is ``bench_plate_reader.py``'s ``inside``.

Exit codes: 0 done, 3 reader not installed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans.ttf", "DejaVuSansMono-Bold.ttf")
TEXTS = ("AB12CDE", "7XYZ123", "RK755AJ", "MH 4521", "BS47040", "KLM 908")
SIZES = (18, 26, 36, 50, 70)


def measure(factors: list[float]) -> dict:
    """Render, detect and compare (see the module docstring); the figures per factor."""
    import cv2
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from hardware.plate_reader import PlateReader, TextLine

    reader = PlateReader(region="us")
    reader.load()
    rng = np.random.default_rng(0)
    need_h: list[float] = []  # growth factor that makes the kernel cover the ink, across the line
    need_w: list[float] = []  # ... along it
    per_side: list[float] = []  # the kernel's area / perimeter, px
    ink_h: list[int] = []
    quad_ratio: list[tuple[float, float]] = []
    fonts = [FONT_DIR / name for name in FONTS if (FONT_DIR / name).is_file()]
    for font, text, size in itertools.product(fonts, TEXTS, SIZES):
        frame = Image.new("RGB", (736, 552), (90, 90, 100))
        draw = ImageDraw.Draw(frame)
        face = ImageFont.truetype(str(font), size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
        tw, th = right - left, bottom - top
        px, py = 200, 250
        draw.rectangle((px - int(0.3 * th), py - int(0.5 * th), px + tw + int(0.3 * th), py + th + int(0.5 * th)),
                       fill=(235, 235, 230))
        draw.text((px - left, py - top), text, font=face, fill=(20, 20, 20))
        ys, xs = np.nonzero(np.asarray(frame)[:, :, 0] < 60)
        ix0, iy0, ix1, iy1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        image = cv2.GaussianBlur(np.asarray(frame)[:, :, ::-1].copy(), (3, 3), 0)
        image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
        detection = reader._detect(image, 736)
        for box in reader._post(detection, None):
            quad = np.asarray(box, dtype=float).reshape(-1, 2)[:4] / detection[2]
            line = TextLine(text, 1.0, tuple(map(tuple, quad)), unclip=reader._unclip())
            cx, cy = line.centre
            if not (ix0 <= cx <= ix1 and iy0 <= cy <= iy1):
                continue
            big_w, big_h, unclip = line.width, line.height, line.unclip
            a, b, c = 4 * unclip + 8, -2 * (1 + unclip) * (big_w + big_h), unclip * big_w * big_h
            d = (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)
            w, h = big_w - 2 * d, big_h - 2 * d
            side = w * h / (2 * (w + h))
            need_w.append(((ix1 - ix0) - w) / (2 * side))
            need_h.append(((iy1 - iy0) - h) / (2 * side))
            per_side.append(side)
            ink_h.append(int(iy1 - iy0))
            quad_ratio.append((big_h / (iy1 - iy0), big_w / (ix1 - ix0)))
    out: dict = {"lines": len(need_h), "factors": {}}
    for k in factors:
        short_h = [max(0.0, (need - k) * s) for need, s in zip(need_h, per_side)]
        short_w = [max(0.0, (need - k) * s) for need, s in zip(need_w, per_side)]
        out["factors"][str(k)] = {
            "covers_height": round(sum(need <= k for need in need_h) / len(need_h), 3),
            "covers_width": round(sum(need <= k for need in need_w) / len(need_w), 3),
            "max_short_px": round(max(short_h + short_w), 1),
            "max_short_pct_of_ink_height": round(100 * max(s / ih for s, ih in zip(short_h, ink_h)), 1),
            "median_margin_pct_of_ink_height": round(100 * statistics.median(
                (k - need) * s / ih for need, s, ih in zip(need_h, per_side, ink_h)), 1),
        }
    out["quad_over_ink_height"] = round(statistics.median(r[0] for r in quad_ratio), 2)
    out["quad_over_ink_width"] = round(statistics.median(r[1] for r in quad_ratio), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", default="0.7,0.84,1.0", help="growth factors to compare (comma-separated)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        import rapidocr  # noqa: F401
    except ImportError:
        print("plate reader not installed: pip install rapidocr==3.10.0 onnxruntime", file=sys.stderr)
        return 3
    result = measure([float(v) for v in args.factors.split(",")])
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['lines']} lines")
    for k, row in result["factors"].items():
        print(f"factor {float(k):.2f}  covers height {100 * row['covers_height']:.1f} %, width "
              f"{100 * row['covers_width']:.1f} %; short at most {row['max_short_px']} px "
              f"({row['max_short_pct_of_ink_height']} %); margin {row['median_margin_pct_of_ink_height']} %")
    print(f"the detector's quad: {result['quad_over_ink_height']} x the ink height, "
          f"{result['quad_over_ink_width']} x its width (medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
