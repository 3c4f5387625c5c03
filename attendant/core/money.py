"""Money as integer minor units (cents, pence); never a float.

Conversions to and from the decimal strings people type and scripts read use
:class:`decimal.Decimal` and refuse anything that is not an exact number of
minor units, so ``"1.005"`` is an error rather than a silent rounding.
Minor-unit exponents follow ISO 4217 for the currencies listed; any other
three-letter code defaults to 2.
"""

from __future__ import annotations

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


def parse_major(text: str | int | Decimal, currency: str = "GBP") -> int:
    """Parse a decimal amount in major units ("12.34", "£12", "20") to minor units.

    Raises :class:`InputError` for anything that is not a non-negative amount
    with at most the currency's number of decimal places.
    """
    raw = str(text).strip().replace(",", "")
    for symbol in _SYMBOLS.values():
        raw = raw.removeprefix(symbol)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InputError(f"not an amount: {text!r} (expected e.g. 12.50)") from None
    if not value.is_finite() or value < 0:
        raise InputError(f"not a valid amount: {text!r} (must be zero or more)")
    exp = minor_exponent(currency)
    scaled = value.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise InputError(f"amount {text!r} has more than {exp} decimal places for {currency}")
    return int(scaled)
