"""The staffing section's numbers equal the warehouse: intervals and observed agents recounted
from ``analytics.fct_calls`` (not the staffing mart the report reads), understaffed intervals
and the worst-interval list from the mart's own flags."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from .report_page import number, page_tables, report_cli, sql

START, END = "2024-03-20", "2024-04-03"

Tables = dict[str, list[dict[str, dict[str, Any]]]]


@pytest.fixture(scope="module")
def tables(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Tables:
    out = tmp_path_factory.mktemp("staffing") / "report.html"
    done = report_cli("--db", str(warehouse), "--out", str(out), "--start", START, "--end", END)
    assert done.returncode == 0, done.stderr
    return page_tables(out)


def test_intervals_and_understaffed_per_center(warehouse: Path, tables: Tables) -> None:
    names = dict(sql(warehouse, "SELECT center_id, center_name FROM analytics.dim_centers"))
    # every interval of the range with a call, whatever its direction, from the calls
    intervals = dict(
        sql(
            warehouse,
            "SELECT center_id, count(DISTINCT (interval_start_local, interval_start_utc)) "
            "FROM analytics.fct_calls WHERE local_date BETWEEN ? AND ? GROUP BY 1",
            [START, END],
        )
    )
    under = dict(
        sql(
            warehouse,
            "SELECT center_id, count(*) FILTER (WHERE is_understaffed) "
            "FROM analytics.fct_staffing_interval WHERE local_date BETWEEN ? AND ? GROUP BY 1",
            [START, END],
        )
    )
    shown = {row["center"]["text"]: row for row in tables["staffing"]}
    assert set(shown) == {names[c] for c in intervals}
    assert sum(under.values()) > 0  # the emulator's data has understaffed intervals to show
    for center, count in intervals.items():
        row = shown[names[center]]
        assert number(row["intervals"]) == count
        assert number(row["understaffed"]) == under[center]
        assert math.isclose(number(row["understaffed_pct"]) or 0, 100 * under[center] / count)


def test_observed_agents_per_time_of_day(warehouse: Path, tables: Tables) -> None:
    # the first center by name: distinct answering agents per interval, averaged per local time
    expected = dict(
        sql(
            warehouse,
            """
            WITH per_interval AS (
                SELECT interval_start_local, interval_start_utc,
                       count(DISTINCT agent) FILTER (WHERE is_answered) AS agents
                FROM analytics.fct_calls
                WHERE local_date BETWEEN ? AND ? AND center_id = (
                    SELECT center_id FROM analytics.dim_centers
                    WHERE center_id IN (SELECT center_id FROM analytics.fct_calls)
                    ORDER BY center_name LIMIT 1)
                GROUP BY ALL)
            SELECT strftime(interval_start_local, '%H:%M'), avg(agents)
            FROM per_interval GROUP BY 1
            """,
            [START, END],
        )
    )
    shown = {
        row["slot"]["text"]: number(row["avg_agents_observed"]) for row in tables["staffing-1"]
    }
    assert shown.keys() == expected.keys()
    for slot, value in expected.items():
        assert math.isclose(shown[slot] or 0, value), slot


def test_worst_intervals_are_understaffed_largest_gap_first(
    warehouse: Path,
    tables: Tables,
) -> None:
    rows = tables["staffing-worst"]
    total = sql(
        warehouse,
        "SELECT count(*) FROM analytics.fct_staffing_interval "
        "WHERE is_understaffed AND local_date BETWEEN ? AND ?",
        [START, END],
    )[0][0]
    assert len(rows) == min(50, total)
    gaps = [number(r["agents_gap"]) or 0.0 for r in rows]
    assert gaps == sorted(gaps, reverse=True)
    for row in rows:
        required, observed = number(row["agents_required"]), number(row["agents_observed"])
        assert required is not None and observed is not None
        assert number(row["agents_gap"]) == required - observed > 0
