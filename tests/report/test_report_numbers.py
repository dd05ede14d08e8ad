"""The numbers in the written page equal the marts: each table is read back from the HTML and
compared with an independent query over ``analytics.fct_calls`` written here (per-call flags
counted directly, not the daily marts the report reads). Plus the CLI's edges."""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.cli import assert_fails

from .report_page import number, page_tables, report_cli, sql

START, END = "2024-03-20", "2024-04-03"  # 15 days; previous period 2024-03-05..2024-03-19
PREVIOUS = ("2024-03-05", "2024-03-19")

# Per center, from the per-call flags of fct_calls (incoming calls), with the data dictionary's
# formulas and the default service-level formula (answered + abandoned).
EXPECTED_HEADLINE = """
    SELECT center_id,
        count(*) AS calls_offered,
        count_if(is_answered) AS calls_answered,
        100.0 * count_if(is_within_service_level)
            / nullif(count_if(is_answered) + count_if(is_abandoned), 0) AS service_level_pct,
        avg(speed_of_answer_seconds) AS asa_seconds,
        avg(handle_time_seconds) AS aht_seconds,
        100.0 * count_if(is_abandoned) / count(*) AS abandon_rate_pct,
        100.0 * count_if(is_answered AND is_held) / nullif(count_if(is_answered), 0)
            AS hold_rate_pct,
        100.0 * count_if(is_transferred) / nullif(count_if(is_answered), 0) AS transfer_rate_pct,
        100.0 * count_if(is_repeat_call) / nullif(count_if(is_answered), 0)
            AS repeat_call_rate_pct
    FROM analytics.fct_calls
    WHERE is_incoming AND local_date BETWEEN ? AND ?
    GROUP BY center_id
"""


@pytest.fixture(scope="module")
def report(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = report_cli("--db", str(warehouse), "--out", str(out), "--start", START, "--end", END)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"report: {out}  ({START}..{END}, ")
    return out


def _close(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)


def _by_center(warehouse: Path, first: str, last: str) -> dict[str, dict[str, Any]]:
    names = dict(sql(warehouse, "SELECT center_id, center_name FROM analytics.dim_centers"))
    cursor = sql(warehouse, EXPECTED_HEADLINE, [first, last])
    keys = ["calls_offered", "calls_answered", "service_level_pct", "asa_seconds",
            "aht_seconds", "abandon_rate_pct", "hold_rate_pct", "transfer_rate_pct",
            "repeat_call_rate_pct"]  # fmt: skip
    return {names[row[0]]: dict(zip(keys, row[1:], strict=True)) for row in cursor}


def test_headline_equals_the_calls_and_the_change_against_the_previous_period(
    report: Path, warehouse: Path
) -> None:
    current = _by_center(warehouse, START, END)
    previous = _by_center(warehouse, *PREVIOUS)
    rows = page_tables(report)["headline"]
    assert sorted(r["center"]["text"] for r in rows) == sorted(current)
    assert sum(current[c]["calls_offered"] for c in current) > 400  # a real amount of data
    for row in rows:
        center = row["center"]["text"]
        for key, expected in current[center].items():
            assert _close(number(row[key]), expected), (center, key)
            change = expected - previous[center][key]
            assert _close(number(row[f"{key}_change"]), change), (center, key)
        # The text is the same value, rounded for reading.
        assert row["service_level_pct"]["text"] == f"{current[center]['service_level_pct']:.1f}"
    assert rows[0]["zone"]["text"] in {
        "America/Chicago", "America/Phoenix", "Europe/London", "Australia/Sydney", "Asia/Kolkata"
    }  # fmt: skip


def test_daily_trend_equals_the_calls_of_each_local_day(report: Path, warehouse: Path) -> None:
    expected = {
        (name, str(day)): (offered, sl, asa, aht, abandon)
        for name, day, offered, sl, asa, aht, abandon in sql(
            warehouse,
            """
            SELECT d.center_name, c.local_date, count(*),
                100.0 * count_if(is_within_service_level)
                    / nullif(count_if(is_answered) + count_if(is_abandoned), 0),
                avg(speed_of_answer_seconds), avg(handle_time_seconds),
                100.0 * count_if(is_abandoned) / count(*)
            FROM analytics.fct_calls c JOIN analytics.dim_centers d USING (center_id)
            WHERE is_incoming AND local_date BETWEEN ? AND ? GROUP BY ALL
            """,
            [START, END],
        )
    }
    rows = page_tables(report)["daily"]
    assert len(rows) == len(expected)
    for row in rows:
        want = expected[(row["center"]["text"], row["local_date"]["value"])]
        keys = ["calls_offered", "service_level_pct", "asa_seconds", "aht_seconds",
                "abandon_rate_pct"]  # fmt: skip
        for key, value in zip(keys, want, strict=True):
            assert _close(number(row[key]), value), (row["local_date"]["value"], key)


def test_agent_scorecard_equals_the_answered_calls_per_agent(report: Path, warehouse: Path) -> None:
    expected = {
        (agent, center): (handled, aht, hold, transfers)
        for agent, center, handled, aht, hold, transfers in sql(
            warehouse,
            """
            SELECT agent, d.center_name, count(*),
                avg(coalesce(talk_seconds, 0) + coalesce(hold_seconds, 0)
                    + coalesce(work_seconds, 0)),
                100.0 * count_if(is_held) / count(*), count_if(is_transferred)
            FROM analytics.fct_calls c JOIN analytics.dim_centers d USING (center_id)
            WHERE is_answered AND agent IS NOT NULL AND local_date BETWEEN ? AND ?
            GROUP BY ALL
            """,
            [START, END],
        )
    }
    rows = page_tables(report)["agents"]
    assert len(rows) == len(expected) > 5
    for row in rows:
        want = expected[(row["agent"]["text"], row["center"]["text"])]
        got = [number(row[k]) for k in ("calls_handled", "aht_seconds", "hold_rate_pct",
                                        "calls_transferred")]  # fmt: skip
        assert all(_close(g, w) for g, w in zip(got, want, strict=True)), row["agent"]


def test_abandonment_buckets_and_settings_equal_the_marts(report: Path, warehouse: Path) -> None:
    expected = sql(
        warehouse,
        """
        SELECT least(5 * floor(coalesce(ring_seconds, 0) / 5), 300)::INT,
               count_if(is_short_abandon), count_if(is_abandoned)
        FROM analytics.fct_calls
        WHERE is_incoming AND NOT is_answered AND local_date BETWEEN ? AND ?
        GROUP BY 1 ORDER BY 1
        """,
        [START, END],
    )
    tables = page_tables(report)
    got = [
        (int(r["ring"]["text"].split("–")[0].rstrip("+")), number(r["short_abandons"]),
         number(r["abandons"]))
        for r in tables["abandonment"]
    ]  # fmt: skip
    assert got == [(a, float(b), float(c)) for a, b, c in expected]
    # Short abandons only below the 5 s threshold, in the first bucket.
    assert all(short == 0 for start, short, _ in got if start >= 5)
    settings = {r["name"]["text"]: r["value"]["text"] for r in tables["settings"]}
    stored = dict(
        sql(warehouse, "SELECT setting_name, setting_value FROM analytics.metric_settings")
    )
    assert {k: settings[k] for k in stored} == stored
    assert settings["service_level_formula"] == "answered_and_abandoned"
    assert settings["service_level_threshold_seconds"] == "20"


def test_data_health_shows_the_newest_call_and_the_unverified_range(
    report: Path, warehouse: Path
) -> None:
    tables = page_tables(report)
    facts = {r["fact"]["text"]: r["value"]["text"] for r in tables["freshness"]}
    (newest,) = sql(warehouse, "SELECT max(start_time_utc) FROM analytics.fct_calls")[0]
    assert facts["Newest call (start, UTC)"] == newest.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert facts["Center-days of the range verified"] == "–"  # verify never ran here
    html = report.read_text(encoding="utf-8")
    assert "Numbers usable, with these caveats" in html
    assert "the range has not been verified against the API (make verify)" in html
    assert tables["findings"] == [] and tables["quarantine"] == []


def test_an_empty_range_says_so(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    done = report_cli("--db", str(warehouse), "--out", str(out), "--start", "2030-01-01",
                      "--end", "2030-01-31")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(2030-01-01..2030-01-31, 0 incoming calls" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert "No calls in this range (2030-01-01 to 2030-01-31)." in html
    assert "headline" not in page_tables(out)


def test_the_default_range_is_the_last_30_local_days_of_the_data(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "default.html"
    done = report_cli("--db", str(warehouse), "--out", str(out))
    assert done.returncode == 0, done.stderr
    # The emulator's data runs 2024-03-01 to 2024-04-15 00:00 UTC: the newest local date is
    # 2024-04-15 (Sydney and Kolkata are ahead of UTC).
    assert done.stdout.startswith(f"report: {out}  (2024-03-17..2024-04-15, ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2024-04-20", "--end", "2024-04-01"],
         "error: report: END (2024-04-01) is before START (2024-04-20)"),
        (["--start", "2024-02-30"], "error: --start must be a date YYYY-MM-DD, got '2024-02-30'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    warehouse: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    done = report_cli("--db", str(warehouse), "--out", str(tmp_path / "r.html"), *args)
    assert assert_fails(done, 2) == message == done.stderr.strip()


def test_a_missing_database_says_what_to_run(tmp_path: Path) -> None:
    missing = report_cli("--db", str(tmp_path / "nope.duckdb"))
    assert (
        assert_fails(missing, 2)
        == missing.stderr.strip()
        == (
            f"error: report: no DuckDB file at {tmp_path / 'nope.duckdb'}: "
            "run `make load` (or `make demo`) first"
        )
    )


def test_the_target_line_is_the_report_setting(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "target.html"
    env = {**os.environ, "REPORT__SERVICE_LEVEL_TARGET_PCT": "90"}
    done = report_cli("--db", str(warehouse), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    settings = {r["name"]["text"]: r["value"]["text"] for r in page_tables(out)["settings"]}
    assert settings["report.service_level_target_pct"] == "90"
    assert settings["service_level_target_pct"] == "80"  # the transforms' (staffing)
    assert '"name":"target 90 %","x":[' in out.read_text(encoding="utf-8")


def _occurrences(zone: str, first: date, last: date) -> dict[tuple[int, str], int]:
    """How often each weekday × 15-minute wall-clock interval occurred, by ``zoneinfo``: a wall
    time exists when it survives the round trip through UTC, twice when both folds do with
    different offsets (the repeated hour)."""
    tz = ZoneInfo(zone)
    counts: dict[tuple[int, str], int] = defaultdict(int)
    day = first
    while day <= last:
        for minute in range(0, 1440, 15):
            wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
            instants = set()
            for fold in (0, 1):
                local = wall.replace(tzinfo=tz, fold=fold)
                back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
                if back == wall:
                    instants.add(local.astimezone(UTC))
            counts[(day.isoweekday(), f"{minute // 60:02d}:{minute % 60:02d}")] += len(instants)
        day += timedelta(days=1)
    return counts


def test_heat_map_cells_equal_the_calls_per_interval_occurrence(
    report: Path, warehouse: Path
) -> None:
    """Every cell of every center: incoming calls of that weekday and local interval ÷ its
    occurrences, and their service level. London's spring-forward (2024-03-31) is in range."""
    first, last = date.fromisoformat(START), date.fromisoformat(END)
    calls = sql(
        warehouse,
        """
        SELECT d.center_name, d.iana_time_zone, isodow(interval_start_local),
               strftime(interval_start_local, '%H:%M'), count(*),
               100.0 * count_if(is_within_service_level)
                   / nullif(count_if(is_answered) + count_if(is_abandoned), 0)
        FROM analytics.fct_calls c JOIN analytics.dim_centers d USING (center_id)
        WHERE is_incoming AND local_date BETWEEN ? AND ? GROUP BY ALL
        """,
        [START, END],
    )
    zones = {name: zone for name, zone, *_ in calls}
    cells = {(name, day, slot): (n, sl) for name, _, day, slot, n, sl in calls}
    tables = page_tables(report)
    captions = _heatmap_captions(report)
    checked = 0
    for name, zone in zones.items():
        occurrences = _occurrences(zone, first, last)
        assert occurrences[(7, "01:00")] == (1 if zone == "Europe/London" else 2)
        offered = tables[captions[(name, "offered")]]
        level = tables[captions[(name, "sl")]]
        for row_offered, row_level in zip(offered, level, strict=True):
            slot = row_offered["slot"]["text"]
            for n, day in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start=1):
                count, sl = cells.get((name, n, slot), (0, None))
                times = occurrences[(n, slot)]
                want = None if times == 0 else count / times
                assert _close(number(row_offered[day]), want), (name, day, slot)
                assert _close(number(row_level[day]), sl), (name, day, slot)
                checked += 1
    assert checked == 5 * 96 * 7


def _heatmap_captions(report: Path) -> dict[tuple[str, str], str]:
    """(center name, offered|sl) -> the id of its heat-map table, by the table's caption."""
    html = report.read_text(encoding="utf-8")
    found = re.findall(
        r'<table id="(heatmap-\d+-(offered|sl))" class="numbers"><caption>([^<]+) \(', html
    )
    return {(caption, kind): table_id for table_id, kind, caption in found}
