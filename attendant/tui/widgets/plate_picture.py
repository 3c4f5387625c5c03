"""A camera's plate picture in the terminal, drawn with half blocks: :class:`PlatePicture`.

Each cell shows two pixels, one above the other: the character ``▀`` in the
upper pixel's colour on the lower pixel's colour (24-bit colour; Textual
reduces it for terminals with fewer colours). A 44x6-cell picture is 44x12
pixels: coarse, but the characters of a plate crop can be told apart from
about 10 pixels of height (measured on a rendered "SD62 UVF"). The picture is scaled
(Pillow, ``LANCZOS``, aspect kept) to fit the widget's content box and drawn
from its top-left corner; it is redrawn at the new size when the widget is
resized.

Why not ``textual-image`` (tried, version 0.12.0): importing its renderers
queries the terminal (Sixel and Kitty graphics support, and the cell size in
pixels: escape sequences answered on stdin, up to 0.1 s each). Before the
app starts that added 0.4-0.8 s to start-up in tmux (measured); after Textual
has started, the query reads stdin in competition with Textual's own input
thread (the library says it "will not work anymore once Textual is
started") and would swallow keys. In tmux it falls back to half blocks
anyway. So the console draws the half blocks itself: a rendering of pixels
Pillow has decoded and scaled, no parsing.

Data in: :meth:`PlatePicture.show` takes the read's picture as bytes (PNG or
JPEG, :mod:`hardware.plate_picture`) or None (nothing drawn). Pillow loads
with the first picture, on the UI thread (a picture is at most 320x160
pixels: decoding and scaling take about a millisecond).
"""

from __future__ import annotations

import io
import logging
from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

log = logging.getLogger(__name__)

__all__ = ["PlatePicture", "half_block_rows"]


def half_block_rows(picture: Any, width: int, height: int) -> list[list[Segment]]:
    """``picture`` (a Pillow RGB image) scaled to fit ``width`` x ``height`` cells, as rows of
    ``▀`` segments (foreground: the upper pixel, background: the lower pixel). Rows are
    ``ceil(scaled pixel height / 2)`` long lists of at most ``width`` segments; an odd last
    pixel row leaves its lower half without a background (the widget's own shows)."""
    from PIL import Image

    if width <= 0 or height <= 0 or picture.width <= 0 or picture.height <= 0:
        return []
    scale = min(width / picture.width, 2 * height / picture.height)
    columns = max(1, min(width, round(picture.width * scale)))
    pixel_rows = max(1, min(2 * height, round(picture.height * scale)))
    scaled = picture.convert("RGB").resize((columns, pixel_rows), Image.Resampling.LANCZOS)
    data = scaled.tobytes()  # RGB, row by row
    styles: dict[tuple[int, ...], Style] = {}  # one Style per colour pair (plates have few colours)
    rows: list[list[Segment]] = []
    for top in range(0, pixel_rows, 2):
        row: list[Segment] = []
        for x in range(columns):
            at = (top * columns + x) * 3
            below = at + columns * 3 if top + 1 < pixel_rows else None
            key = tuple(data[at:at + 3]) + (tuple(data[below:below + 3]) if below is not None else ())
            style = styles.get(key)
            if style is None:
                lower = Color.from_rgb(*key[3:]) if below is not None else None
                style = styles[key] = Style.from_color(Color.from_rgb(*key[:3]), lower)
            row.append(Segment("▀", style))
        rows.append(row)
    return rows


class PlatePicture(Widget):
    """A plate picture drawn with half blocks (module docstring); empty until :meth:`show`.

    Its width and ``max-height`` come from CSS (the entry form sets them per terminal size); its
    height is what the picture needs at that width (``height: auto``), at most ``max-height``;
    :attr:`drawn` is the picture's drawn size in cells (columns, rows), (0, 0)
    when empty.
    """

    DEFAULT_CSS = """
    PlatePicture {
        width: 30;
        height: auto;
        max-height: 5;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.picture: bytes | None = None
        self._image: Any = None  # the decoded Pillow RGB image
        self._rows: list[Strip] = []
        self._rows_for: tuple | None = None  # ((columns, rows), base style) the strips were drawn for

    def show(self, picture: bytes | None) -> bool:
        """Draw ``picture`` (PNG or JPEG bytes; None: nothing). Returns False, drawing nothing, when
        the bytes are not a picture Pillow can decode."""
        if picture == self.picture:
            return picture is None or self._image is not None
        self.picture, self._image, self._rows_for = picture, None, None
        ok = picture is None
        if picture is not None:
            from PIL import Image  # loaded with the first picture

            try:
                with Image.open(io.BytesIO(picture)) as opened:
                    self._image = opened.convert("RGB")
                ok = True
            except Exception as error:  # noqa: BLE001 - a broken picture is no picture, never a crash
                log.debug("plate picture not drawn: %s", error)
        self.refresh(layout=True)
        return ok

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """``height: auto``: the rows the picture needs at ``width`` columns (CSS ``max-height`` caps it;
        the picture is then scaled to fit)."""
        image = self._image
        if image is None or width <= 0 or image.width <= 0:
            return 0
        return max(1, (round(image.height * width / image.width) + 1) // 2)

    @property
    def drawn(self) -> tuple[int, int]:
        """(columns, rows) of cells the picture covers now; (0, 0) when nothing is drawn."""
        rows = self._strips()
        return (max((strip.cell_length for strip in rows), default=0), len(rows))

    def _strips(self) -> list[Strip]:
        if self._image is None:
            return []
        size = (self.content_size.width, self.content_size.height)
        base = self.rich_style  # under each cell: an odd last pixel row's lower half shows the background
        if self._rows_for != (size, base):  # drawn again for a new size or theme
            self._rows = [Strip(row).apply_style(base) for row in half_block_rows(self._image, *size)]
            self._rows_for = (size, base)
        return self._rows

    def render_line(self, y: int) -> Strip:
        rows = self._strips()
        width = self.content_size.width
        if y < len(rows):
            return rows[y].extend_cell_length(width, self.rich_style)
        return Strip.blank(width, self.rich_style)
