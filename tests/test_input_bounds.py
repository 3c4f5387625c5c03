"""Input that cannot hurt (issue 9 item 8): numbers bounded to what the columns hold and the business allows,
ASCII digits only, file inputs bounded in size and depth, errors that never print SQL or parameters; and a
hypothesis fuzz over the CLI verbs with every table's checksum before and after each call.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attendant.core.errors import InputError, TicketInvalid
from attendant.core.money import MAX_AMOUNT, parse_major
from tests.conftest import EXAMPLES

SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "[parameters", "[SQL:")


def checksum(db: str) -> str:
    """A digest of every row of every table of the SQLite file ``db`` (a URL)."""
    digest = hashlib.sha256()
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):  # noqa: S608 - our own table names
                digest.update(repr((table, row)).encode())
    return digest.hexdigest()


def clean(ran) -> None:
    """A refusal as the README promises: one line, exit 2, no traceback, no SQL."""
    text = ran.stderr + ran.stdout
    assert "unexpected error" not in text, text
    assert "Traceback" not in text, text
    assert not any(word in text for word in SQL_WORDS), text


# ------------------------------------------------------------------ the red team's inputs, one by one


@pytest.fixture
def inside(cli):
    """The demo site with one vehicle inside; ``cli.code`` is its ticket code."""
    cli.code = cli.json("enter", "IN5 IDE", "--at", "2026-11-20T08:00")["code"]
    return cli


@pytest.mark.parametrize(("args", "said"), [
    (("exit", "{code}", "--pay", "cash", "--tendered", "1e30"), "not an amount"),
    (("exit", "{code}", "--pay", "cash", "--tendered", "99999999999999999999"), "not an amount"),
    (("exit", "{code}", "--pay", "cash", "--tendered", "10000000"), "the most accepted"),
    (("exit", "{code}", "--pay", "cash", "--tendered", "-5"), "must be zero or more"),
    (("exit", "{code}", "--pay", "cash", "--tendered", "NaN"), "not an amount"),
    (("exit", "{code}", "--pay", "cash", "--tendered", "٢٠"), "not 0-9"),
    (("exit", "{code}", "--pay", "cash", "--tendered", "２０"), "not 0-9"),
    (("exit", "{code}", "--pay", "cash=1e3"), "not an amount"),
    (("exit", "{code}", "--pay", "card", "--idempotency-key", "K" * 200), "idempotency key is at most"),
    (("reprint", "99999999999999999999"), "not a ticket number"),
    (("reprint", "1.5"), "not a ticket number"),
    (("reprint", "٣"), "not 0-9"),
    (("report", "daily", "--date", "9999-12-31"), "no report for 9999-12-31"),
    (("report", "monthly", "--month", "9999-12"), "no report for"),
    (("report", "weekly", "--date", "0001-01-01"), "no report for"),
    (("enter", "AB12CDE", "--at", "9999-12-31T23:59"), "outside the years"),
    (("enter", "AB12CDE", "--at", "2026-11-20T08:00:00+99:00"), "not an ISO 8601"),
    (("refund", "99999999999999999999", "--reason", "x"), "less than or equal to 2147483647"),
    (("validation", "create", "--merchant", "Shop", "--kind", "amount", "--value", "1.00", "--max-uses",
      "99999999999999999999"), "less than or equal to 1000000"),
    (("validation", "create", "--merchant", "Shop", "--kind", "minutes", "--value", "99999999999"), "at most"),
    (("validation", "create", "--merchant", "Shop", "--kind", "amount", "--value", "1", "--code", "V" * 60),
     "1 to 40 letters"),
    (("quote", "--rates", str(EXAMPLES / "rates" / "charlotte_street.toml"), "--vehicle", "car", "--entry",
      "2026-11-20T08:00", "--exit", "2026-11-20T09:00", "--occupancy", "nan"), "occupancy"),
])
def test_malformed_numbers_and_dates_are_refused_cleanly(inside, args, said):
    before = checksum(inside.db)
    ran = inside.run(*(a.replace("{code}", inside.code) for a in args), expect=2)
    clean(ran)
    assert said in ran.stderr, ran.stderr
    assert checksum(inside.db) == before


def test_a_ticket_code_in_other_digits_is_not_genuine(inside):
    from attendant.core.tickets import TicketSigner, looks_like_ticket_code

    arabic = inside.code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert not looks_like_ticket_code(arabic)
    with pytest.raises(TicketInvalid):
        TicketSigner(b"s" * 32).verify(arabic)
    ran = inside.run("exit", arabic, "--pay", "cash", "--tendered", "50", expect=2)
    clean(ran)


@pytest.mark.parametrize("text", ["1e30", "٢٠", "２０", "+5", "1_000", " 1 2", "0x10", "Infinity", "1.2.3", ""])
def test_parse_major_reads_ascii_decimals_only(text):
    with pytest.raises(InputError):
        parse_major(text, "GBP")


def test_parse_major_bounds_and_keeps_what_it_accepted():
    assert parse_major("1,250.50", "GBP") == 125_050
    assert parse_major("£20", "GBP") == 2000
    assert parse_major(".5", "GBP") == 50
    assert parse_major(str(MAX_AMOUNT // 100), "GBP") == MAX_AMOUNT
    with pytest.raises(InputError, match="the most accepted"):
        parse_major(str(MAX_AMOUNT // 100 + 1), "GBP")


# ------------------------------------------------------------------ files


def test_rates_check_reads_no_device_or_pipe(cli, tmp_path):
    import os

    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)  # opening it would wait for a writer for ever
    for path in ("/dev/zero", "/dev/stdin", str(fifo)):
        ran = cli.run("rates", "check", path, expect=2, db=False)
        clean(ran)
        assert "not a regular file" in ran.stderr


def test_deep_and_big_toml_files_are_refused(cli, tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    shallow_but_over = tmp_path / "deep20.toml"
    shallow_but_over.write_text("x = " + "[" * 20 + "]" * 20 + "\n", encoding="utf-8")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 * 1024 * 1024) + "\n", encoding="utf-8")
    for path, said in ((deep, "nested too deeply"), (shallow_but_over, "nested too deeply"),
                       (big, "larger than 1024 KiB"), (tmp_path, "")):
        ran = cli.run("rates", "check", str(path), expect=2, db=False)
        clean(ran)
        assert said in ran.stderr
    for command in (("init", "--layout", str(deep)), ("--config", str(deep), "enter", "AB12CDE")):
        ran = cli.run(*command, expect=2)
        clean(ran)
        assert "nested too deeply" in ran.stderr


# ------------------------------------------------------------------ PostgreSQL: no SQL, no parameters


@pytest.fixture
def pg_cli(pg_url, tmp_path):
    from tests.cli_support import Attendant

    cli = Attendant(tmp_path, db=pg_url)
    cli.run("init", "--demo")
    cli.run("time-window", "--before", "36600d", "--replay")
    cli.code = cli.json("enter", "PG1 KEY", "--at", "2026-11-20T08:00")["code"]
    return cli


@pytest.mark.postgres
def test_long_values_on_postgresql_print_no_sql(pg_cli):
    ran = pg_cli.run("exit", pg_cli.code, "--pay", "card", "--idempotency-key", "K" * 200, expect=2)
    clean(ran)
    assert "idempotency key is at most 64" in ran.stderr
    gone = pg_cli.json("exit", pg_cli.code, "--pay", "card", "--at", "2026-11-20T09:00")
    assert gone["gate"]


@pytest.mark.postgres
def test_a_value_postgresql_refuses_is_bad_input_without_sql(pg_url):
    """Whatever slips past the checks and is refused by PostgreSQL (a varchar too long) prints neither the
    statement nor its parameters, and the CLI calls it bad input (exit 2), not an unexpected error."""
    from sqlalchemy import insert
    from sqlalchemy.exc import DataError

    from attendant.cli.common import _database_refused, _safe_message
    from db.engine import make_engine
    from db.models import Validation

    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn, pytest.raises(DataError) as caught:
            conn.execute(insert(Validation.__table__).values(
                facility_id=1, code="SECRET" * 20, merchant="m", kind="amount", value=1, reusable=False, uses=0,
                active=True, created_by="x", created_at=__import__("datetime").datetime.now(
                    __import__("datetime").UTC)))
    finally:
        engine.dispose()
    assert _database_refused(caught.value)
    assert "SECRET" not in _safe_message(caught.value) and "INSERT" not in _safe_message(caught.value)
    assert "SECRETSECRET" not in str(caught.value)  # hide_parameters: not even in the log file


def test_unexpected_database_errors_print_their_kind_only():
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    from attendant.cli.common import _safe_message

    engine = create_engine("sqlite://", hide_parameters=True)
    with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text("SELECT secret FROM nowhere WHERE x = :p"), {"p": "hunter2"})
    said = _safe_message(caught.value)
    assert said == "database error (OperationalError: no such table: nowhere)"
    assert "hunter2" not in str(caught.value)  # hidden even in the log file's traceback


# ------------------------------------------------------------------ the fuzz


class Hang(BaseException):
    """A CLI call that took longer than its budget (BaseException: no handler in the CLI swallows it)."""


@contextmanager
def time_limit(seconds: float):
    def _raise(_signum, _frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


NASTY_NUMBERS = ["1e30", "99999999999999999999", "-1", "0", "NaN", "inf", "٣", "３", "1" * 40, "2147483648",
                 "9223372036854775808", "0.001", "1,2", "", " ", "12.50", "20", "1.00"]
NASTY_TEXT = ["", " ", "x" * 300, "\x00", "é" * 20, "'; DROP TABLE spot; --", "AB12 CDE", "L1-A02", "\u202e",
              "CHS-99999999-AAAAAAAAAAAAAAAA", "P-ABCD-EF23", "V-ABCD-EF23"]
NASTY_TIMES = ["0001-01-01T00:00", "9999-12-31T23:59", "2026-03-29T01:30", "2026-10-25T01:30", "yesterday",
               "2026-11-20T08:30", "2026-11-20T25:00", "2026-02-30", "２０２６-11-20T09:00", "2026-11-20T09:00+25:00",
               "2099-12-31T23:59Z", "1999-12-31T23:59Z"]

numbers = st.sampled_from(NASTY_NUMBERS) | st.integers(min_value=-(2**70), max_value=2**70).map(str)
texts = st.sampled_from(NASTY_TEXT) | st.text(max_size=30)
times = st.sampled_from(NASTY_TIMES)
dates = st.sampled_from(["9999-12-31", "0001-01-01", "2026-11-20", "2026-13-01", "2026-11-20T09:00", "", "٢٠٢٦-11-20"])
counts_text = st.sampled_from(["50.00x2,20.00x3", "20x99999999999", "٢٠x3", "1e30x1", "x", "", "0.01x1"]) | texts
methods = st.sampled_from(["cash", "card", "pass", "account", "bitcoin", "cash=1e30", "card=٣", "cash=5"])


def verbs(code: str):
    """argv lists over the CLI's verbs, with malformed values where values go."""
    code_or = st.sampled_from([code]) | texts
    return st.one_of(
        st.tuples(st.just("enter"), texts, st.sampled_from(["--at"]), times).map(list),
        st.tuples(st.just("enter"), texts, st.just("--vehicle"), texts).map(list),
        st.tuples(st.just("exit"), code_or, st.just("--pay"), methods, st.just("--tendered"), numbers).map(list),
        st.tuples(st.just("exit"), code_or, st.just("--at"), times, st.just("--pay"), methods).map(list),
        st.tuples(st.just("exit"), code_or, st.just("--idempotency-key"), texts).map(list),
        st.tuples(st.just("reprint"), numbers).map(list),
        st.tuples(st.just("find"), texts).map(list),
        st.tuples(st.just("report"), st.sampled_from(["daily", "weekly"]), st.just("--date"), dates).map(list),
        st.tuples(st.just("report"), st.just("monthly"), st.just("--month"), dates).map(list),
        st.tuples(st.just("refund"), numbers, st.just("--reason"), texts).map(list),
        st.tuples(st.just("payment"), st.just("resolve"), numbers, st.just("--outcome"), texts,
                  st.just("--reason"), texts).map(list),
        st.tuples(st.just("iou"), st.just("settle"), texts, st.just("--pay"), methods).map(list),
        st.tuples(st.just("validation"), st.just("create"), st.just("--merchant"), texts, st.just("--kind"),
                  st.sampled_from(["amount", "percent", "minutes", "bogus"]), st.just("--value"), numbers,
                  st.just("--max-uses"), numbers).map(list),
        st.tuples(st.just("pass"), st.just("create"), st.just("--holder"), texts, st.just("--from"), times,
                  st.just("--to"), times).map(list),
        st.tuples(st.just("spot"), st.sampled_from(["out", "in"]), texts, st.just("--reason"), texts).map(list),
        st.tuples(st.just("shift"), st.sampled_from(["open", "drop"]), numbers).map(list),
        st.tuples(st.just("quote"), st.just("--rates"), st.just(str(EXAMPLES / "rates" / "charlotte_street.toml")),
                  st.just("--vehicle"), texts, st.just("--entry"), times, st.just("--exit"), times,
                  st.just("--occupancy"), numbers).map(list),
        st.tuples(st.just("time-window"), st.sampled_from(["--before", "--ahead", "--widen"]),
                  st.sampled_from(["1d", "0s", "99999999999d", "٣d", "-1d", "1y", "36601d"]) | texts).map(list),
        st.tuples(st.just("enter"), texts, st.just("--at"), times, st.just("--allow-backdate"), texts).map(list),
        st.tuples(st.just("shift"), st.sampled_from(["paid-in", "paid-out"]), numbers, st.just("--note"),
                  texts).map(list),
        st.tuples(st.just("shift"), st.just("close"), st.just("--count"), counts_text, st.just("--card"),
                  numbers).map(list),
        st.tuples(st.just("exit"), code_or, st.just("--validation"), texts, st.just("--pay"), methods,
                  st.just("--pass"), texts, st.just("--account"), texts).map(list),
        st.tuples(st.just("exit"), code_or, st.just("--iou"), texts, st.just("--lane"), texts).map(list),
        st.tuples(st.just("enter"), texts, st.just("--spot"), texts, st.just("--lane"), texts).map(list),
        st.tuples(st.just("iou"), st.just("list"), st.just("--plate"), texts).map(list),
        st.tuples(st.just("--facility"), texts, st.sampled_from(["status", "find"])).map(list),
        st.tuples(st.just("rates"), st.just("check"), texts).map(list),
    )


def test_fuzz_the_cli_verbs(cli):
    """A few hundred malformed calls: no unexpected error, no SQL, no hang; a refused call changes no row."""
    code = cli.json("enter", "FU2 ZZY", "--at", "2026-11-20T08:00")["code"]
    seen = {"refused": 0, "done": 0}

    wide = os.environ.get("ATTENDANT_FUZZ_EXAMPLES")  # a longer, random hunt: ATTENDANT_FUZZ_EXAMPLES=2000

    @settings(max_examples=int(wide or 220), deadline=None, database=None, derandomize=not wide,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(argv=verbs(code))
    def one_call(argv):
        before = checksum(cli.db)
        with time_limit(15):
            ran = _run(cli, argv)
        clean(ran)
        assert ran.returncode in (0, 2), (argv, ran.returncode, ran.stderr)
        if ran.returncode == 2:
            seen["refused"] += 1
            assert checksum(cli.db) == before, (argv, ran.stderr)
        else:
            seen["done"] += 1

    one_call()
    assert seen["refused"] > 100  # the fuzz mostly feeds bad input, as it should


def _run(cli, argv):
    """``cli.run`` without its exit-status assertion (the fuzz checks the status itself)."""
    from typer.testing import CliRunner

    from attendant.cli import app
    from tests.cli_support import Ran

    result = CliRunner().invoke(app, ["--db", cli.db, *argv], env=cli.env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.stdout, result.stderr, result.exit_code)
