"""Charts of a replay (``attendant replay ... --chart | --png FILE | --svg FILE``).

Two charts from a :class:`~attendant.booth.replay.ReplayReport`: occupancy
over the data's time (the series and the database, vehicles) and revenue by
facility-local hour of the day (one bar series per rate plan, in major units
for reading; the JSON keeps minor units). In the terminal with plotext
(:func:`terminal_chart`, returns the text) and as files with matplotlib on
its Agg backend (:func:`file_chart`: PNG or SVG by the file's suffix).
Both libraries are imported only when a chart is asked for.
"""

from __future__ import annotations

from pathlib import Path

from attendant.core.errors import InputError


def _hours(report) -> list[float]:
    """Hours since the first point, for each point (the x axis of the occupancy chart)."""
    if not report.points:
        return []
    first = report.points[0][0]
    return [(at - first).total_seconds() / 3600 for at, _s, _d in report.points]


def _major(amounts: list[int], currency: str) -> list[float]:
    from attendant.core.money import minor_exponent

    scale = 10 ** minor_exponent(currency)
    return [a / scale for a in amounts]  # for drawing only: money stays integer minor units everywhere else


def terminal_chart(report, *, width: int = 100, height: int = 20) -> str:
    """Both charts as plotext text (colour codes removed), ``width`` x ``height`` characters each.

    plotext 6's figure API: ``figure.draw(figure.signal(x, y).label(...))``, ``figure.bar(labels, heights)`` (a list of
    height lists for grouped bars), ``figure.build()``, and :func:`plotext.uncolorize` for plain text.
    """
    import plotext as plt

    currency = report.summary["revenue"]["currency"]
    first = report.points[0][0].strftime("%Y-%m-%d %H:%M") if report.points else ""
    figure = plt.figure
    out = []
    figure.clear()
    figure.plot_size(width, height)
    hours = _hours(report) or [0.0]
    figure.draw(figure.signal(hours, [s for _a, s, _d in report.points] or [0]).label("series"))
    figure.draw(figure.signal(hours, [d for _a, _s, d in report.points] or [0]).label("database"))
    figure.title(f"Occupancy (vehicles) from {first}")
    figure.label("hours")
    out.append(plt.uncolorize(figure.build()))
    figure.clear()
    figure.plot_size(width, height)
    labels = [f"{h:02d}" for h in range(24)]
    heights = [_major(h, currency) for h in report.hourly]
    figure.draw(figure.bar(labels, heights[0] if len(heights) == 1 else heights))
    figure.title(f"Revenue by hour of day ({currency})")
    out.append(plt.uncolorize(figure.build()))
    out.append("bars, left to right: " + "; ".join(report.plans) + "\n")
    figure.clear()
    return "\n".join(out) + "\n"


def file_chart(report, path: str | Path) -> Path:
    """Write both charts to ``path`` (``.png`` or ``.svg``) with matplotlib's Agg backend; returns the path.

    Raises :class:`InputError` for another suffix or a file that cannot be written.
    """
    target = Path(path)
    kind = target.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise InputError(f"{path}: a chart file ends in .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    currency = report.summary["revenue"]["currency"]
    figure = Figure(figsize=(10, 7), layout="constrained")
    top, bottom = figure.subplots(2, 1)
    times = [at for at, _s, _d in report.points]
    top.plot(times, [s for _a, s, _d in report.points], label="series", linewidth=1.2)
    top.plot(times, [d for _a, _s, d in report.points], label="database", linewidth=1.0, linestyle="--")
    name = report.summary.get("name") or report.summary.get("file")
    top.set_title(f"Occupancy: {name} (max error {report.summary['max_abs_error']}, "
                  f"mean {report.summary['mean_abs_error']})")
    top.set_ylabel("vehicles inside")
    top.legend()
    top.grid(alpha=0.3)
    width = 0.8 / max(len(report.hourly), 1)
    for i, (plan, hourly) in enumerate(zip(report.plans, report.hourly, strict=True)):
        bottom.bar([h + (i - (len(report.hourly) - 1) / 2) * width for h in range(24)], _major(hourly, currency),
                   width=width, label=plan)
    bottom.set_xticks(range(24))
    bottom.set_title(f"Revenue by hour of day ({currency})")
    bottom.set_xlabel("facility-local hour")
    bottom.legend()
    bottom.grid(alpha=0.3, axis="y")
    try:
        figure.savefig(target, format=kind)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the chart: {exc.strerror or exc}") from None
    return target
