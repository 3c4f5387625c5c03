"""``attendant replay occupancy|sessions FILE``: real traffic through the booth services, and its fidelity.

Issue 13 item 4. The file is read by :mod:`attendant.core.replay_data`
(columns found by their headers or named with ``--time-col`` ...; the common
date formats, or ``--time-format``; bad rows reported as ``file:line`` and
handled as ``--on-bad`` says) and replayed by
:class:`attendant.booth.replay.Replayer` into the facility of ``--db`` /
``--facility``, in this one process, with a progress bar on stderr.

Who may: a supervisor (or setup mode while no user exists): the replay
writes back-dated sessions and payments. It runs as the installation's
replay automaton ``replay:<name>``, named in every audit event with the
reason ``replay of FILE started by NAME``.

Output: a short report (or ``--json``: the summary of
:class:`~attendant.booth.replay.ReplayReport`, money in integer minor units),
``--chart`` (plotext, on stdout, or stderr with ``--json``), ``--png`` /
``--svg`` (matplotlib). Exit status 2 for bad input (bad data under
``--on-bad fail``: the list of problems), with nothing replayed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from attendant.cli.common import JsonOpt, print_json, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

replay_app = typer_app(help="Replay real traffic (an occupancy series or a session list) through the booth "
                            "services and report how faithfully the database follows it.", no_args_is_help=True)
commands.add_typer(replay_app, name="replay")

FileArg = Annotated[Path, typer.Argument(help="CSV file (header row first).")]
SpeedOpt = Annotated[str, typer.Option("--speed", help="max (as fast as the database allows) or N: the data's "
                                                       "clock N times faster than the wall clock.")]
OnBadOpt = Annotated[str, typer.Option("--on-bad", help="Bad rows: fail (list them, replay nothing), clip (into "
                                                        "range) or skip (leave them out).")]
TimeFormatOpt = Annotated[str | None, typer.Option("--time-format", help="iso, epoch or a strptime format "
                                                      "such as '%m/%d/%Y %H:%M' (default: recognised).")]
CompareOpt = Annotated[Path | None, typer.Option("--compare-rates", help="A rate plan file: price the same "
                                                    "traffic under it too, side by side (nothing is written).")]
ChartOpt = Annotated[bool, typer.Option("--chart", help="Charts of occupancy and revenue by hour in the terminal.")]
PngOpt = Annotated[Path | None, typer.Option("--png", help="Write the charts to this PNG file.")]
SvgOpt = Annotated[Path | None, typer.Option("--svg", help="Write the charts to this SVG file.")]
ContinueOpt = Annotated[bool, typer.Option("--continue", help="Replay although vehicles are inside (they stay, "
                                                              "left out of the comparison).")]
StartOpt = Annotated[str | None, typer.Option("--start", help="Replay the data's first day on this facility "
                                                 "date YYYY-MM-DD (default: whole weeks back, ending before today).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random numbers of the made-up vehicles (same seed, same "
                                                     "replay).")]


def _speed(text: str) -> float | None:
    import math

    from attendant.core.errors import InputError

    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"--speed: max or a positive number, not {text!r}")
    return value


def _start(text: str | None) -> date | None:
    from attendant.core.errors import InputError

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--start: not a date: {text!r} (YYYY-MM-DD)") from None


class _Run:
    """The replay's booth, login, options and output, shared by the two verbs."""

    def __init__(self, ctx: typer.Context, *, source: Path, speed: str, on_bad: str, compare: Path | None,
                 keep_inside: bool, start: str | None, seed: int) -> None:
        from attendant.core.auth import Role, authorize
        from attendant.core.errors import InputError
        from attendant.core.replay_data import ON_BAD

        if on_bad not in ON_BAD:
            raise InputError(f"--on-bad: clip, skip or fail, not {on_bad!r}")
        self.speed = _speed(speed)
        self.start = _start(start)
        self.on_bad = on_bad
        cli = state(ctx)
        engine = cli.engine()
        if cli.away is not None:  # a replay never journals: the database must answer
            raise cli.away
        who = cli.login()
        authorize(engine, who, Role.SUPERVISOR, "replaying real data into a facility")
        self.plan = None
        if compare is not None:
            from attendant.core.rates import load_rate_plan

            self.plan = load_rate_plan(compare)  # a bad plan file is refused before anything is written
        self.compare = compare
        from attendant.booth.wiring import open_booth

        self.booth = open_booth(engine, cli.console_config(), service=cli.service(), offline=False)
        ctx.call_on_close(self.booth.close)
        self.service = self.booth.service
        self.who = who
        self.source = source
        self.keep_inside = keep_inside
        self.seed = seed

    def replayer(self, progress):
        from attendant.booth.replay import Replayer

        return Replayer(self.booth, launched_by=self.who, source=self.source.name, speed=self.speed, seed=self.seed,
                        keep_inside=self.keep_inside, start=self.start, progress=progress)


def _progress():
    """A rich progress bar on stderr, and the :class:`~attendant.booth.replay.Progress` that feeds it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from attendant.booth.replay import Progress as Feed

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=False)
    task: list = []

    def start(total: int, what: str) -> None:
        task.append(bar.add_task(what, total=total))

    def advance(n: int) -> None:
        if task:
            bar.advance(task[0], n)

    return bar, Feed(start, advance)


def _finish(run: _Run, report, *, as_json: bool, chart: bool, png: Path | None, svg: Path | None) -> None:
    if run.plan is not None:
        run.replayer_obj.compare(report, run.plan, str(run.compare))
    written = []
    for path in (png, svg):
        if path is not None:
            from attendant.cli.replay_charts import file_chart

            want = ".png" if path is png else ".svg"
            if path.suffix.lower() != want:
                from attendant.core.errors import InputError

                raise InputError(f"{'--png' if path is png else '--svg'} {path}: the file name ends in {want}")
            written.append(str(file_chart(report, path)))
    if written:
        report.summary["charts"] = written
    if chart:
        from attendant.cli.replay_charts import terminal_chart

        typer.echo(terminal_chart(report), err=as_json, nl=False)
    if as_json:
        print_json(report.summary)
    else:
        typer.echo(_text(report.summary), nl=False)


def _money(amount: int, currency: str) -> str:
    from attendant.core.money import format_money

    return format_money(amount, currency)


def _text(s: dict) -> str:
    """The report for people: fidelity, traffic, bad data, revenue (two columns with --compare-rates)."""
    lines = [
        f"Replayed {s['file']}" + (f" ({s['name']})" if s.get("name") else "") + f" into {s['facility']}: "
        f"{s['first']} to {s['last']} (moved {s['shift_days']} days in the database)",
        (f"Fidelity: {s['readings']} readings, occupancy error max {s['max_abs_error']}, mean {s['mean_abs_error']} "
        "vehicles"),
        f"Traffic: {s['vehicles_in']} in, {s['vehicles_out']} out, {s['still_inside']} still inside"
        + (f", {s['refused']} refused" if s["refused"] else "")
        + f" ({s['operations']} operations in {s['elapsed_s']:.1f} s)",
    ]
    bad = s["bad_data"]
    if bad["problems"] or bad["duplicates"] or bad.get("dst_dropped"):
        lines.append(f"Bad data: {len(bad['problems'])} problems, {bad['clipped']} clipped, {bad['skipped']} "
                     f"skipped, {bad['gaps']} gaps interpolated, {bad['duplicates']} duplicates dropped"
                     + (f", {bad['dst_dropped']} readings dropped at a DST change" if bad.get("dst_dropped") else ""))
        lines += [f"  {p}" for p in bad["problems"][:10]]
        if len(bad["problems"]) > 10:
            lines.append(f"  ... and {len(bad['problems']) - 10} more (--json lists them all)")
    for message in s["refusals"][:5]:
        lines.append(f"  refused: {message}")
    revenue, other = s["revenue"], (s.get("compare_rates") or {}).get("revenue")
    cur = revenue["currency"]
    columns = [revenue] + ([other] if other else [])
    rows = [("total", [c["total"] for c in columns])]
    for key, label in (("by_method", "method"), ("by_band", "band")):
        names = sorted({n for c in columns for n in c[key]})
        rows += [(f"{label} {n}", [c[key].get(n, 0) for c in columns]) for n in names]
    heads = [c.get("plan") or "facility plan" for c in columns]
    width = max(len(r[0]) for r in rows) + 2
    col = max(max(len(h) for h in heads), 12) + 2
    lines.append("Revenue".ljust(width) + "".join(h.rjust(col) for h in heads))
    for label, values in rows:
        lines.append(label.ljust(width) + "".join(_money(v, cur).rjust(col) for v in values))
    return "\n".join(lines) + "\n"


def _go(run: _Run, load, play, *, as_json: bool, chart: bool, png: Path | None, svg: Path | None) -> None:
    bar, feed = _progress()
    replayer = run.replayer(feed)
    run.replayer_obj = replayer
    loaded = load(replayer)
    with bar:
        report = play(replayer, loaded)
    _finish(run, report, as_json=as_json, chart=chart, png=png, svg=svg)


@replay_app.command("occupancy")
def replay_occupancy(
    ctx: typer.Context,
    file: FileArg,
    name: Annotated[str | None, typer.Option("--name", help="The car park, in a file naming several.")] = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help="Column of the reading's time.")] = None,
    count_col: Annotated[str | None, typer.Option("--count-col", help="Column of the vehicles inside.")] = None,
    name_col: Annotated[str | None, typer.Option("--name-col", help="Column naming the car park.")] = None,
    capacity_col: Annotated[str | None, typer.Option("--capacity-col", help="Column of the capacity.")] = None,
    time_format: TimeFormatOpt = None,
    gap_factor: Annotated[float, typer.Option("--gap-factor", help="A gap is longer than this many usual "
                                                                  "intervals.")] = 3.0,
    speed: SpeedOpt = "max",
    on_bad: OnBadOpt = "fail",
    compare_rates: CompareOpt = None,
    chart: ChartOpt = False,
    png: PngOpt = None,
    svg: SvgOpt = None,
    keep_inside: ContinueOpt = False,
    start: StartOpt = None,
    seed: SeedOpt = 2016,
    json_: JsonOpt = False,
) -> None:
    """Replay an occupancy series (time and vehicles inside, per reading) as entries and exits."""
    from attendant.core.replay_data import read_occupancy

    run = _Run(ctx, source=file, speed=speed, on_bad=on_bad, compare=compare_rates, keep_inside=keep_inside,
               start=start, seed=seed)
    columns = {"time": time_col, "count": count_col, "name": name_col, "capacity": capacity_col}

    def load(replayer):
        return read_occupancy(file, tz=run.service.tz, capacity=replayer.capacity, name=name, columns=columns,
                              time_format=time_format, on_bad=on_bad, gap_factor=gap_factor)

    _go(run, load, lambda replayer, loaded: replayer.occupancy(loaded), as_json=json_, chart=chart, png=png, svg=svg)


@replay_app.command("sessions")
def replay_sessions(
    ctx: typer.Context,
    file: FileArg,
    arrival_col: Annotated[str | None, typer.Option("--arrival-col", help="Column of the arrival time.")] = None,
    departure_col: Annotated[str | None, typer.Option("--departure-col", help="Column of the departure time "
                                                         "(empty: still inside).")] = None,
    class_col: Annotated[str | None, typer.Option("--class-col", help="Column of the vehicle class.")] = None,
    plate_col: Annotated[str | None, typer.Option("--plate-col", help="Column of the plate.")] = None,
    payment_col: Annotated[str | None, typer.Option("--payment-col", help="Column of the payment method.")] = None,
    time_format: TimeFormatOpt = None,
    speed: SpeedOpt = "max",
    on_bad: OnBadOpt = "fail",
    compare_rates: CompareOpt = None,
    chart: ChartOpt = False,
    png: PngOpt = None,
    svg: SvgOpt = None,
    keep_inside: ContinueOpt = False,
    start: StartOpt = None,
    seed: SeedOpt = 2016,
    json_: JsonOpt = False,
) -> None:
    """Replay a session list (one vehicle a row: arrival, departure, optional class, plate, payment)."""
    from attendant.core.errors import InputError
    from attendant.core.payment_methods import EXIT_METHODS
    from attendant.core.plates import normalize_plate
    from attendant.core.replay_data import read_sessions
    from attendant.core.vocab import VehicleClass

    run = _Run(ctx, source=file, speed=speed, on_bad=on_bad, compare=compare_rates, keep_inside=keep_inside,
               start=start, seed=seed)
    columns = {"arrival": arrival_col, "departure": departure_col, "class": class_col, "plate": plate_col,
               "payment": payment_col}
    methods = [m.method.value for m in EXIT_METHODS if m.method.value not in ("pass", "account")]

    def plate_ok(text: str) -> bool:
        try:
            normalize_plate(text)
        except InputError:
            return False
        return True

    def load(replayer):
        return read_sessions(file, tz=run.service.tz, capacity=replayer.capacity, columns=columns,
                             time_format=time_format, on_bad=on_bad, known_classes=[v.value for v in VehicleClass],
                             known_methods=methods, plate_ok=plate_ok)

    _go(run, load, lambda replayer, loaded: replayer.sessions(loaded), as_json=json_, chart=chart, png=png, svg=svg)
