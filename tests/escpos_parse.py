"""A small ESC/POS byte-stream parser for tests (not a mock: it reads real bytes).

:func:`parse` walks the stream command by command (Epson ESC/POS command
reference, the subset python-escpos 3.1 emits plus the common neighbours) and
returns what a printer would put on paper:

- ``text``: printable text, decoded with the code page selected by ``ESC t n``
  (code page tables from python-escpos's capabilities data, the same tables the
  printer-side encoder used), one ``\\n`` per line feed;
- ``qr``: payloads stored with ``GS ( k`` cn=49 fn=80 (QR "store data");
- ``barcodes``: ``GS k m ...`` symbols with their raw data (Code 128 keeps its
  ``{B`` code-set prefix in ``data``; ``payload`` decodes it away);
- ``cuts``: ``GS V`` commands;
- ``images``: ``GS v 0`` raster images as PIL images (black on white), so a test
  can decode software-drawn QR codes and barcodes with zxing-cpp.

Unknown commands raise :class:`EscposParseError` with the byte offset: a test
that passes has understood every byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from PIL import Image

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C

# ESC commands and how many parameter bytes follow the command letter.
_ESC_FIXED = {
    ord("@"): 0, ord("!"): 1, ord("E"): 1, ord("-"): 1, ord("G"): 1, ord("M"): 1,
    ord("a"): 1, ord("t"): 1, ord("d"): 1, ord("J"): 1, ord("{"): 1, ord("R"): 1,
    ord("r"): 1, ord("2"): 0, ord("3"): 1, ord("+"): 1, ord("A"): 1, ord("p"): 3,
    ord("="): 1, ord("V"): 1, ord(" "): 1, ord("%"): 1, ord("U"): 1, ord("e"): 1,
    ord("B"): 2, ord("$"): 2, ord("\\"): 2, ord("i"): 0, ord("m"): 0, ord("L"): 0,
    ord("S"): 0, ord("T"): 1, ord("c"): 2, ord("K"): 1, ord("?"): 2,
}
# GS commands with a fixed number of parameter bytes.
_GS_FIXED = {
    ord("!"): 1, ord("B"): 1, ord("b"): 1, ord("h"): 1, ord("w"): 1, ord("H"): 1,
    ord("f"): 1, ord("L"): 2, ord("W"): 2, ord("a"): 1, ord("r"): 1, ord("I"): 1,
    ord("P"): 2, ord("|"): 1, ord("$"): 2, ord("\\"): 2,
}
BARCODE_NAMES = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "NW7",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "NW7",
    72: "CODE93", 73: "CODE128", 74: "GS1-128", 75: "GS1 DATABAR OMNIDIRECTIONAL",
    76: "GS1 DATABAR TRUNCATED", 77: "GS1 DATABAR LIMITED", 78: "GS1 DATABAR EXPANDED",
}


class EscposParseError(ValueError):
    """The stream holds a command this parser does not know, or is truncated."""


@dataclass(frozen=True)
class Barcode:
    """One ``GS k`` symbol: ``m`` (symbology byte), ``name`` and raw ``data``."""

    m: int
    name: str
    data: str

    @property
    def payload(self) -> str:
        """The encoded characters: Code 128 code-set selectors (``{A``/``{B``/``{C``)
        and function codes removed, ``{{`` read as ``{``, set C pairs as digits."""
        if self.name not in ("CODE128", "GS1-128"):
            return self.data
        out, code_set, i = [], "B", 0
        data = self.data
        while i < len(data):
            ch = data[i]
            if ch == "{" and i + 1 < len(data):
                nxt = data[i + 1]
                if nxt in "ABC":
                    code_set = nxt
                elif nxt == "{":
                    out.append("{")
                # {1..{4 and {S are function/shift codes: no character.
                i += 2
                continue
            out.append(f"{ord(ch):02d}" if code_set == "C" else ch)
            i += 1
        return "".join(out)


@dataclass(frozen=True)
class Cut:
    """One ``GS V``: ``mode`` full or partial, ``feed`` lines fed first (0 if none)."""

    mode: str
    feed: int


@dataclass
class QRSymbol:
    """A QR symbol: payload stored (fn 80) and whether it was printed (fn 81)."""

    payload: str
    module_size: int | None = None
    ec: int | None = None
    printed: bool = False


@dataclass
class Parsed:
    """What the stream puts on paper (see the module docstring)."""

    text: str = ""
    qr_symbols: list[QRSymbol] = field(default_factory=list)
    barcodes: list[Barcode] = field(default_factory=list)
    cuts: list[Cut] = field(default_factory=list)
    images: list[Image.Image] = field(default_factory=list)
    codepages: list[int] = field(default_factory=list)
    status_requests: int = 0

    @property
    def qr(self) -> list[str]:
        """Payloads of the QR symbols stored (fn 80), in order."""
        return [symbol.payload for symbol in self.qr_symbols]

    @property
    def lines(self) -> list[str]:
        """The text split into lines, trailing spaces removed."""
        return [line.rstrip() for line in self.text.split("\n")]


@cache
def _codepage_table(profile: str, n: int) -> tuple[str, ...] | None:
    """Characters 0x80..0xFF of code page slot ``n`` in the escpos ``profile``."""
    from escpos.capabilities import get_profile
    from escpos.magicencode import Encoder

    name = get_profile(profile).codePages.get(str(n))
    if not name or name == "Unknown":
        return None
    try:
        return tuple(Encoder._get_codepage_char_list(name))
    except (LookupError, KeyError):
        return None


def parse(data: bytes, *, profile: str = "default") -> Parsed:
    """Parse ``data`` (ESC/POS bytes) into a :class:`Parsed`.

    :raises EscposParseError: an unknown command or a truncated one.
    """
    out = Parsed()
    text: list[str] = []
    codepage = 0
    pending_qr: dict[str, int] = {}
    i, end = 0, len(data)

    def need(count: int, at: int) -> None:
        if at + count > end:
            raise EscposParseError(f"truncated command at byte {i}: needs {count} more bytes")

    while i < end:
        byte = data[i]
        if byte == ESC:
            need(2, i)
            cmd = data[i + 1]
            if cmd == ord("*"):  # ESC * m nL nH column image
                need(5, i)
                m, count = data[i + 2], data[i + 3] + data[i + 4] * 256
                size = count * (3 if m in (32, 33) else 1)
                need(5 + size, i)
                i += 5 + size
            elif cmd == ord("D"):  # ESC D n1..nk NUL tab stops
                stop = data.find(b"\x00", i + 2)
                if stop < 0:
                    raise EscposParseError(f"ESC D without NUL at byte {i}")
                i = stop + 1
            elif cmd in _ESC_FIXED:
                need(2 + _ESC_FIXED[cmd], i)
                if cmd == ord("@"):
                    codepage = 0
                elif cmd == ord("t"):
                    codepage = data[i + 2]
                    out.codepages.append(codepage)
                elif cmd == ord("d"):
                    text.append("\n" * data[i + 2])
                i += 2 + _ESC_FIXED[cmd]
            else:
                raise EscposParseError(f"unknown command ESC 0x{cmd:02x} at byte {i}")
        elif byte == GS:
            need(2, i)
            cmd = data[i + 1]
            if cmd == ord("V"):
                need(3, i)
                m = data[i + 2]
                if m in (0, 48, 1, 49):
                    out.cuts.append(Cut("full" if m in (0, 48) else "partial", 0))
                    i += 3
                elif m in (65, 66, 97, 98, 103, 104):
                    need(4, i)
                    out.cuts.append(Cut("full" if m % 2 else "partial", data[i + 3]))
                    i += 4
                else:
                    raise EscposParseError(f"unknown cut mode {m} at byte {i}")
            elif cmd == ord("k"):
                need(3, i)
                m = data[i + 2]
                if m <= 6:
                    stop = data.find(b"\x00", i + 3)
                    if stop < 0:
                        raise EscposParseError(f"GS k {m} without NUL at byte {i}")
                    raw, i = data[i + 3 : stop], stop + 1
                elif 65 <= m <= 78:
                    need(4, i)
                    n = data[i + 3]
                    need(4 + n, i)
                    raw, i = data[i + 4 : i + 4 + n], i + 4 + n
                else:
                    raise EscposParseError(f"unknown barcode type {m} at byte {i}")
                out.barcodes.append(Barcode(m, BARCODE_NAMES.get(m, str(m)), raw.decode("latin-1")))
            elif cmd == ord("("):  # GS ( fn pL pH ...
                need(5, i)
                fn = data[i + 2]
                length = data[i + 3] + data[i + 4] * 256
                need(5 + length, i)
                body = data[i + 5 : i + 5 + length]
                if fn == ord("k") and len(body) >= 2 and body[0] == 49:  # QR code
                    _qr_function(out, body, pending_qr)
                elif fn not in (ord("k"), ord("L"), ord("A"), ord("C"), ord("D"), ord("E"), ord("H")):
                    raise EscposParseError(f"unknown command GS ( {chr(fn)} at byte {i}")
                i += 5 + length
            elif cmd == ord("v"):  # GS v 0 m xL xH yL yH raster image
                need(8, i)
                if data[i + 2] != ord("0"):
                    raise EscposParseError(f"unknown command GS v {data[i + 2]} at byte {i}")
                width_bytes = data[i + 4] + data[i + 5] * 256
                height = data[i + 6] + data[i + 7] * 256
                size = width_bytes * height
                need(8 + size, i)
                raster = bytes(b ^ 0xFF for b in data[i + 8 : i + 8 + size])  # 1 = black on paper
                out.images.append(Image.frombytes("1", (width_bytes * 8, height), raster).convert("L"))
                i += 8 + size
            elif cmd in _GS_FIXED:
                need(2 + _GS_FIXED[cmd], i)
                i += 2 + _GS_FIXED[cmd]
            else:
                raise EscposParseError(f"unknown command GS 0x{cmd:02x} at byte {i}")
        elif byte == DLE:
            need(3, i)
            cmd = data[i + 1]
            if cmd in (0x04, 0x05):  # DLE EOT n / DLE ENQ n
                out.status_requests += cmd == 0x04
                i += 3
            elif cmd == 0x14:  # DLE DC4 fn m t
                need(5, i)
                i += 5
            else:
                raise EscposParseError(f"unknown command DLE 0x{cmd:02x} at byte {i}")
        elif byte == ord("\n"):
            text.append("\n")
            i += 1
        elif byte in (ord("\r"), 0x00):
            i += 1
        elif byte == ord("\t"):
            text.append("\t")
            i += 1
        elif byte < 0x20 or byte == 0x7F:
            raise EscposParseError(f"unexpected control byte 0x{byte:02x} at byte {i}")
        elif byte < 0x80:
            text.append(chr(byte))
            i += 1
        else:
            table = _codepage_table(profile, codepage)
            if table is None:
                raise EscposParseError(f"byte 0x{byte:02x} at {i} in unknown code page {codepage}")
            text.append(table[byte - 0x80])
            i += 1
    out.text = "".join(text)
    return out


def _qr_function(out: Parsed, body: bytes, pending: dict[str, int]) -> None:
    """Handle one ``GS ( k`` QR function (cn=49): 67 size, 69 ec, 80 store, 81 print."""
    fn = body[1]
    if fn == 67:
        pending["size"] = body[2]
    elif fn == 69:
        pending["ec"] = body[2] - 48
    elif fn == 80:  # store: cn fn m=48 d1..dk
        out.qr_symbols.append(
            QRSymbol(body[3:].decode("utf-8"), pending.get("size"), pending.get("ec"))
        )
    elif fn == 81 and out.qr_symbols:
        out.qr_symbols[-1].printed = True
