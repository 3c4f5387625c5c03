"""``attendant account``: the accounts account payments are invoiced to (issue 10 item 7).

``add`` and ``close`` are supervisors' (the service checks the role of ``--user``); ``list`` and
``statement`` read. Amounts are typed in the facility currency's own format (the one reader,
:func:`attendant.core.money.parse_major`) and printed as decimal strings in major units in ``--json``.
Bad input or a refused change prints one line on stderr and exits 2, changing nothing.
"""

import csv
import io
import sys
from typing import Annotated, Optional

import typer

from attendant.cli.common import JsonOpt, parse_money, print_json, state, typer_app

commands = typer_app()

account_app = typer_app(help="Accounts invoiced by account payments: add, list, close, monthly statement.",
                        no_args_is_help=True)
commands.add_typer(account_app, name="account")


def _show(account, currency: str) -> str:
    from attendant.core.money import format_money

    limit = "no limit" if account.credit_limit is None else f"limit {format_money(account.credit_limit, currency)}"
    return (f"{account.reference:<16} {account.status:<7} {account.holder[:32]:<32} "
            f"balance {format_money(account.balance, currency):>12}  {limit}")


@account_app.command("add")
def account_add(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The account reference (1-40 letters, digits, . - _).")],
    holder: Annotated[str, typer.Option(help="The holder: a company or a person (stored encrypted).")],
    limit: Annotated[Optional[str], typer.Option(help="Credit limit in major units (default: none).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Open an account (supervisors)."""
    cli = state(ctx)
    service = cli.service()
    currency = service.facility.currency
    account = service.add_account(reference, holder, actor=cli.login(),
                                  credit_limit=parse_money(limit, currency, "--limit"))
    if json_:
        print_json(account.to_json_dict(currency))
    else:
        typer.echo(f"Account added: {_show(account, currency)}")


@account_app.command("list")
def account_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Every account with its balance and limit."""
    cli = state(ctx)
    service = cli.service()
    currency = service.facility.currency
    accounts = service.accounts()
    if json_:
        print_json([a.to_json_dict(currency) for a in accounts])
        return
    if not accounts:
        typer.echo("No accounts.")
    for account in accounts:
        typer.echo(_show(account, currency))


@account_app.command("close")
def account_close(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The account reference.")],
    reason: Annotated[str, typer.Option(help="CODE or 'CODE: text' (CONTRACT_ENDED, HOLDER_REQUEST, UNPAID, "
                                             "ISSUED_IN_ERROR, OTHER).")],
    json_: JsonOpt = False,
) -> None:
    """Close an account (supervisors): account payments naming it are refused from now on."""
    cli = state(ctx)
    service = cli.service()
    account = service.close_account(reference, reason, actor=cli.login())
    if json_:
        print_json(account.to_json_dict(service.facility.currency))
    else:
        typer.echo(f"Account closed: {_show(account, service.facility.currency)}")


@account_app.command("statement")
def account_statement(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The account reference.")],
    month: Annotated[str, typer.Option(help="The month, YYYY-MM (facility time).")],
    format_: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Every charge and refund on the account in a month (facility time), the total, the limit and the balance."""
    from attendant.core.accounts import statement_json
    from attendant.core.errors import InputError
    from attendant.core.money import format_money

    if format_ not in ("table", "csv", "json"):
        raise InputError(f"--format: table, csv or json, not {format_!r}")
    cli = state(ctx)
    service = cli.service()
    cur = service.facility.currency
    s = service.account_statement(reference, month)
    a = s.account
    data = statement_json(s, cur, service.local)
    lines = data["charges"]
    if format_ == "json":
        print_json(data)
        return
    if format_ == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["at", "payment_id", "ticket_no", "lane", "kind", "amount", "actor"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(lines)
        writer.writerow({"at": "total", "amount": data["total"]})
        sys.stdout.write(out.getvalue())
        return
    limit = "none" if a.credit_limit is None else format_money(a.credit_limit, cur)
    typer.echo(f"Account {a.reference}  {a.holder}  ({a.status})  statement {s.month}")
    typer.echo(f"  {'opening balance':<52} {format_money(s.opening, cur):>12}")
    for shown, ln in zip(lines, s.lines, strict=True):
        typer.echo(f"  {shown['at'][:16]:<17} ticket {shown['ticket_no'] or '-':<9} {shown['kind']:<7} "
                   f"{(shown['lane'] or ''):<16} {format_money(ln.amount, cur):>12}")
    typer.echo(f"  {'total this month':<52} {format_money(s.total, cur):>12}")
    typer.echo(f"  {'balance':<52} {format_money(s.closing, cur):>12}")
    typer.echo(f"  {'credit limit':<52} {limit:>12}")
