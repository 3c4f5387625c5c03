"""Input fields for money and counts, shared by the exit form, the dialogs and the count-up.

Amounts are typed in major units ("12.50", "£20") and parsed with
:func:`attendant.core.money.parse_major` into integer minor units, never a
float; the field only accepts digits, separators and currency symbols.
"""

from __future__ import annotations

from textual.widgets import Input

from attendant.core.money import parse_major

MONEY_RESTRICT = r"[0-9.,£$€₹¥]*"
COUNT_RESTRICT = r"[0-9]*"


class MoneyInput(Input):
    """An amount in major units of ``currency``; :meth:`amount` gives minor units."""

    def __init__(self, currency: str, *, placeholder: str = "0.00", max_length: int = 12, **kwargs) -> None:
        super().__init__(placeholder=placeholder, max_length=max_length, restrict=MONEY_RESTRICT, **kwargs)
        self.currency = currency

    def amount(self) -> int | None:
        """The typed amount in minor units; None when empty. Raises InputError for a malformed amount."""
        text = self.value.strip()
        return parse_major(text, self.currency) if text else None


class CountInput(Input):
    """A whole number of notes or coins (digits only, at most 5)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("placeholder", "0")
        super().__init__(max_length=5, restrict=COUNT_RESTRICT, **kwargs)

    def count(self) -> int:
        """The typed count; 0 when empty."""
        text = self.value.strip()
        return int(text) if text else 0
