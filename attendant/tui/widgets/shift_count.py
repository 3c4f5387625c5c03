"""The count-up at shift close: a grid of denomination counts and the over/short table.

:class:`CashCountGrid` has one count field per note and coin of the
facility currency (:func:`attendant.core.shifts.denominations`, largest
first), the amount of each row and the counted cash, all updated as the
attendant types; it posts :class:`CashCountGrid.Changed` with the count
(``{denomination minor units: count}``) and the total (minor units).
``down``/Enter move to the next field, ``up`` to the previous one.

:class:`OverShortTable` shows expected against counted per payment method
and the over/short (counted - expected; positive is over), each state with a
word and a glyph as well as a colour (STYLE.md rule 8). The drawer cash and
the non-cash takings (card, UPI, ...) are totalled apart, never added into
one TOTAL (issue 12 item 6). ``blind``: the expected amounts and the
over/short are hidden (a blind count-up) until :meth:`OverShortTable.reveal`;
a method not counted yet shows ``–``, never its expected amount.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, Static

from attendant.core.money import format_money
from attendant.core.payment_methods import label as method_label
from attendant.core.payment_methods import order_key
from attendant.core.payment_methods import spec as method_spec
from attendant.core.shifts import CASH, denominations, electronic_total
from attendant.tui.widgets.money_fields import CountInput


def counted_methods(expected: dict[str, int]) -> list[str]:
    """The methods of ``expected`` (besides the drawer's cash) whose totals the count-up asks for,
    in the registry's order: those counted at shift close (:mod:`attendant.core.payment_methods`)."""
    return [m for m in sorted(expected, key=order_key)
            if not method_spec(m).takes_tendered and method_spec(m).counted_at_close]



class CashCountGrid(Vertical):
    """Count of the drawer by denomination (see the module docstring)."""

    DEFAULT_CSS = """
    CashCountGrid { height: auto; width: 40; }
    CashCountGrid .count-row { height: 1; }
    CashCountGrid .count-denom { width: 10; text-align: right; padding-right: 1; color: $text-muted; text-style: bold; }
    CashCountGrid .count-x { width: 2; }
    CashCountGrid CountInput { width: 8; height: 1; border: none; padding: 0 1; background: $boost; }
    CashCountGrid CountInput:focus { background: $primary 25%; border: none; }
    CashCountGrid .count-amount { width: 1fr; text-align: right; }
    CashCountGrid #count-total { margin-top: 1; height: 1; }
    """

    BINDINGS = [
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    class Changed(Message):
        """The count changed: ``count`` {denomination: n} (zeros left out), ``total`` minor units."""

        def __init__(self, count: dict[int, int], total: int) -> None:
            super().__init__()
            self.count = count
            self.total = total

    class Done(Message):
        """Enter in the last count field: the count is complete."""

    def __init__(self, currency: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.currency = currency
        self.denominations = denominations(currency)

    def compose(self) -> ComposeResult:
        for denom in self.denominations:
            with Horizontal(classes="count-row"):
                yield Label(format_money(denom, self.currency), classes="count-denom")
                yield Label("×", classes="count-x")
                yield CountInput(id=f"count-{denom}")
                yield Static(format_money(0, self.currency), id=f"count-amount-{denom}", classes="count-amount")
        yield Static("", id="count-total")

    def on_mount(self) -> None:
        self._update_total()

    # ---------------------------------------------------------------- values
    @property
    def fields(self) -> list[CountInput]:
        return [self.query_one(f"#count-{d}", CountInput) for d in self.denominations]

    def count(self) -> dict[int, int]:
        """{denomination minor units: count} of the fields with a count."""
        return {d: f.count() for d, f in zip(self.denominations, self.fields) if f.count()}

    def total(self) -> int:
        """Counted cash in minor units."""
        return sum(d * n for d, n in self.count().items())

    def set_count(self, count: dict[int, int]) -> None:
        """Fill the fields (tests, a recount); denominations not given are cleared."""
        for denom, field in zip(self.denominations, self.fields):
            field.value = str(count[denom]) if count.get(denom) else ""

    # --------------------------------------------------------------- actions
    def action_move(self, step: int) -> None:
        fields = self.fields
        focused = self.screen.focused
        index = next((i for i, f in enumerate(fields) if f is focused), -1)
        target = fields[max(0, min(len(fields) - 1, index + step))] if index >= 0 else fields[0]
        target.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        fields = self.fields
        index = next((i for i, f in enumerate(fields) if f is event.input), -1)
        if index == len(fields) - 1:
            self.post_message(self.Done())
        else:
            self.action_move(1)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        field = event.input
        denom = int(str(field.id).removeprefix("count-"))
        self.query_one(f"#count-amount-{denom}", Static).update(
            format_money(denom * field.count(), self.currency) if isinstance(field, CountInput) else ""
        )
        self._update_total()

    def _update_total(self) -> None:
        total = self.total()
        self._show_total(total)
        self.post_message(self.Changed(self.count(), total))

    def _show_total(self, total: int) -> None:
        width = self.content_size.width
        amount = format_money(total, self.currency)
        if 0 < width < 38:  # the narrow grid (80-column terminal): the amount under the amounts column
            line = Content.assemble(("Counted cash", "b"), (amount.rjust(width - 12), "$money b"))
        else:
            line = Content.assemble(("Counted cash".rjust(20), "b"), (amount.rjust(18), "$money b"))
        self.query_one("#count-total", Static).update(line)

    def on_resize(self) -> None:
        self._show_total(self.total())


def over_short_word(value: int, currency: str) -> tuple[str, str]:
    """(text, style) of an over/short amount: ``✓ balanced``, ``▲ over £1.00``, ``▼ short £1.00``."""
    if value == 0:
        return "✓ balanced", "$ok b"
    if value > 0:
        return f"▲ over {format_money(value, currency)}", "$warn b"
    return f"▼ short {format_money(-value, currency)}", "$fault b"


class OverShortTable(Static):
    """Expected, counted and over/short per payment method, and the totals."""

    DEFAULT_CSS = """
    OverShortTable { height: auto; }
    """

    def __init__(self, currency: str, expected: dict[str, int], *, blind: bool = False, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.currency = currency
        self.expected = dict(expected)
        self.counted: dict[str, int] = {}
        self.blind = blind

    def on_mount(self) -> None:
        self.refresh_table()

    def set_counted(self, counted: dict[str, int | None]) -> None:
        """Counted amounts per method (minor units); a method not given (or None) is not counted yet."""
        self.counted = {m: v for m, v in counted.items() if v is not None}
        self.refresh_table()

    def reveal(self) -> None:
        """The count is entered: show the expected amounts and the over/short."""
        self.blind = False
        self.refresh_table()

    def counted_of(self, method: str) -> int | None:
        return self.counted.get(method)

    def over_short(self) -> dict[str, int]:
        """Over/short per method (minor units; a method not counted counts as 0)."""
        return {m: (self.counted_of(m) or 0) - e for m, e in self.expected.items()}

    def on_resize(self) -> None:
        self.refresh_table()  # the columns follow the width (see refresh_table)

    def refresh_table(self) -> None:
        cur = self.currency
        # full columns need 51 cells; a narrow terminal (80 columns) gets tighter ones
        name, amount, gap = (12, 12, "  ") if not 0 < self.content_size.width < 52 else (9, 9, " ")
        hidden = "hidden" if self.blind else None
        rows: list[Content] = [
            Content.assemble((f"{'Method':<{name}}{'Expected':>{amount}}{'Counted':>{amount}}{gap}Over/short",
                              "b $muted"))
        ]

        def row(label: str, expected: int, counted: int | None, bold: str = "") -> Content:
            if counted is None:
                word, style = "– not counted", "$muted"
            elif hidden:
                word, style = "(after the count)", "$muted"
            else:
                word, style = over_short_word(counted - expected, cur)
            return Content.assemble(
                (f"{label[:name - 1]:<{name}}", bold),
                (f"{hidden or format_money(expected, cur):>{amount}}", f"$muted {bold}" if hidden else f"$money {bold}"),
                (f"{'–' if counted is None else format_money(counted, cur):>{amount}}", f"$money {bold}"),
                gap,
                (word, style),
            )

        rows.append(row("Drawer cash" if name > 11 else "Cash", self.expected.get(CASH, 0), self.counted_of(CASH), "b"))
        for method, expected in self.expected.items():
            if method != CASH:
                rows.append(row(method_label(method), expected, self.counted_of(method)))
        non_cash = {m: e for m, e in self.expected.items() if m != CASH and method_spec(m).takes_money}
        if non_cash:
            rows.append(row("Non-cash", electronic_total(non_cash) or 0,
                            electronic_total({m: self.counted_of(m) for m in non_cash}), "b"))
        self.update(Content("\n").join(rows))
