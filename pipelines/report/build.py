"""Building the report (see ``pipelines/report/__init__.py``): ``build_report`` reads a DuckDB
file's marts and writes the page, atomically."""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from pipelines.report import (
    DEFAULT_TARGET_PCT,
    ReportError,
    ReportResult,
    queries,
    sections,
    staffing,
)
from pipelines.report.page import Column, Page, details, document, esc, table
from pipelines.report.queries import ABANDON_RATE, DuckDBSource, ReportSource

DEFAULT_DAYS = 30


def build_report(
    db: Path,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    target_pct: float = DEFAULT_TARGET_PCT,
    config: dict[str, Any] | None = None,
) -> ReportResult:
    """Writes the report of ``start``..``end`` (local dates, inclusive) to ``out``; ``config``:
    the DuckDB settings of its connection (the run's memory cap), DuckDB's defaults when None.

    Default range: the last 30 local days of the data, i.e. ending on the newest call's local
    date (today, on a warehouse loaded on schedule).
    """
    started = time.perf_counter()
    if not db.exists():
        raise ReportError(f"no DuckDB file at {db}: run `make load` (or `make demo`) first")
    try:
        source = DuckDBSource(db, config or {})
    except duckdb.OutOfMemoryException:
        raise  # the run's memory cap, which the run's failure message names
    except Exception as exc:  # duckdb's own errors: locked, not a database, ...
        raise ReportError(f"cannot open {db} read-only: {str(exc).splitlines()[0]}") from None
    try:
        if not source.has_table("analytics", "fct_call_metrics_daily"):
            raise ReportError(f"{db} has no analytics marts: run `make transform` first")
        if queries.rebuild_unfinished(source):
            # only the live warehouse can be caught so: a copy is published after a finished run
            raise ReportError(
                f"{db} holds a full rebuild that did not finish (its marts are partial): "
                "run `make transform` first"
            )
        html, offered, first, last = render(source, db, start, end, target_pct)
    finally:
        source.close()
    _write_atomically(out, html)
    return ReportResult(
        out, first, last, offered, out.stat().st_size, time.perf_counter() - started
    )


def default_range(source: ReportSource, start: date | None, end: date | None) -> tuple[date, date]:
    if end is None:
        newest = queries.newest_local_date(source)
        end = newest if newest is not None else datetime.now().date()
        if start is not None and start > end:
            end = start  # an explicit start after the data: an empty range, not an error
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise ReportError(f"END ({end}) is before START ({start})")
    return start, end


def render(
    source: ReportSource, db: Path, start: date | None, end: date | None, target_pct: float
) -> tuple[str, int, date, date]:
    """The page's HTML, the range's incoming calls, and the range."""
    ctx = _context(source, *default_range(source, start, end), target_pct)
    head = queries.headline(source, ctx.start, ctx.end, ctx.previous_start, ctx.formula)
    offered = sum(int(r["calls_offered"]) for r in head if r["period"] == "current")
    health = queries.health(source, ctx.start, ctx.end)
    page = Page()
    parts = [_header(ctx, db, offered), sections.verdict_box(sections.verdict(ctx, health))]
    has_calls = queries.calls_in_range(source, ctx.start, ctx.end) > 0
    if not has_calls:
        parts.append(
            f'<p class="empty" id="no-calls">No calls in this range ({ctx.start} to {ctx.end}).</p>'
        )
    else:
        parts += _sections(source, page, ctx, head)
    parts.append(sections.data_health(page, ctx, health))
    if has_calls:
        parts.append(staffing.section(source, page, ctx))
    title = f"Call-center report {ctx.start} to {ctx.end}"
    return document(title, "".join(parts), page.figures), offered, ctx.start, ctx.end


def _context(source: ReportSource, start: date, end: date, target_pct: float) -> sections.Context:
    days = (end - start).days + 1
    centers = queries.centers(source)
    return sections.Context(
        start=start,
        end=end,
        previous_start=start - timedelta(days=days),
        previous_end=start - timedelta(days=1),
        settings=queries.settings(source),
        center_names={c: str(row["center_name"] or c) for c, row in centers.items()},
        zones=queries.zones(source, start, end),
        target_pct=target_pct,
        data_start=queries.oldest_local_date(source),
    )


def _sections(
    source: ReportSource, page: Page, ctx: sections.Context, head: list[queries.Row]
) -> list[str]:
    """Sections 1 to 5 (data health, section 6, is on every page)."""
    start, end, formula = ctx.start, ctx.end, ctx.formula
    cells = queries.heatmap(source, start, end, formula, int(ctx.setting("interval_minutes")))
    return [
        sections.headline(page, ctx, head),
        sections.trend(page, ctx, queries.daily(source, start, end, formula)),
        sections.heatmaps(page, ctx, cells),
        sections.agents(page, ctx, queries.agents(source, start, end)),
        sections.abandonment(page, ctx, queries.abandonment(source, start, end)),
    ]


def _header(ctx: sections.Context, db: Path, offered: int) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = [
        {"name": name, "value": row["setting_value"], "unit": row["unit"] or "",
         "description": row["description"] or ""}
        for name, row in sorted(ctx.settings.items())
    ]  # fmt: skip
    settings.append(
        {
            # the transforms' service_level_target_pct (staffing) is listed above
            "name": "report.service_level_target_pct",
            "value": f"{ctx.target_pct:g}",
            "unit": "%",
            "description": "[report] setting: the trend's target line",
        }
    )
    settings.append(
        {
            "name": "abandon_rate",
            "value": ABANDON_RATE,
            "unit": "%",
            "description": "abandon_rate_pct of the daily and interval marts, over the range",
        }
    )
    columns = [Column("name", "Setting"), Column("value", "Value"), Column("unit", "Unit"),
               Column("description", "Meaning")]  # fmt: skip
    summary = (
        f"Settings in force: service level = answered within "
        f"{ctx.setting('service_level_threshold_seconds')} s ÷ "
        f"{FORMULA_WORDS.get(ctx.setting('service_level_formula'), '?')} "
        f"({ctx.setting('service_level_formula')}), target {ctx.target_pct:g} %; short abandon "
        f"< {ctx.setting('short_abandon_threshold_seconds')} s; "
        f"{ctx.setting('interval_minutes')}-minute intervals; repeat-call window "
        f"{ctx.setting('repeat_call_window_hours')} h"
    )
    return (
        f"<header><h1>Call-center report: {ctx.start} to {ctx.end}</h1>"
        f'<p class="meta">Local dates of each center, {(ctx.end - ctx.start).days + 1} days; '
        f"{offered:,} incoming calls. Previous period: {ctx.previous_start} to "
        f"{ctx.previous_end}{ctx.previous_caveat}. Source: {esc(db)} (analytics schema). "
        f"Generated {generated}.</p>"
        + details(summary, table("settings", columns, settings, "analytics.metric_settings"))
        + "</header>"
    )


# The service-level denominators of `service_level_formula`, as the data dictionary words them.
FORMULA_WORDS = {
    "answered_and_abandoned": "(answered + abandoned)",
    "offered": "offered",
    "answered": "answered",
}


def _write_atomically(out: Path, html: str) -> None:
    """A reader (a browser, a mail job) never sees half a report.

    The page holds agents' names, so its mode is the umask's, as for any file the user
    writes: created 0o666 and masked by the kernel (``mkstemp`` would make it 0o600, and a
    ``chmod`` after it would ignore the umask).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.parent / f".{out.name}.{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.replace(temp, out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


__all__ = ["build_report"]
