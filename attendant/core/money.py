"""Money as integer minor units (cents, pence); never a float.

Conversions to and from the decimal strings people type and scripts read use
:class:`decimal.Decimal` and refuse anything that is not an exact number of
minor units, so ``"1.005"`` is an error rather than a silent rounding.
Minor-unit exponents follow ISO 4217 for the currencies listed; any other
three-letter code defaults to 2.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from attendant.core.errors import InputError

# ISO 4217 minor-unit exponents for currencies whose exponent is not 2.
_EXPONENTS: dict[str, int] = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}
_SYMBOLS: dict[str, str] = {"GBP": "£", "EUR": "€", "USD": "$", "INR": "₹", "JPY": "¥"}


def minor_exponent(currency: str) -> int:
    """Number of decimal places of ``currency`` (ISO 4217 code), e.g. 2 for GBP."""
    return _EXPONENTS.get(currency.upper(), 2)


def to_major_str(amount_minor: int, currency: str = "GBP") -> str:
    """Format an amount in minor units as a decimal string in major units.

    ``to_major_str(1234, "GBP") == "12.34"``; negative amounts keep their sign.
    This is the stable form used in ``--json`` output and CSV exports.
    """
    exp = minor_exponent(currency)
    value = Decimal(int(amount_minor)).scaleb(-exp)
    return f"{value:.{exp}f}"


def format_money(amount_minor: int, currency: str = "GBP") -> str:
    """Human form with the currency symbol and thousands separators, e.g. ``"£1,234.50"`` or ``"-£0.50"``."""
    sign = "-" if amount_minor < 0 else ""
    symbol = _SYMBOLS.get(currency.upper())
    exp = minor_exponent(currency)
    body = f"{Decimal(abs(int(amount_minor))).scaleb(-exp):,.{exp}f}"
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency.upper()}"


MAX_AMOUNT = 100_000_000
"""The largest amount, in minor units, any amount typed may be (1,000,000.00 in a two-decimal currency):
far above any parking fee or float, far below what the integer columns hold (2**31 - 1)."""
_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{0,12})?|\.[0-9]{1,12}")


def parse_major(text: str | int | Decimal, currency: str = "GBP") -> int:
    """Parse a decimal amount in major units ("12.34", "£12", "20", "1,250.00") to minor units.

    Only ASCII digits, one optional decimal point and thousands commas are
    read: no exponent (``1e30``), no sign, no other script's digits (``٢٠``,
    fullwidth ``２０``). Raises :class:`InputError` for anything else, for more
    decimal places than the currency has, and for more than :data:`MAX_AMOUNT`.
    """
    raw = str(text).strip().replace(",", "")
    for symbol in _SYMBOLS.values():
        raw = raw.removeprefix(symbol)
    shown = str(text)[:40]
    if raw.startswith("-"):
        raise InputError(f"not a valid amount: {shown!r} (must be zero or more)")
    if not _AMOUNT.fullmatch(raw):
        raise InputError(f"not an amount: {shown!r} (expected e.g. 12.50, digits 0-9)")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InputError(f"not an amount: {shown!r} (expected e.g. 12.50)") from None
    exp = minor_exponent(currency)
    scaled = value.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise InputError(f"amount {shown!r} has more than {exp} decimal places for {currency}")
    if scaled > MAX_AMOUNT:
        raise InputError(f"amount {shown!r} is more than {format_money(MAX_AMOUNT, currency)}, the most accepted")
    return int(scaled)
