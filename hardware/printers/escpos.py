"""ESC/POS bytes for laid-out blocks, rendered by python-escpos.

Libraries used (not home-made): **python-escpos** emits every command (text
and styles, native QR ``GS ( k``, Code 128 ``GS k``, raster images
``GS v 0``, cuts) into an in-memory ``escpos.printer.Dummy``, so a layout
problem never half-prints; **qrcode** sizes software QR images and
**python-barcode** draws software Code 128 images (imported only when a
profile asks for images).

python-escpos 3.1 quirks handled here (read from its source):

- Code 128 through the printer (``GS k 73``) must start with a code-set selector
  (``{B``); the same ``{B`` drawn by the software renderer would be printed
  literally, so the prefix is added only on the hardware path.
- ``cut()`` only feeds (``ESC d 6``) when the profile has no cutter feature.
- ``qr(..., native=True)`` emits ``GS ( k`` whatever the profile says.
- ``barcode()``, ``image()`` and ``_dpi()`` ``print()`` to stdout (which would
  corrupt the CLI's ``--json`` output), so this module calls ``_hw_barcode``
  directly, draws software barcodes itself with python-barcode, and pins the
  profile's media width and dpi so ``image()`` stays quiet.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hardware.printers.layout import Block, Code128Block, CutBlock, QrBlock, TextBlock
from hardware.printers.library import escpos_library
from hardware.printers.profile import PrinterProfile

__all__ = ["EscposRenderer"]


class _Style:
    """Sends ESC/POS style commands only when the style changes."""

    def __init__(self, printer: Any) -> None:
        self.printer = printer
        self.current: tuple[str, bool, str] = ("left", False, "normal")

    def apply(self, align: str, bold: bool, size: str) -> None:
        old_align, old_bold, old_size = self.current
        if size != old_size:
            self.printer.set(
                normal_textsize=size == "normal",
                double_height=size in ("tall", "large"),
                double_width=size == "large",
            )
        if bold != old_bold or (size != old_size and bold):  # ESC ! also clears emphasis
            self.printer.set(bold=bold)
        if align != old_align:
            self.printer.set(align=align)
        self.current = (align, bold, size)


class EscposRenderer:
    """Renders blocks to ESC/POS bytes with ``profile`` (no I/O); builds on the
    first use, which imports python-escpos."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        lib = escpos_library()
        base = lib.printer.Dummy(profile=profile.escpos_profile).profile.profile_data
        data = copy.deepcopy(base)
        # Pin media (keeps image()/_dpi() quiet and lets images centre) and make
        # the escpos features agree with this device's profile (cut() obeys them).
        data["media"] = {"dpi": profile.dpi, "width": {"mm": data.get("media", {}).get("width", {}).get("mm"),
                                                        "pixels": profile.width_dots}}
        features = dict(data.get("features", {}))
        features.update(
            qrCode=profile.native_qr,
            barcodeA=profile.hardware_barcodes,
            barcodeB=profile.hardware_barcodes,
            paperFullCut=profile.cutter,
            paperPartCut=profile.cutter,
        )
        data["features"] = features
        self._profile_data = data

    def render(self, blocks: Sequence[Block]) -> bytes:
        """The ESC/POS bytes of ``blocks``, starting with ``ESC @`` (initialise)."""
        lib = escpos_library()
        printer = lib.printer.Dummy(profile=self.profile.escpos_profile)
        # Instance attribute shadows the class-level dict that escpos shares.
        printer.profile.profile_data = self._profile_data
        printer.hw("INIT")  # ESC @: left, normal size, not bold
        style = _Style(printer)
        for block in blocks:
            if isinstance(block, TextBlock):
                style.apply(block.align, block.bold, block.size)
                printer.textln(block.text)
            elif isinstance(block, QrBlock):
                style.apply("center", False, "normal")
                self._qr(printer, block.payload)
                style.apply("left", False, "normal")
            elif isinstance(block, Code128Block):
                style.apply("center", False, "normal")
                self._code128(printer, block.payload)
                style.current = ("center", False, "normal")  # GS k leaves centring on
                style.apply("left", False, "normal")
            elif isinstance(block, CutBlock):
                style.apply("left", False, "normal")
                printer.cut()  # feeds 6 lines; cuts only when the profile has a cutter
        return printer.output

    def _qr(self, printer: Any, payload: str) -> None:
        ec = escpos_library().constants.QR_ECLEVEL_M
        if self.profile.native_qr:
            printer.qr(payload, ec=ec, size=self.profile.qr_size, native=True)  # GS ( k
            printer.ln()
        else:
            import qrcode

            code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1)
            code.add_data(payload)
            code.make(fit=True)
            modules = code.modules_count + 2
            size = max(1, min(self.profile.qr_size, self.profile.width_dots // modules))
            printer.qr(payload, ec=ec, size=size, native=False,
                       image_arguments={"impl": self.profile.image_impl, "center": True})

    def _code128(self, printer: Any, payload: str) -> None:
        modules = 11 * (len(payload) + 3) + 2 + 20  # code set B symbols, stop bar, quiet zones
        module_dots = 3 if modules * 3 <= self.profile.width_dots else 2
        if self.profile.hardware_barcodes:
            # GS k 73 needs the code-set selector; the printer does not print it.
            printer._hw_barcode(
                "{B" + payload, "CODE128", height=80, width=module_dots, pos="BELOW",
                font="A", align_ct=True, function_type="B", check=True,
            )
            printer.ln()
        else:
            # python-barcode would draw "{B" literally, so the bare payload goes in.
            import barcode
            from barcode.writer import ImageWriter

            mm_per_dot = 25.4 / self.profile.dpi
            image = barcode.get_barcode_class("code128")(payload, writer=ImageWriter()).render(
                writer_options={
                    "module_width": module_dots * mm_per_dot,
                    "module_height": 80 * mm_per_dot,
                    "quiet_zone": 10 * module_dots * mm_per_dot,
                    "font_size": 9,
                    "text_distance": 3,
                    "dpi": self.profile.dpi,
                }
            )
            printer.image(image, impl=self.profile.image_impl, center=True)
