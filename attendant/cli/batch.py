"""``attendant batch FILE|-``: many operations in one process, one JSON result per line.

A script that makes hundreds of entries and exits pays the CLI's start-up
(imports, database, booth) once. Each input line is a JSON object with
``op`` and the same fields as that verb's options (``--json`` names,
without the dashes):

- ``{"op": "enter", "plate": "AB12 CDE", "vehicle": "car", "ev": false,
  "accessible": false, "lane": "E1", "spot": "L1-B04", "at": "2026-11-20T09:00",
  "idempotency_key": "k1"}``
- ``{"op": "exit", "code": "CHS-...", "pay": ["cash"], "tendered": "20",
  "validation": ["V1"], "pass": "P-1", "account": "ACME", "iou": "reason",
  "lane": "X1", "at": "...", "idempotency_key": "k2"}``; a lost ticket:
  ``"lost": "AB12 CDE"`` (and ``"vehicle"``) instead of ``code``; a free exit
  (supervisors): ``"free": true, "reason": "CODE: text"``
- ``{"op": "find", "plate": "AB12 CDE"}``, ``{"op": "status"}``,
  ``{"op": "report", "period": "daily", "date": "2026-11-20"}``

Each result line: ``{"line": N, "op": ..., "ok": true, "result": {...}}``
where ``result`` is the object the verb's ``--json`` prints
(:mod:`attendant.booth.shapes`), or ``{"line": N, "op": ..., "ok": false,
"error": "message", "kind": "refused"}`` (the kinds of
:func:`attendant.booth.shapes.error_kind`; a failed line changed nothing)
and the batch goes on. Blank lines are skipped. Every operation runs as the
one login of ``--user``/``--pin`` (setup mode while no user exists). Exit
status 0 when every line succeeded, 2 when any failed.
"""


import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from attendant.cli.common import state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

#: The fields each operation takes (besides ``op``); anything else is refused, naming it.
FIELDS: dict[str, frozenset[str]] = {
    "enter": frozenset({"plate", "vehicle", "ev", "accessible", "lane", "spot", "at", "allow_backdate",
                        "idempotency_key"}),
    "exit": frozenset({"code", "lost", "vehicle", "free", "reason", "pay", "tendered", "confirm_amount", "validation",
                       "validations", "pass", "account", "iou", "lane", "at", "allow_backdate", "idempotency_key"}),
    "find": frozenset({"plate"}),
    "status": frozenset(),
    "report": frozenset({"period", "date"}),
}


class _Runner:
    """Runs one operation object against the command's booth, as one login."""

    def __init__(self, cli) -> None:
        self.cli = cli
        self._actor = None

    @property
    def actor(self):
        if self._actor is None:
            self._actor = self.cli.login()  # once: a PIN login is argon2, not per line
        return self._actor

    def run(self, op: str, fields: dict) -> dict:
        from attendant.booth import shapes
        from attendant.core.errors import InputError

        unknown = sorted(set(fields) - FIELDS[op])
        if unknown:
            raise InputError(f"{op} takes no {', '.join(unknown)} (fields: {', '.join(sorted(FIELDS[op])) or 'none'})")
        if op == "status":
            data = shapes.status_json(self.cli.views())
            data.pop("_revenue")
            return data
        if op == "find":
            service = self.cli.service()
            return shapes.session_json(service.find_by_plate(_text(fields, "plate", required=True)), service)
        if op == "report":
            return self._report(fields)
        booth = self.cli.booth()
        if op == "enter":
            request = shapes.entry_request(
                booth, plate=_text(fields, "plate"), vehicle=_text(fields, "vehicle") or "car",
                ev=_flag(fields, "ev"), accessible=_flag(fields, "accessible"), lane=_text(fields, "lane"),
                spot=_text(fields, "spot"), at=_text(fields, "at"), idempotency_key=_text(fields, "idempotency_key"),
                backdate_reason=_text(fields, "allow_backdate"), option_names=False)
            return shapes.entry_json(booth.enter(request, actor=self.actor), booth.service)
        validations = _texts(fields, "validation") + _texts(fields, "validations")
        code, lost = _text(fields, "code"), _text(fields, "lost")
        if (code is None) == (lost is None):
            raise InputError("give code, or lost (a plate) for a driver without a ticket")
        free, reason = _flag(fields, "free"), _text(fields, "reason")
        request = shapes.exit_request(
            booth, code=code or "-", pay=_texts(fields, "pay") or None,
            tendered=_amount(fields, "tendered"), validations=validations, pass_code=_text(fields, "pass"),
            account=_text(fields, "account"), iou=_text(fields, "iou"), lane=_text(fields, "lane"),
            at=_text(fields, "at"), idempotency_key=_text(fields, "idempotency_key"),
            backdate_reason=_text(fields, "allow_backdate"), option_names=False,
            confirm_amount=_flag(fields, "confirm_amount"), free=free, reason=reason)
        outcome, found_by = shapes.take_exit(booth, request, actor=self.actor, lost=lost,
                                             vehicle=_text(fields, "vehicle") or "car")
        return shapes.exit_json(outcome, booth.facility.currency, lost=lost, found_by=found_by,
                                free_reason=reason if free else None)

    def _report(self, fields: dict) -> dict:
        from datetime import date

        from attendant.core.errors import InputError
        from attendant.core.report_layout import json_dict

        period = _text(fields, "period") or "daily"
        if period not in ("daily", "weekly", "monthly"):
            raise InputError(f"period: daily, weekly or monthly, not {period!r}")
        text = _text(fields, "date")
        try:
            day = date.fromisoformat(text) if text else None
        except ValueError:
            raise InputError(f"date: not a date: {text!r} (YYYY-MM-DD)") from None
        return json_dict(self.cli.booth().report(period, day))


def _text(fields: dict, name: str, *, required: bool = False) -> str | None:
    from attendant.core.errors import InputError

    value = fields.get(name)
    if value is None:
        if required:
            raise InputError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InputError(f"{name}: a string, not {json.dumps(value)}")
    return value


def _texts(fields: dict, name: str) -> list[str]:
    """A field that takes one string or a list of strings (a repeated option)."""
    from attendant.core.errors import InputError

    value = fields.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(f"{name}: a string or a list of strings, not {json.dumps(value)}")


def _flag(fields: dict, name: str) -> bool:
    from attendant.core.errors import InputError

    value = fields.get(name, False)
    if not isinstance(value, bool):
        raise InputError(f"{name}: true or false, not {json.dumps(value)}")
    return value


def _amount(fields: dict, name: str) -> str | None:
    """An amount: a decimal string in major units, or an integer (never a float: binary fractions)."""
    from attendant.core.errors import InputError

    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{name}: a decimal string such as \"12.40\" or a whole number, not {json.dumps(value)}")


def run_line(runner: _Runner, number: int, text: str) -> dict:
    """The result object of one input line (see the module docstring); never raises for the line's own faults."""
    from attendant.booth.shapes import error_kind
    from attendant.core.errors import AttendantError

    op = None
    try:
        try:
            item = json.loads(text)
        except ValueError as exc:
            return {"line": number, "op": None, "ok": False, "error": f"not a JSON object: {exc.msg}",
                    "kind": "input"}
        if not isinstance(item, dict):
            return {"line": number, "op": None, "ok": False, "error": "not a JSON object", "kind": "input"}
        op = item.pop("op", None)
        if op not in FIELDS:
            return {"line": number, "op": op if isinstance(op, str) else None, "ok": False, "kind": "input",
                    "error": f"op: one of {', '.join(FIELDS)}, not {json.dumps(op)}"}
        return {"line": number, "op": op, "ok": True, "result": runner.run(op, item)}
    except AttendantError as exc:
        return {"line": number, "op": op, "ok": False, "error": str(exc), "kind": error_kind(exc).slug}
    except Exception as exc:  # noqa: BLE001 - one line's unexpected failure is reported; the batch goes on
        from attendant.cli.common import _log_unexpected

        _log_unexpected(exc)  # the traceback goes to attendant-errors.log, one line to stderr
        return {"line": number, "op": op, "ok": False, "error": "unexpected error (see attendant-errors.log)",
                "kind": "unexpected"}


@commands.command("batch")
def batch(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A file of JSON lines, or - for standard input.")],
) -> None:
    """Run many operations (JSON lines: enter, exit, find, status, report) in one process; one JSON result each."""
    from attendant.core.errors import InputError

    if source == "-":
        lines = sys.stdin
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"no such file: {source}")
        lines = path.open(encoding="utf-8")
    runner = _Runner(state(ctx))
    failed = 0
    try:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            result = run_line(runner, number, text)
            failed += not result["ok"]
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            sys.stdout.flush()  # a script reading our output as it goes sees each result at once
    finally:
        if lines is not sys.stdin:
            lines.close()
    if failed:
        raise typer.Exit(2)
