"""Small keyboard widgets for the forms: a one-key choice and a flag.

Textual's ``RadioSet`` and ``Checkbox`` bind Enter to "toggle", but in the
console's forms Enter always means "do it" (issue the ticket, take the
payment), so these two widgets use digits/arrows and Space only, and let
Enter bubble up to the form.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class KeyChoice(Widget, can_focus=True):
    """One of a few options, picked by its digit key or with left/right.

    ``options`` are ``(value, label)`` pairs; option *n* (1-based) is picked by
    key ``n``. The chosen option is shown in brackets and highlighted, so it
    reads without colour. Posts :class:`KeyChoice.Changed`.
    """

    DEFAULT_CSS = """
    KeyChoice { height: 1; width: auto; padding: 0 1; }
    """

    BINDINGS = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        *[Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, 10)],
    ]

    value: reactive[str] = reactive("", init=False)

    class Changed(Message):
        """The choice changed, or an option was picked by its key (``picked``)."""

        def __init__(self, choice: KeyChoice, value: str, picked: bool = False) -> None:
            super().__init__()
            self.choice = choice
            self.value = value
            self.picked = picked

        @property
        def control(self) -> KeyChoice:
            return self.choice

    def __init__(self, options: Sequence[tuple[str, str]], value: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.options = list(options)
        self.set_reactive(KeyChoice.value, value if value is not None else self.options[0][0])

    @property
    def index(self) -> int:
        return next((i for i, (v, _l) in enumerate(self.options) if v == self.value), 0)

    def action_move(self, step: int) -> None:
        self.value = self.options[(self.index + step) % len(self.options)][0]

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.options):
            value = self.options[index][0]
            if value == self.value:
                self.post_message(self.Changed(self, value, picked=True))
            else:
                self._picked = True
                self.value = value

    def watch_value(self, value: str) -> None:
        picked, self._picked = getattr(self, "_picked", False), False
        self.post_message(self.Changed(self, value, picked=picked))

    def _option(self, i: int, value: str, label: str) -> Content:
        if value == self.value:
            return Content.assemble((f"▸{i + 1} {label}◂", "reverse bold"))
        return Content.assemble(" ", (str(i + 1), "$accent bold"), f" {label} ")

    def _lines(self, width: int) -> list[Content]:
        """The options packed into lines of at most ``width`` cells; an option (its key and its
        label) is never split, so a narrow panel shows them on two lines instead of cutting one."""
        lines: list[list[Content]] = [[]]
        used = 0
        for i, (value, label) in enumerate(self.options):
            option = self._option(i, value, label)
            gap = 1 if lines[-1] else 0
            if lines[-1] and width > 0 and used + gap + option.cell_length > width:
                lines.append([])
                used, gap = 0, 0
            if gap:
                lines[-1].append(Content(" "))
            lines[-1].append(option)
            used += gap + option.cell_length
        return [Content.assemble(*parts) for parts in lines]

    def get_content_width(self, container, viewport) -> int:
        return self._lines(0)[0].cell_length

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._lines(width))

    def render(self) -> Content:
        return Content("\n").join(self._lines(self.content_size.width))


class Flag(Widget, can_focus=True):
    """A yes/no flag toggled with Space (Enter is left to the form): ``[x] EV``."""

    DEFAULT_CSS = """
    Flag { height: 1; width: auto; padding: 0 1; }
    Flag.-on { color: $accent; text-style: bold; }
    """

    BINDINGS = [Binding("space", "toggle", "Toggle", show=False)]

    value: reactive[bool] = reactive(False)

    class Changed(Message):
        def __init__(self, flag: Flag, value: bool) -> None:
            super().__init__()
            self.flag = flag
            self.value = value

        @property
        def control(self) -> Flag:
            return self.flag

    def __init__(self, label: str, value: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.set_reactive(Flag.value, value)

    def action_toggle(self) -> None:
        self.value = not self.value

    def watch_value(self, value: bool) -> None:
        self.set_class(value, "-on")
        self.post_message(self.Changed(self, value))

    def render(self) -> Content:
        # Content, not a str: Textual reads a str as markup, where "[x]" is a tag and vanished (issue 12)
        return Content(f"[{'x' if self.value else ' '}] {self.label}")


def cycle_focus(container: Widget, step: int) -> None:
    """Tab inside a form: focus the next (``step`` 1) or previous (-1) focusable widget inside
    ``container``, wrapping around, so Tab never leaves the form for the map or the other form.

    The order is the screen's focus chain (displayed, enabled widgets only); nothing happens when
    the container holds no focusable widget."""
    screen = container.screen
    chain = [widget for widget in screen.focus_chain if container in widget.ancestors]
    if not chain:
        return
    focused = screen.focused
    index = chain.index(focused) if focused in chain else (-1 if step > 0 else 0)
    screen.set_focus(chain[(index + step) % len(chain)])
