"""The report's staffing section: required against observed agents per center, from
``analytics.fct_staffing_interval`` (Erlang C; see ``transforms/README.md``).

Its own module (query, chart and HTML) so that ``sections.py`` stays one screenful per section.
The figures are the mart's columns, averaged or counted over the range: nothing is re-modelled
here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from pipelines.report import charts
from pipelines.report.charts import Figure
from pipelines.report.page import Column, Page, details, esc, table
from pipelines.report.queries import ReportSource, Row
from pipelines.report.sections import Context

NUMBER = 7
WORST_INTERVALS = 50

# Per center and local time of day: the mean over the range's intervals with calls (the mart
# has a row only for those). Required agents are NULL where no incoming call was answered (no
# handle time to model): avg() leaves those out.
PROFILE_SQL = """
    SELECT center_id, strftime(interval_start_local, '%H:%M') AS slot,
           count(*) AS intervals,
           avg(agents_required) AS avg_agents_required,
           avg(agents_required_with_shrinkage) AS avg_agents_required_with_shrinkage,
           avg(agents_observed) AS avg_agents_observed,
           count(*) FILTER (WHERE is_understaffed) AS intervals_understaffed
    FROM analytics.fct_staffing_interval
    WHERE local_date BETWEEN $start AND $end
    GROUP BY ALL ORDER BY center_id, slot
"""

WORST_SQL = f"""
    SELECT center_id, local_date, interval_start_local, interval_start_utc, calls_offered,
           avg_handle_time_seconds, offered_load_erlangs, agents_required,
           agents_required_with_shrinkage, agents_observed, agents_gap,
           model_service_level_pct, service_level_pct
    FROM analytics.fct_staffing_interval
    WHERE local_date BETWEEN $start AND $end AND is_understaffed
    ORDER BY agents_gap DESC, center_id, interval_start_utc
    LIMIT {WORST_INTERVALS}
"""


def profile(source: ReportSource, start: date, end: date) -> list[Row]:
    return source.rows(PROFILE_SQL, {"start": start, "end": end})


def worst(source: ReportSource, start: date, end: date) -> list[Row]:
    return source.rows(WORST_SQL, {"start": start, "end": end})


def section(source: ReportSource, page: Page, ctx: Context) -> str:
    """Section 7: one chart per center, the per-center counts, the worst intervals."""
    heading = _heading(ctx)
    if not source.has_table("analytics", "fct_staffing_interval"):
        return (
            heading + '<p class="empty" id="no-staffing">This warehouse has no staffing mart '
            "yet: run `make transform`.</p></section>"
        )
    by_center: dict[str, list[Row]] = defaultdict(list)
    for row in profile(source, ctx.start, ctx.end):
        by_center[row["center_id"]].append(row)
    centers = sorted(by_center, key=ctx.label)
    parts = [heading, _summary_table(ctx, by_center, centers)]
    for n, center in enumerate(centers, start=1):
        rows = by_center[center]
        name, zone = ctx.label(center), ctx.zone(center)
        figure = day_profile(f"{name}: agents across the day ({zone})", rows)
        columns = [
            Column("slot", "Interval"),
            Column("intervals", "Intervals with calls", "int"),
            Column("avg_agents_required", "Required (Erlang C)", "avg"),
            Column("avg_agents_required_with_shrinkage", "Required with shrinkage", "avg"),
            Column("avg_agents_observed", "Observed", "avg"),
            Column("intervals_understaffed", "Understaffed", "int"),
        ]
        parts.append(
            f'<h3 data-center="{esc(center)}">{esc(name)}: local time {esc(zone)}</h3>'
            + page.chart(figure)
            + details(
                f"{name}: agents per interval of the day (table)",
                table(f"staffing-{n}", columns, rows, f"{name} ({zone})"),
            )
        )
    parts.append(_worst_table(ctx, worst(source, ctx.start, ctx.end)))
    return "".join(parts) + "</section>"


def day_profile(title: str, rows: Sequence[Row]) -> Figure:
    """Mean required (with and without shrinkage) and observed agents per local interval."""
    slots = [r["slot"] for r in rows]
    lines: list[tuple[str, str, str, str]] = [
        ("avg_agents_required", "required (Erlang C)", charts.OKABE_ITO[3], "solid"),
        ("avg_agents_required_with_shrinkage", "required with shrinkage", charts.OKABE_ITO[1],
         "dot"),
        ("avg_agents_observed", "observed (answered a call)", charts.OKABE_ITO[0], "solid"),
    ]  # fmt: skip
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "name": label, "x": slots,
         "y": [r[key] for r in rows], "line": {"color": colour, "width": 2, "dash": dash},
         "marker": {"size": 4}, "connectgaps": False}
        for key, label, colour, dash in lines
    ]  # fmt: skip
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "font": {"size": 14}},
            "font": charts.FONT,
            "height": 360,
            "margin": {"l": 60, "r": 20, "t": 50, "b": 20},
            "xaxis": {"title": {"text": "local interval start"}, "type": "category",
                      "nticks": 25},
            "yaxis": {"title": {"text": "agents (mean over the range)"}, "rangemode": "tozero"},
            "legend": {"orientation": "h", "y": -0.2, "yanchor": "top", "font": {"size": 10}},
            "plot_bgcolor": "#ffffff",
        },
    }  # fmt: skip


def _summary_table(ctx: Context, by_center: dict[str, list[Row]], centers: list[str]) -> str:
    rows = []
    for center in centers:
        intervals = sum(int(r["intervals"]) for r in by_center[center])
        under = sum(int(r["intervals_understaffed"]) for r in by_center[center])
        rows.append(
            {"center": ctx.label(center), "zone": ctx.zone(center), "intervals": intervals,
             "understaffed": under,
             "understaffed_pct": 100.0 * under / intervals if intervals else None}
        )  # fmt: skip
    columns = [
        Column("center", "Center"),
        Column("zone", "Time zone"),
        Column("intervals", "Intervals with calls", "int"),
        Column("understaffed", "Understaffed intervals", "int"),
        Column("understaffed_pct", "Understaffed (%)", "pct"),
    ]
    return table("staffing", columns, rows, "Understaffed intervals per center")


def _worst_table(ctx: Context, rows: list[Row]) -> str:
    columns = [
        Column("center", "Center"),
        Column("interval_start_local", "Local interval start"),
        Column("interval_start_utc", "Start (UTC)", "instant"),
        Column("calls_offered", "Incoming calls", "int"),
        Column("avg_handle_time_seconds", "AHT (s)", "sec"),
        Column("offered_load_erlangs", "Load (Erlangs)", "avg"),
        Column("agents_required", "Required", "int"),
        Column("agents_required_with_shrinkage", "With shrinkage", "int"),
        Column("agents_observed", "Observed", "int"),
        Column("agents_gap", "Gap", "int"),
        Column("model_service_level_pct", "Model SL (%)", "pct"),
        Column("service_level_pct", "Actual SL (%)", "pct"),
    ]
    table_rows = [{**r, "center": ctx.label(r["center_id"])} for r in rows]
    return details(
        f"The {WORST_INTERVALS} most understaffed intervals (table)",
        table("staffing-worst", columns, table_rows, "Understaffed intervals, largest gap first"),
        open_=True,
    )


def _heading(ctx: Context) -> str:
    text = (
        f"Agents each {ctx.setting('interval_minutes')}-minute interval needed by Erlang C: the "
        f"fewest that answer {ctx.setting('service_level_target_pct')} % of incoming calls "
        f"within {ctx.setting('service_level_threshold_seconds')} s at no more than "
        f"{ctx.setting('max_occupancy_pct')} % occupancy, given the interval's calls and "
        f"handle time; with {ctx.setting('shrinkage_pct')} % shrinkage for the agents to "
        "schedule. Observed agents are those who answered a call in the interval: a lower bound "
        "of the agents logged in, so an understaffed interval (required > observed) may have "
        "had idle agents the data cannot see. Means per local time of day over the range."
    )
    return (
        f'<section id="s{NUMBER}"><h2>{NUMBER}. Staffing: required and observed agents</h2>'
        f'<p class="meta">{esc(text)}</p>'
    )
