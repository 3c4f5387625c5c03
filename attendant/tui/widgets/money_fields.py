"""Input fields for money and counts, shared by the exit form, the dialogs and the count-up.

Amounts are typed in major units in the facility currency's own format
("12.50", "£20"; "12,50" for EUR) and read by the one amount reader,
:func:`attendant.core.money.parse_major`, into integer minor units, never a
float; the field only accepts digits, separators and currency symbols.
:class:`AmountValidator` runs that reader (and an optional ceiling, the
balance) on every keystroke, so an amount the service would refuse (``10,00``
in GBP, a part amount above the balance) is shown refused while it is typed.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from attendant.core.errors import InputError
from attendant.core.money import format_money, parse_major

MONEY_RESTRICT = r"[0-9.,£$€₹¥]*"
COUNT_RESTRICT = r"[0-9]*"


class AmountValidator(Validator):
    """Valid when empty or an amount :func:`parse_major` reads in ``currency`` that is at most ``ceiling()``
    minor units (``ceiling`` None or returning None: no ceiling). The failure text is the reader's own
    message (what to type) or ``"more than the balance £X"``."""

    def __init__(self, currency: str, ceiling: Callable[[], int | None] | None = None,
                 what: str = "the balance") -> None:
        super().__init__()
        self.currency = currency
        self.ceiling = ceiling
        self.what = what

    def validate(self, value: str) -> ValidationResult:
        text = value.strip()
        if not text:
            return self.success()
        try:
            amount = parse_major(text, self.currency)
        except InputError as exc:
            return self.failure(str(exc))
        limit = self.ceiling() if self.ceiling is not None else None
        if limit is not None and amount > limit:
            return self.failure(f"{format_money(amount, self.currency)} is more than {self.what} "
                                f"{format_money(limit, self.currency)}")
        return self.success()


class MoneyInput(Input):
    """An amount in major units of ``currency``; :meth:`amount` gives minor units. ``ceiling``: a callable
    giving the most this field may hold (minor units), checked as it is typed."""

    def __init__(self, currency: str, *, placeholder: str = "0.00", max_length: int = 12,
                 ceiling: Callable[[], int | None] | None = None, **kwargs) -> None:
        super().__init__(placeholder=placeholder, max_length=max_length, restrict=MONEY_RESTRICT,
                         validators=[AmountValidator(currency, ceiling)], validate_on=["changed", "submitted"],
                         **kwargs)
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
