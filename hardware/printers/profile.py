"""What one printer can do: :class:`PrinterProfile`, derived from a python-escpos profile.

python-escpos's capabilities profiles (``escpos/capabilities.json``, from the
escpos-printer-db project) give each model's features (native QR, barcodes,
cutter, image commands), its fonts' columns and its media width and dpi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from attendant.core.errors import InputError

from hardware.printers.library import escpos_library

__all__ = ["DEFAULT_COLUMNS", "PrinterProfile"]

#: Characters per line of Font A on 80 mm paper.
DEFAULT_COLUMNS = 42


@dataclass(frozen=True)
class PrinterProfile:
    """What one printer can do; derived from a python-escpos profile.

    - ``escpos_profile``: capabilities profile name (``"default"``: Epson-like,
      native QR, built-in barcodes, cutter, Font A 42 columns).
    - ``columns``: characters per line in Font A (42 on 80 mm paper).
    - ``native_qr``: QR drawn by the printer (``GS ( k``) instead of an image.
    - ``hardware_barcodes``: Code 128 drawn by the printer (``GS k``).
    - ``cutter``: the printer cuts; without one the job ends with a feed.
    - ``width_dots`` / ``dpi``: printable width in dots and resolution, used to
      size and centre images (512 dots at 180 dpi: a TM-T88 on 80 mm paper).
    - ``qr_size``: QR module size in dots (1..16).
    - ``image_impl``: escpos image command (``bitImageRaster`` = ``GS v 0``).
    - ``realtime_status``: the printer answers ``DLE EOT`` status requests
      (URL ``status=yes|no``); None: the transport's default (tcp, serial,
      usb: yes; file: no). Not in python-escpos's profiles.
    """

    escpos_profile: str = "default"
    columns: int = DEFAULT_COLUMNS
    native_qr: bool = True
    hardware_barcodes: bool = True
    cutter: bool = True
    width_dots: int = 512
    dpi: int = 180
    qr_size: int = 6
    image_impl: str | None = "bitImageRaster"
    realtime_status: bool | None = None

    @classmethod
    def from_escpos(cls, name: str | None = None) -> PrinterProfile:
        """Build from a python-escpos capabilities profile (``None``: ``"default"``).

        :raises InputError: an unknown profile name.
        """
        name = name or "default"
        profiles = escpos_library().capabilities.CAPABILITIES["profiles"]
        if name not in profiles:
            raise InputError(
                f"unknown printer profile {name!r}; use a python-escpos profile name such as "
                "'default', 'TM-T88V' or 'TM-T20II'"
            )
        data = profiles[name]
        features = data.get("features", {})
        fonts = data.get("fonts", {})
        media = data.get("media", {}) or {}
        width = media.get("width", {}) or {}
        columns = _as_int(fonts.get("0", {}).get("columns")) or DEFAULT_COLUMNS
        width_dots = _as_int(width.get("pixels"))
        dpi = _as_int(media.get("dpi"))
        if dpi is None and width_dots and _as_float(width.get("mm")):
            dpi = int(width_dots / ((float(width["mm"]) - 10) / 25.4))
        image_impl = next(
            (impl for impl in ("bitImageRaster", "graphics", "bitImageColumn") if features.get(impl)),
            None,
        )
        return cls(
            escpos_profile=name,
            columns=columns,
            native_qr=bool(features.get("qrCode")),
            hardware_barcodes=bool(features.get("barcodeB")),
            cutter=bool(features.get("paperFullCut") or features.get("paperPartCut")),
            width_dots=width_dots or 512,
            dpi=dpi or 180,
            image_impl=image_impl,
        )

    def check(self) -> None:
        """:raises InputError: a profile that cannot print a ticket."""
        if not 16 <= self.columns <= 96:
            raise InputError(f"columns must be between 16 and 96, got {self.columns}")
        if not 1 <= self.qr_size <= 16:
            raise InputError(f"qr_size must be between 1 and 16 dots, got {self.qr_size}")
        if self.image_impl is None and not (self.native_qr and self.hardware_barcodes):
            raise InputError(
                f"printer profile {self.escpos_profile!r} prints no images, so it needs native QR "
                "and hardware barcodes"
            )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

