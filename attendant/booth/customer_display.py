"""What an exit lane's customer display tells the driver, screen by screen (the booth drives it).

The screens, two rows of 20 characters (:class:`hardware.displays.Screen`;
the driver cuts and maps characters to the display's code page):

- idle, when the lane opens and a while after each exit: the facility's name
  and "Please have ticket";
- the fee, when the attendant looks a ticket up at the lane
  (:meth:`attendant.booth.booth.Booth.checkout` with the lane): "Please pay"
  and the balance; the stay, or what is paid so far;
- after part of a split payment or a validation: the fee screen again, with
  the balance and what is paid so far;
- after the exit: cash shows what was tendered and the change; another
  method what was paid and how; an IOU what was left unpaid. Then, after
  :data:`RESULT_HOLD_S` seconds, "Thank you"; after :data:`THANKS_HOLD_S`
  more, idle.

Amounts are integer minor units formatted with the facility currency
(:func:`attendant.core.money.format_money`). Nothing here raises into a
payment: the display's own thread writes, and a display that is down shows
in device health (:class:`hardware.displays.CustomerDisplay`).
"""

from __future__ import annotations

from attendant.booth.printouts import duration_text
from attendant.core.money import format_money
from attendant.core.views import Checkout, ExitResult
from hardware.displays import Screen

__all__ = ["RESULT_HOLD_S", "THANKS_HOLD_S", "after_exit", "fee_screen", "idle_screen", "result_screen",
           "thanks_screen"]

#: Seconds the tendered amount and change (or the amount paid) stay up after an exit.
RESULT_HOLD_S = 8.0
#: Seconds "Thank you" stays up before the idle screen.
THANKS_HOLD_S = 6.0


def idle_screen(facility_name: str) -> Screen:
    """Between vehicles: the facility's name, "Please have ticket"."""
    return Screen.of(facility_name, "", "Please have ticket")


def thanks_screen() -> Screen:
    """After the result of an exit: "Thank you", "Drive safely"."""
    return Screen.of("Thank you", "", "Drive safely")


def fee_screen(checkout: Checkout, currency: str) -> Screen:
    """A ticket looked up: the balance to pay, then the stay (or what is paid so far); nothing to pay
    when the balance is 0 (grace period, a pass)."""
    if checkout.balance <= 0:
        return Screen.of("Nothing to pay", "", "Stay", duration_text(checkout.session.entry_at, checkout.at))
    bottom = (("Paid so far", format_money(checkout.paid, currency)) if checkout.paid > 0
              else ("Stay", duration_text(checkout.session.entry_at, checkout.at)))
    return Screen(("Please pay", format_money(checkout.balance, currency)), bottom)


def result_screen(result: ExitResult) -> Screen:
    """The exit done: tendered and change (cash), else what was paid and how, or the IOU left."""
    cur = result.currency
    if result.tendered is not None and result.change is not None:
        return Screen.of("Tendered", format_money(result.tendered, cur), "Change", format_money(result.change, cur))
    if result.iou_amount:
        return Screen.of("Unpaid", format_money(result.iou_amount, cur), "Please pay later")
    if result.paid <= 0:
        return Screen.of("Nothing to pay", "", "Thank you")
    how = "" if result.method in (None, "split") else f"by {result.method.replace('_', ' ')}"
    return Screen.of("Paid", format_money(result.paid, cur), how)


def after_exit(result: ExitResult, facility_name: str) -> tuple[Screen, tuple[tuple[float, Screen], ...]]:
    """The result screen and what follows it: ``(screen, ((seconds, screen), ...))`` for
    :meth:`hardware.displays.CustomerDisplay.show`."""
    return result_screen(result), ((RESULT_HOLD_S, thanks_screen()), (THANKS_HOLD_S, idle_screen(facility_name)))
