"""The report's six sections: each a chart (or a few) with its numbers below as a table.

Everything shown comes from ``queries``; here it is only arranged, labelled and rounded for
reading. The one derived figure is the change against the previous period (a difference of two
values the queries returned).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipelines.report import charts
from pipelines.report.page import Column, Page, cell_text, cell_value, details, esc, table
from pipelines.report.queries import ABANDON_BUCKET_SECONDS, ABANDON_CAP_SECONDS, Health

Row = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """The range, the settings in force and the centers' names and zones."""

    start: date
    end: date
    previous_start: date
    previous_end: date
    settings: dict[str, Row]
    center_names: dict[str, str]
    zones: dict[str, str]
    target_pct: float
    # The oldest local date of the data: a previous period before it is empty or partial.
    data_start: date | None = None

    @property
    def previous_caveat(self) -> str:
        """What the previous period lacks, when it does not lie wholly inside the data."""
        if self.data_start is None or self.previous_start >= self.data_start:
            return ""
        if self.previous_end < self.data_start:
            return f" (before the data starts on {self.data_start}: nothing to compare with)"
        return (
            f" (the data starts on {self.data_start}: the previous period is partial, "
            "so its Δ overstates growth)"
        )

    @property
    def formula(self) -> str:
        """The service-level formula in force (its denominator)."""
        return self.setting("service_level_formula")

    def setting(self, name: str) -> str:
        row = self.settings.get(name)
        return str(row["setting_value"]) if row else "?"

    def label(self, center_id: str) -> str:
        return self.center_names.get(center_id, center_id)

    def zone(self, center_id: str) -> str:
        return self.zones.get(center_id, "zone unknown")


# The headline measures: (key, label, unit for axis, value format, change format).
MEASURES = [
    ("calls_offered", "Calls offered", "calls", "int", "delta_int"),
    ("calls_answered", "Calls answered", "calls", "int", "delta_int"),
    ("service_level_pct", "Service level", "%", "pct", "delta"),
    ("asa_seconds", "ASA", "seconds", "sec", "delta"),
    ("aht_seconds", "AHT", "seconds", "sec", "delta"),
    ("abandon_rate_pct", "Abandon rate", "%", "pct", "delta"),
    ("hold_rate_pct", "Hold rate", "%", "pct", "delta"),
    ("transfer_rate_pct", "Transfer rate", "%", "pct", "delta"),
    ("repeat_call_rate_pct", "Repeat-call rate", "%", "pct", "delta"),
]


def _unit(unit: str) -> str:
    return "" if unit == "calls" else f" ({unit})"


def headline(page: Page, ctx: Context, rows: list[Row]) -> str:
    by_center: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in rows:
        by_center[row["center_id"]][row["period"]] = row
    centers = [c for c in sorted(by_center, key=ctx.label) if "current" in by_center[c]]
    names = [ctx.label(c) for c in centers]
    periods = (f"{ctx.start}..{ctx.end}", f"previous {ctx.previous_start}..{ctx.previous_end}")
    figures = []
    for key, label, unit, _, _ in MEASURES:
        current = [by_center[c]["current"][key] for c in centers]
        previous = [by_center[c].get("previous", {}).get(key) for c in centers]
        title = f"{label}{_unit(unit)}"
        figures.append(
            page.chart(charts.period_bars(title, unit, names, current, previous, periods))
        )
    return (
        _heading(1, "Headline per center", "Incoming calls of the range, each measure beside "
                 f"the previous period of the same length ({periods[1]}){ctx.previous_caveat}.")
        + f'<div class="grid">{"".join(figures)}</div>'
        + _headline_table(ctx, by_center, centers)
        + "</section>"
    )  # fmt: skip


def _headline_table(ctx: Context, by_center: dict[str, dict[str, Row]], centers: list[str]) -> str:
    """Per center, each measure and its change: range − previous period (None if either is)."""
    columns = [Column("center", "Center"), Column("zone", "Time zone")]
    for key, label, unit, kind, change in MEASURES:
        columns.append(Column(key, f"{label}{_unit(unit)}", kind))
        columns.append(Column(f"{key}_change", "Δ vs previous", change))
    table_rows = []
    for center in centers:
        now, before = by_center[center]["current"], by_center[center].get("previous", {})
        out: Row = {"center": ctx.label(center), "zone": ctx.zone(center)}
        for key, _, _, _, _ in MEASURES:
            out[key] = now[key]
            old = before.get(key)
            out[f"{key}_change"] = None if now[key] is None or old is None else now[key] - old
        table_rows.append(out)
    return table("headline", columns, table_rows, "Headline per center (Δ = range − previous)")


TREND = [
    ("service_level_pct", "Service level", "%"),
    ("asa_seconds", "ASA: average speed of answer", "seconds"),
    ("aht_seconds", "AHT: average handle time", "seconds"),
    ("abandon_rate_pct", "Abandon rate", "%"),
]


def trend(page: Page, ctx: Context, rows: list[Row]) -> str:
    by_center: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_center[row["center_id"]].append(row)
    centers = sorted(by_center, key=ctx.label)
    figures = []
    for key, label, unit in TREND:
        series = [
            (ctx.label(c), [str(r["local_date"]) for r in by_center[c]],
             [r[key] for r in by_center[c]])
            for c in centers
        ]  # fmt: skip
        target = (
            (f"target {ctx.target_pct:g} %", ctx.target_pct) if key == "service_level_pct" else None
        )
        figures.append(page.chart(charts.daily_lines(f"{label} ({unit})", unit, series, target)))
    columns = [
        Column("center", "Center"),
        Column("local_date", "Local date", "date"),
        Column("calls_offered", "Calls offered", "int"),
        Column("service_level_pct", "Service level (%)", "pct"),
        Column("asa_seconds", "ASA (s)", "sec"),
        Column("aht_seconds", "AHT (s)", "sec"),
        Column("abandon_rate_pct", "Abandon rate (%)", "pct"),
    ]
    table_rows = [{**r, "center": ctx.label(r["center_id"])} for c in centers for r in by_center[c]]
    return (
        _heading(2, "Daily trend per center", "Incoming calls per local day of each center; "
                 f"service level against the target of {ctx.target_pct:g} %.")
        + f'<div class="grid">{"".join(figures)}</div>'
        + details("Daily numbers (table)", table("daily", columns, table_rows))
        + "</section>"
    )  # fmt: skip


def heatmaps(page: Page, ctx: Context, rows: list[Row]) -> str:
    by_center: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_center[row["center_id"]].append(row)
    parts = [
        _heading(3, "Interval heat map per center", f"Incoming calls per weekday and "
                 f"{ctx.setting('interval_minutes')}-minute interval of the center's local time: "
                 "average calls offered per occurrence of the interval in the range, and service "
                 "level. A fall-back day's repeated hour counts twice, a spring-forward day's "
                 "skipped hour not at all; a blank cell is an interval that did not occur.")
    ]  # fmt: skip
    for n, center in enumerate(sorted(by_center, key=ctx.label), start=1):
        parts.append(_center_heatmap(page, ctx, center, by_center[center], n))
    return "".join(parts) + "</section>"


def _center_heatmap(page: Page, ctx: Context, center: str, rows: list[Row], n: int) -> str:
    weekdays = sorted({r["weekday"] for r in rows})
    # Every interval of a day, so one that did not occur in the range shows as a blank row.
    step = int(ctx.setting("interval_minutes"))
    slots = [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 1440, step)]
    cell = {(r["slot"], r["weekday"]): r for r in rows}

    def grid(key: str) -> list[list[float | None]]:
        return [[cell[(s, d)][key] if (s, d) in cell else None for d in weekdays] for s in slots]

    name, zone = ctx.label(center), ctx.zone(center)
    offered = charts.heatmap(
        f"Calls offered, average ({zone})",
        "calls",
        slots,
        weekdays,
        grid("avg_calls_offered"),
    )
    level = charts.heatmap(f"Service level, % ({zone})", "%", slots, weekdays,
                           grid("service_level_pct"), zmax=100)  # fmt: skip
    day_names = [charts.WEEKDAYS[d - 1] for d in weekdays]
    tables = []
    for key, kind, what in (
        ("avg_calls_offered", "avg", "offered"),
        ("service_level_pct", "pct", "sl"),
    ):
        columns = [Column("slot", "Interval")] + [Column(d, d, kind) for d in day_names]
        values = grid(key)
        table_rows = [
            {"slot": s, **dict(zip(day_names, values[i], strict=True))} for i, s in enumerate(slots)
        ]
        tables.append(table(f"heatmap-{n}-{what}", columns, table_rows, f"{name} ({zone})"))
    return (
        f'<h3 data-center="{esc(center)}">{esc(name)}: local time {esc(zone)}</h3>'
        f'<div class="grid">{page.chart(offered)}{page.chart(level)}</div>'
        + details(f"{name}: average calls offered (table)", tables[0])
        + details(f"{name}: service level % (table)", tables[1])
    )  # fmt: skip


def agents(page: Page, ctx: Context, rows: list[Row]) -> str:
    by_center: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_center[row["center_id"]].append(row)
    series = [
        (ctx.label(c), [r["agent"] for r in by_center[c]],
         [r["calls_handled"] for r in by_center[c]], [r["aht_seconds"] for r in by_center[c]])
        for c in sorted(by_center, key=ctx.label)
    ]  # fmt: skip
    columns = [
        Column("agent", "Agent"),
        Column("center", "Center"),
        Column("calls_handled", "Calls handled", "int"),
        Column("aht_seconds", "AHT (s)", "sec"),
        Column("hold_rate_pct", "Hold rate (%)", "pct"),
        Column("calls_transferred", "Transfers", "int"),
    ]
    table_rows = [{**r, "center": ctx.label(r["center_id"])} for r in rows]
    return (
        _heading(4, "Agent scorecard", "Answered calls of any direction per agent (AnsweredBy) "
                 "and center; click a column heading to sort.")
        + page.chart(charts.agent_scatter(series))
        + table("agents", columns, table_rows, "Agent scorecard", sortable=True)
        + "</section>"
    )  # fmt: skip


def abandonment(page: Page, ctx: Context, rows: list[Row]) -> str:
    threshold = float(ctx.setting("short_abandon_threshold_seconds"))
    starts = [r["ring_from_seconds"] for r in rows]
    figure = charts.abandon_histogram(
        starts,
        [r["short_abandons"] for r in rows],
        [r["abandons"] for r in rows],
        ABANDON_BUCKET_SECONDS,
        threshold,
    )
    table_rows = [{**r, "ring": _bucket_label(r["ring_from_seconds"])} for r in rows]
    columns = [
        Column("ring", "Ring time (s)"),
        Column("short_abandons", "Short abandons", "int"),
        Column("abandons", "Abandons", "int"),
    ]
    return (
        _heading(5, "Abandonment", "Incoming calls that were not answered, by how long they "
                 f"rang before the caller hung up; under {threshold:g} s they are short abandons "
                 "(not counted as abandoned).")
        + page.chart(figure)
        + table("abandonment", columns, table_rows, "Abandoned calls by ring time")
        + "</section>"
    )  # fmt: skip


def _bucket_label(start: int) -> str:
    if start >= ABANDON_CAP_SECONDS:
        return f"{start}+"
    return f"{start}–{start + ABANDON_BUCKET_SECONDS}"


def _heading(number: int, title: str, text: str) -> str:
    return f'<section id="s{number}"><h2>{number}. {esc(title)}</h2><p class="meta">{esc(text)}</p>'


# --------------------------------------------------------------------------- data health


@dataclass(frozen=True)
class Verdict:
    css: str
    title: str
    reasons: list[str]


def verdict(ctx: Context, health: Health) -> Verdict:
    """Whether the numbers can be trusted: problems (red), things to check (amber), or neither."""
    errors = [f for f in health.findings if f["severity"] == "error"]
    warnings = [f for f in health.findings if f["severity"] != "error"]
    bad = [f"check {f['check_name']} failed on {f['failing_rows']:,} rows (error)" for f in errors]
    if health.verify_differences:
        bad.append(
            f"{len(health.verify_differences)} center-days of the range differ from the API "
            "(verify)"
        )
    check = [f"{f['check_name']}: {f['failing_rows']:,} rows (warning)" for f in warnings]
    quarantined = sum(int(q["records"]) for q in health.quarantined)
    if quarantined:
        check.append(f"{quarantined:,} records quarantined (not in the numbers)")
    if not health.verify_checked_days:
        check.append("the range has not been verified against the API (make verify)")
    complete = health.load.get("cursor_complete_through")
    if complete is None or complete.date() <= ctx.end:
        through = cell_text(complete, "instant") if complete else "an unknown time"
        check.append(f"loads are complete through {through}: the range ends {ctx.end} "
                     "(local dates), so its last day may be partial")  # fmt: skip
    if bad:
        return Verdict("bad", "✖ Do not trust these numbers yet", bad + check)
    if check:
        return Verdict("check", "⚠ Numbers usable, with these caveats", check)
    return Verdict("ok", "✔ Numbers can be trusted: no problems found", [])


def verdict_box(result: Verdict) -> str:
    items = "".join(f"<li>{esc(reason)}</li>" for reason in result.reasons)
    reasons = f"<ul>{items}</ul>" if items else ""
    return (
        f'<div class="verdict {result.css}" id="verdict"><strong>{esc(result.title)}</strong>'
        f'{reasons}<a href="#s6">Data health details</a></div>'
    )


def data_health(page: Page, ctx: Context, health: Health) -> str:
    # Every warning check by name (they describe the vendor's data); the error checks (grain
    # and our own invariants) as one bar, since any failure there stops trust outright.
    warns = [c for c in health.checks if c["severity"] != "error"]
    errors = [c for c in health.checks if c["severity"] == "error"]
    labels = [f"{c['check_name']} (warning)" for c in warns]
    counts = [int(c["failing_rows"]) for c in warns]
    colours = [charts.OKABE_ITO[1]] * len(warns)
    labels += [
        f"{len(errors)} error checks (grains, invariants)",
        "quarantined records",
        "verify: center-days differing",
    ]
    counts += [
        sum(int(c["failing_rows"]) for c in errors),
        sum(int(q["records"]) for q in health.quarantined),
        len(health.verify_differences),
    ]
    colours += [charts.OKABE_ITO[3], charts.OKABE_ITO[4], charts.OKABE_ITO[0]]
    load = health.load
    facts = [
        ("Newest call (start, UTC)", health.newest_call_utc, "instant"),
        ("Last successful load", load.get("last_successful_load_at"), "instant"),
        ("Loads complete through (cursor)", load.get("cursor_complete_through"), "instant"),
        ("Verified complete through (local date)", load.get("verified_complete_through"), "date"),
        ("Verify last checked", load.get("checked_at"), "instant"),
        ("Center-days of the range verified", health.verify_checked_days, "int"),
        ("Marts refreshed", health.transformed_at, "instant"),
        ("Serving copy published", load.get("published_at"), "instant"),
    ]
    fact_rows = [{"fact": name, "value": value, "kind": kind} for name, value, kind in facts]
    parts = [
        _heading(6, "Data health", "Can these numbers be trusted? Freshness, completeness "
                 "against the API, and the data-quality findings of the last refresh."),
        verdict_box(verdict(ctx, health)),
        page.chart(charts.health_bars(labels, counts, colours)),
        _facts_table(fact_rows),
        table("verify-differences", [Column("center_id", "Center"),
              Column("local_date", "Local date", "date"), Column("api_count", "API", "int"),
              Column("warehouse_count", "Warehouse", "int"), Column("status", "Status")],
              health.verify_differences, "verify: center-days that differ from the API"),
        table("findings", [Column("check_name", "Check"), Column("severity", "Severity"),
              Column("table_name", "Table"), Column("failing_rows", "Rows", "int")],
              health.findings, "Data-quality findings (analytics.dq_summary, failing checks)"),
        table("quarantine", [Column("reason", "Reason"), Column("records", "Records", "int")],
              health.quarantined, "Quarantined records (hostedsuite.calls_quarantine)"),
    ]  # fmt: skip
    return "".join(parts) + "</section>"


def _facts_table(rows: list[Row]) -> str:
    body = "".join(
        f'<tr><th>{esc(r["fact"])}</th><td data-value="{esc(cell_value(r["value"]))}">'
        f"{esc(cell_text(r['value'], r['kind']))}</td></tr>"
        for r in rows
    )
    return f'<div class="scroll"><table id="freshness" class="numbers">{body}</table></div>'
