"""Money as integer minor units (cents, pence); never a float.

Conversions to and from the decimal strings people type and scripts read use
:class:`decimal.Decimal` and refuse anything that is not an exact number of
minor units, so ``"1.005"`` is an error rather than a silent rounding.
Minor-unit exponents follow ISO 4217 for the currencies listed; any other
three-letter code defaults to 2.
"""

from __future__ import annotations

import re
from decimal import Decimal

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

#: The locales whose number format an amount in a currency is read in (CLDR data through Babel).
#: GBP and USD: point for the decimals, comma for thousands (``1,234.50``). EUR: both the continental
#: form (``de_DE``: ``1.234,50``) and the Irish/English one (``en_IE``: ``1,234.50``), so ``10,50`` and
#: ``10.50`` both read 10.50; a text the two read differently (``1,000``, ``1.000``) is ambiguous and
#: refused. Any other currency reads as ``en_GB`` (its decimals still come from :func:`minor_exponent`).
AMOUNT_LOCALES: dict[str, tuple[str, ...]] = {
    "GBP": ("en_GB",), "USD": ("en_US",), "EUR": ("de_DE", "en_IE"), "INR": ("en_IN",), "JPY": ("ja_JP",),
}
_TYPED = re.compile(r"[0-9.,]*[0-9][0-9.,]*")


def amount_locales(currency: str) -> tuple[str, ...]:
    """The locales an amount in ``currency`` is read in (:data:`AMOUNT_LOCALES`; default ``en_GB``)."""
    return AMOUNT_LOCALES.get(currency.upper(), ("en_GB",))


def amount_hint(currency: str) -> str:
    """What to type for an amount in ``currency``, e.g. ``"type 10.00 or 1,234.50"`` (GBP)."""
    from babel.numbers import format_decimal

    exp = minor_exponent(currency)
    pattern = "#,##0" + ("." + "0" * exp if exp else "")
    forms = []
    for loc in amount_locales(currency):
        for value in ("10", "1234.5"):
            shown = format_decimal(Decimal(value), format=pattern, locale=loc)
            if shown not in forms:
                forms.append(shown)
    return "type " + " or ".join(forms)


def parse_major(text: str | int | Decimal, currency: str = "GBP") -> int:
    """Parse an amount typed in major units to minor units: the one reading of every amount typed
    (CLI options, console fields, the HTTP API, batch files; issue 10 item 9).

    The text is read in the number format of the currency's locales
    (:data:`AMOUNT_LOCALES`, CLDR data through Babel's strict
    ``parse_decimal``: groups of three between the group separators); a
    currency symbol before or after and surrounding spaces are allowed
    (``"£12"``, ``"12,50 €"``). Only ASCII digits: no exponent (``1e30``),
    no sign, no other script's digits (``٢٠``, fullwidth ``２０``).

    Raises :class:`InputError` saying what to type for: a text that is not
    an amount in the currency (``"10,00"`` in GBP: a comma only groups
    thousands), an ambiguous one (``"1,000"`` in EUR: a thousand, or one
    euro), more decimal places than the currency has (``"1.005"``), a
    negative amount, and more than :data:`MAX_AMOUNT`.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    elif isinstance(text, Decimal):
        text = format(text, "f")
    shown = str(text)[:40]
    raw = str(text).strip()
    for symbol in (_SYMBOLS.get(currency.upper(), currency.upper()), currency.upper()):
        raw = raw.removeprefix(symbol).removesuffix(symbol).strip()
    if raw.startswith("-"):
        raise InputError(f"not a valid amount: {shown!r} (must be zero or more)")
    if len(raw) > 24 or sum(c.isdigit() for c in raw) > 15 or not _TYPED.fullmatch(raw):
        raise InputError(f"not an amount: {shown!r} ({amount_hint(currency)}; digits 0-9)")
    from babel.numbers import NumberFormatError, parse_decimal

    readings: dict[Decimal, str] = {}
    for loc in amount_locales(currency):
        try:
            value = parse_decimal(raw, locale=loc, strict=True)
        except NumberFormatError:
            continue
        readings.setdefault(value, loc)
    cur = currency.upper()
    if not readings:
        raise InputError(f"{shown!r} is not an amount in {cur}: {amount_hint(currency)}")
    if len({v.normalize() for v in readings}) > 1:
        unit = 10 ** minor_exponent(currency)
        options = " or ".join(format_money(int(v * unit), currency) for v in readings
                              if v * unit == (v * unit).to_integral_value())
        raise InputError(f"{shown!r} is ambiguous in {cur} ({options or 'several readings'}): "
                         f"{amount_hint(currency)}")
    value = next(iter(readings))
    scaled = _minor(value, currency)
    exp = minor_exponent(currency)
    if scaled is None:
        raise InputError(f"amount {shown!r} has more than {exp} decimal places for {cur}: {amount_hint(currency)}")
    if scaled > MAX_AMOUNT:
        raise InputError(f"amount {shown!r} is more than {format_money(MAX_AMOUNT, currency)}, the most accepted")
    return scaled


parse_amount = parse_major
"""The same reader under the name the amount fields use."""


def _minor(value: Decimal, currency: str) -> int | None:
    """``value`` in minor units, or None when it has more decimal places than ``currency``."""
    exp = minor_exponent(currency)
    if value.as_tuple().exponent < -exp:
        return None
    return int(value.scaleb(exp))


#: A tendered amount needs the attendant's confirmation when the change would be more than this many
#: major units, or when it is more than :data:`CONFIRM_RATIO` times the amount due and more than
#: :data:`CONFIRM_NOTE` major units (the largest common note, a $100 bill): ``10,00`` typed where ``10.00``
#: was meant (read 1,000.00), or ``1000`` for ``10.00``. A £50 note for a £2.50 fee, or $100 for $7.20,
#: needs none.
CONFIRM_CHANGE = 100
CONFIRM_RATIO = 10
CONFIRM_NOTE = 100


def tendered_needs_confirmation(tendered: int, due: int, currency: str) -> str | None:
    """Why a cash ``tendered`` amount for ``due`` (minor units) needs confirming, or None when it needs none.

    The rule (issue 10 item 9): change above :data:`CONFIRM_CHANGE` major units, or a tendered amount above
    :data:`CONFIRM_RATIO` times the amount due and above :data:`CONFIRM_NOTE` major units.
    """
    unit = 10 ** minor_exponent(currency)
    change = tendered - due
    if change > CONFIRM_CHANGE * unit or (tendered > CONFIRM_RATIO * due and tendered > CONFIRM_NOTE * unit):
        return (f"{format_money(tendered, currency)} tendered for {format_money(due, currency)} due "
                f"(change {format_money(change, currency)}): is the amount right?")
    return None
