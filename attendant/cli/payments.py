"""CLI for IOUs, refunds, merchant validations and passes (same services as the console).

Supervisor-only operations (refunds, validations, passes) are checked by the
services against the actor from ``--user/--pin``
(:meth:`attendant.cli.common.Context.login`).
"""


from typing import Annotated, Optional

import typer

from attendant.cli.common import (
    JsonOpt,
    parse_money,
    parse_when,
    print_json,
    state,
    typer_app,
)
from attendant.core.errors import InputError
from attendant.core.money import format_money, to_major_str
from attendant.core.payment_methods import IOU_METHODS
from attendant.core.vocab import IouStatus

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

iou_app = typer_app(help="IOUs left when a vehicle was let go without full payment.", no_args_is_help=True)
validation_app = typer_app(help="Merchant validations (discounts).", no_args_is_help=True)
pass_app = typer_app(help="Passes for monthly and contract parkers.", no_args_is_help=True)
payment_app = typer_app(help="Payment attempts: list the stuck ones and resolve them.", no_args_is_help=True)
commands.add_typer(iou_app, name="iou")
commands.add_typer(payment_app, name="payment")
commands.add_typer(validation_app, name="validation")
commands.add_typer(pass_app, name="pass")


@iou_app.command("list")
def iou_list(
    ctx: typer.Context,
    plate: Annotated[Optional[str], typer.Option(help="Only this plate.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Settled ones too.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Unpaid (or all) IOUs, newest first."""
    service = state(ctx).service()
    cur = service.facility.currency
    rows = service.ious(plate, status=None if all_ else IouStatus.OPEN)
    if json_:
        print_json([{"id": i.id, "ticket_no": i.ticket_no, "plate": i.plate, "amount": to_major_str(i.amount, cur),
                     "reason": i.reason, "status": i.status, "created_at": i.created_at.isoformat()} for i in rows])
        return
    for i in rows:
        when = service.local(i.created_at).strftime("%d %b %H:%M")
        typer.echo(f"{i.id:>5}  {i.plate or '-':<10} {format_money(i.amount, cur):>9}  {i.status:<8} {when}  "
                   f"{i.ticket_no}  {i.reason}")
    if not rows:
        typer.echo("no IOUs")


@iou_app.command("settle")
def iou_settle(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="The plate whose IOUs are paid.")],
    pay: Annotated[str, typer.Option("--pay", help=f"How: {', '.join(s.value for s in IOU_METHODS)}.")] = "card",
    tendered: Annotated[Optional[str], typer.Option(help="Cash handed over (major units).")] = None,
    confirm_amount: Annotated[bool, typer.Option(
        "--confirm-amount", help="Confirm a tendered amount far above the IOUs (else refused).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Pay every open IOU of PLATE (so it may enter again)."""
    cli = state(ctx)
    service = cli.service()
    cur = service.facility.currency
    paid = service.settle_ious(plate, pay, actor=cli.login(), tendered=parse_money(tendered, cur, "--tendered"),
                               confirm_amount=confirm_amount)
    total = sum(p.amount for p in paid)
    if json_:
        print_json({"plate": plate, "settled": len(paid), "paid": to_major_str(total, cur),
                    "payments": [{"id": p.id, "method": p.method, "amount": to_major_str(p.amount, cur)}
                                 for p in paid]})
    else:
        typer.echo(f"Settled {len(paid)} IOU(s) of {plate}: {format_money(total, cur)} by {pay}")


@commands.command("refund")
def refund(
    ctx: typer.Context,
    payment_id: Annotated[int, typer.Argument(help="The payment to refund.", min=1, max=2_147_483_647)],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")],
    amount: Annotated[Optional[str], typer.Option(help="Part refund, major units (default: all).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Refund a payment (supervisors only)."""
    cli = state(ctx)
    service = cli.service()
    cur = service.facility.currency
    view = service.refund(payment_id, actor=cli.login(), reason=reason, amount=parse_money(amount, cur, "--amount"))
    if json_:
        print_json({"refund_id": view.id, "refund_of": payment_id, "method": view.method,
                    "amount": to_major_str(-view.amount, cur), "reference": view.reference})
    else:
        typer.echo(f"Refunded {format_money(-view.amount, cur)} of payment {payment_id} ({view.method})")


@payment_app.command("list")
def payment_list(
    ctx: typer.Context,
    pending: Annotated[bool, typer.Option("--pending", help="Attempts waiting for a processor's answer.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Payment attempts still pending (--pending): what blocks a ticket's next charge and a shift's close."""
    if not pending:
        raise InputError("say which payments: --pending (the attempts waiting for a processor's answer)")
    service = state(ctx).service()
    cur = service.facility.currency
    rows = service.pending_payments()
    if json_:
        print_json([{"id": p.id, "ticket_no": p.ticket_no, "method": p.method, "amount": to_major_str(p.amount, cur),
                     "lane": p.lane, "actor": p.actor, "shift_id": p.shift_id, "asked_at": p.asked_at.isoformat(),
                     "in_flight": p.in_flight, "message": p.message} for p in rows])
        return
    for p in rows:
        when = service.local(p.asked_at).strftime("%d %b %H:%M:%S")
        state_ = "in progress" if p.in_flight else "stuck"
        shift = f"shift #{p.shift_id}" if p.shift_id else "no shift"
        typer.echo(f"{p.id:>5}  {p.ticket_no}  {p.method:<8} {format_money(p.amount, cur):>9}  {state_:<11} "
                   f"{p.lane or '-':<4} {when}  {p.actor} ({shift})  {p.message or ''}".rstrip())
    if not rows:
        typer.echo("no pending payments")


@payment_app.command("resolve")
def payment_resolve(
    ctx: typer.Context,
    payment_id: Annotated[int, typer.Argument(help="The pending payment (see `attendant payment list --pending`).",
                                               min=1, max=2_147_483_647)],
    outcome: Annotated[str, typer.Option(help="approved (money taken), declined (nothing taken) or void "
                                              "(reverse it at the processor).")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")],
    reference: Annotated[Optional[str], typer.Option(help="The processor's reference, e.g. from the slip.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Settle a stuck payment attempt (supervisors only); the processor's own answer, when it gives one,
    must agree."""
    cli = state(ctx)
    service = cli.service()
    cur = service.facility.currency
    view = service.resolve_payment(payment_id, outcome.strip().lower(), actor=cli.login(), reason=reason,
                                   reference=reference)
    if json_:
        print_json({"id": view.id, "status": view.status, "method": view.method,
                    "amount": to_major_str(view.amount, cur), "reference": view.reference, "message": view.message})
    else:
        typer.echo(f"Payment {view.id} ({view.method} {format_money(view.amount, cur)}) is now {view.status}: "
                   f"{view.message}")


@validation_app.command("create")
def validation_create(
    ctx: typer.Context,
    merchant: Annotated[str, typer.Option(help="Who pays for the validation.")],
    kind: Annotated[str, typer.Option(help="amount, percent or minutes.")],
    value: Annotated[str, typer.Option(help="Amount in major units, a percent, or minutes.")],
    reusable: Annotated[bool, typer.Option(help="Usable on many tickets.")] = False,
    max_uses: Annotated[Optional[int], typer.Option(help="Maximum number of uses.", min=1, max=1_000_000)] = None,
    expires: Annotated[Optional[str], typer.Option(help="Expiry, ISO 8601 (no offset: facility time).")] = None,
    code: Annotated[Optional[str], typer.Option(help="Code to use (default: generated).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a merchant validation (supervisors only); prints its code."""
    cli = state(ctx)
    service = cli.service()
    cur = service.facility.currency
    if kind == "amount":
        number = parse_money(value, cur, "--value")
    else:
        try:
            number = int(value)
        except ValueError:
            raise InputError(f"{kind} validations take a whole number, not {value!r}") from None
    made = service.create_validation(actor=cli.login(), merchant=merchant, kind=kind, value=number,
                                     reusable=reusable, max_uses=max_uses,
                                     expires_at=parse_when(expires, service.tz, "--expires"), code=code)
    if json_:
        print_json({"code": made, "merchant": merchant, "kind": kind, "value": value})
    else:
        typer.echo(made)


@pass_app.command("create")
def pass_create(
    ctx: typer.Context,
    holder: Annotated[str, typer.Option(help="Pass holder's name.")],
    valid_from: Annotated[str, typer.Option("--from", help="Start, ISO 8601 (no offset: facility time).")],
    valid_to: Annotated[str, typer.Option("--to", help="End, ISO 8601 (no offset: facility time).")],
    plate: Annotated[Optional[str], typer.Option(help="The plate the pass belongs to.")] = None,
    code: Annotated[Optional[str], typer.Option(help="Code to use (default: generated).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Issue a pass (supervisors only); prints its code."""
    cli = state(ctx)
    service = cli.service()
    made = service.create_pass(actor=cli.login(), holder_name=holder, plate=plate,
                               valid_from=parse_when(valid_from, service.tz, "--from"),
                               valid_to=parse_when(valid_to, service.tz, "--to"), code=code)
    if json_:
        print_json({"code": made, "holder": holder, "plate": plate})
    else:
        typer.echo(made)
