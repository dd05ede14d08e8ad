"""The runner's incremental refresh on the hand-built raw tables: when it is a full rebuild, and
that what it replaces equals a full rebuild (the pipeline-level proof is in
``tests/pipeline/test_incremental_transforms.py``)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from transforms import (
    DuckDBExecutor,
    MetricSettings,
    TransformCheckError,
    format_summary,
    run_transforms,
)

from .conftest import fetch, snapshot
from .raw_fixture import CALLS, insert_call, stamp_load


def assert_equals_full_rebuild(
    conn: duckdb.DuckDBPyConnection, settings: MetricSettings | None = None
) -> None:
    """The marts as the refreshes left them equal a full rebuild with the same ``settings``."""
    refreshed = snapshot(conn)
    expected: Any = pytest.raises(TransformCheckError) if _errors(conn) else nullcontext()
    with expected:
        run_transforms(DuckDBExecutor(conn), settings=settings, full=True)
    assert snapshot(conn) == refreshed


def _errors(conn: duckdb.DuckDBPyConnection) -> bool:
    rows = fetch(conn, "SELECT count(*) FROM analytics.dq_findings WHERE severity = 'error'")
    return bool(rows[0][0])


def test_when_a_refresh_is_full(raw_db: duckdb.DuckDBPyConnection) -> None:
    execute = DuckDBExecutor(raw_db)
    first = run_transforms(execute)
    assert (first.refresh, first.reason) == ("full", "first refresh (or a table is missing)")
    again = run_transforms(execute)
    assert (again.refresh, again.calls_rebuilt, again.days_rebuilt) == ("incremental", 0, 0)
    assert run_transforms(execute, full=True).reason == "asked for (--full)"
    other = run_transforms(execute, settings=MetricSettings(interval_minutes=30))
    assert (other.refresh, other.reason) == ("full", "metric settings changed")
    raw_db.execute("UPDATE analytics.transform_state SET sql_hash = 'older models'")
    changed = run_transforms(execute, settings=MetricSettings(interval_minutes=30))
    assert (changed.refresh, changed.reason) == ("full", "model or check SQL changed")
    raw_db.execute("DROP TABLE analytics.fct_agent_metrics_daily")
    assert run_transforms(execute, settings=MetricSettings(interval_minutes=30)).refresh == "full"
    state = fetch(raw_db, "SELECT raw_load_id, last_refresh FROM analytics.transform_state")
    assert state == [("load1", "full")]


def test_the_watermark_is_the_newest_load_of_any_raw_call_table(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    # The watermark is the newest load id among the rows of the three raw call tables; a
    # refresh looks for it only from its own watermark on. Load ids here are not time-ordered
    # strings, but they sort as dlt's do: "load1" < "load2" < "load3".
    execute = DuckDBExecutor(raw_db)
    watermark = "SELECT raw_load_id FROM analytics.transform_state"
    run_transforms(execute)
    assert fetch(raw_db, watermark) == [("load1",)]
    stamp_load(raw_db, "load2", ["c01"])
    assert run_transforms(execute).refresh == "incremental"
    assert fetch(raw_db, watermark) == [("load2",)]
    # a load that wrote only a child table's rows: a third form of c07 (raw_fixture.FORMS)
    raw_db.execute(
        "INSERT INTO hostedsuite.calls__completed_form_ids "
        "VALUES ('c07', 'f9', false, 'load3', 'f-c07-f9')"
    )
    # c07 has no raw row of a later load to give a range: its old row is found by id
    assert not run_transforms(execute).searched_by_id
    assert fetch(raw_db, watermark) == [("load3",)]
    forms = "SELECT forms_completed FROM analytics.fct_calls WHERE call_id = 'c07'"
    assert fetch(raw_db, forms) == [(3,)]
    assert_equals_full_rebuild(raw_db)
    # nothing loaded since: it stays, also when the newest load's rows are gone (erased)
    raw_db.execute("DELETE FROM hostedsuite.calls__completed_form_ids WHERE _dlt_load_id = 'load3'")
    run_transforms(execute)
    assert fetch(raw_db, watermark) == [("load3",)]


def test_a_later_load_is_refreshed_like_a_full_rebuild(raw_db: duckdb.DuckDBPyConnection) -> None:
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    # a later load, as dlt writes it: re-merged rows carry the new load id; c03 loses its
    # interactions and forms, c05 moves to the other center
    raw_db.execute(
        "UPDATE hostedsuite.calls SET talk_time_in_seconds = 99 WHERE id IN ('c01', 'c03', 'c05')"
    )
    stamp_load(raw_db, "load2", ["c01", "c03", "c05"])
    raw_db.execute("DELETE FROM hostedsuite.calls__interactions WHERE call_id = 'c03'")
    raw_db.execute("DELETE FROM hostedsuite.calls__completed_form_ids WHERE call_id = 'c03'")
    centers = fetch(raw_db, "SELECT DISTINCT center_id FROM hostedsuite.calls ORDER BY 1")
    raw_db.execute("UPDATE hostedsuite.calls SET center_id = ? WHERE id = 'c05'", [centers[-1][0]])
    result = run_transforms(execute)
    assert result.refresh == "incremental" and result.calls_rebuilt >= 3
    # no start time moved: every old row was found in the range of the new start times
    assert not result.searched_by_id
    assert_equals_full_rebuild(raw_db)


def test_a_call_without_local_time_fails_the_refresh_too(raw_db: duckdb.DuckDBPyConnection) -> None:
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    raw_db.execute("UPDATE hostedsuite.calls SET start_time_local = NULL WHERE id = 'c08'")
    stamp_load(raw_db, "load2", ["c08"])
    with pytest.raises(TransformCheckError, match=r"not_null_fct_call_metrics_daily \(1 rows\)"):
        run_transforms(execute)
    assert_equals_full_rebuild(raw_db)


def test_an_edit_that_moves_a_call_far_is_refreshed_like_a_full_rebuild(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """c01 (+13125550001, 2024-03-10 05:50 UTC) is a repeat call: c04, the same digits, comes
    2 h 20 min later. An edit moves c04 ten days later, past the 168 h window: c01 stops being a
    repeat call although c01 itself did not change. Only c04's old start time is near c01, so
    the refresh must look around both of c04's versions, not only where it is now."""
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    assert fetch(
        raw_db, "SELECT is_repeat_call FROM analytics.fct_calls WHERE call_id = 'c01'"
    ) == [(True,)]
    raw_db.execute(
        "UPDATE hostedsuite.calls SET start_time = start_time + INTERVAL 10 DAY, "
        "start_time_local = start_time_local + INTERVAL 10 DAY WHERE id = 'c04'"
    )
    stamp_load(raw_db, "load2", ["c04"])
    result = run_transforms(execute)
    # c04's old row lies ten days before the range its new start time gives: the refresh that
    # searched fct_calls in that range kept it, and was redone with the rows searched by id
    assert (result.refresh, result.searched_by_id) == ("incremental", True)
    assert "  a changed call's start time moved: the marts were searched by call id" in (
        format_summary(result)
    )
    assert fetch(
        raw_db, "SELECT start_time_utc FROM analytics.fct_calls WHERE call_id = 'c04'"
    ) == [(datetime(2024, 3, 20, 8, 10, tzinfo=UTC),)]
    assert fetch(
        raw_db, "SELECT is_repeat_call FROM analytics.fct_calls WHERE call_id = 'c01'"
    ) == [(False,)]
    assert_equals_full_rebuild(raw_db)


def test_a_day_finding_stays_while_other_days_are_refreshed(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """A refresh checks the day tables over its own center-days and replaces only their
    findings: c08's day-keyed finding (no local date) stays while c05's day (C1 2024-03-10) is
    refreshed, and the findings carry the day they are about."""
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    raw_db.execute("UPDATE hostedsuite.calls SET start_time_local = NULL WHERE id = 'c08'")
    stamp_load(raw_db, "load2", ["c08"])
    with pytest.raises(TransformCheckError):
        run_transforms(execute)
    raw_db.execute("UPDATE hostedsuite.calls SET talk_time_in_seconds = 77 WHERE id = 'c05'")
    stamp_load(raw_db, "load3", ["c05"])
    with pytest.raises(TransformCheckError, match=r"not_null_fct_call_metrics_daily \(1 rows\)"):
        run_transforms(execute)
    findings = fetch(
        raw_db,
        "SELECT center_id, local_date FROM analytics.dq_findings "
        "WHERE check_name = 'not_null_fct_call_metrics_daily'",
    )
    assert findings == [("C1", None)]
    assert_equals_full_rebuild(raw_db)


def test_a_call_without_a_start_time_is_refreshed_like_a_full_rebuild(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """The refresh finds the rebuilt calls' center-days in fct_calls within the scope's range of
    start times; a call without one (a grain-check error) is searched for apart. c08 loses its
    start time in load2, then moves to the other center in load3: its old center-day (C1, no
    date) must be replaced too."""
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    raw_db.execute(
        "UPDATE hostedsuite.calls SET start_time = NULL, start_time_local = NULL WHERE id = 'c08'"
    )
    stamp_load(raw_db, "load2", ["c08"])
    with pytest.raises(TransformCheckError):
        run_transforms(execute)
    raw_db.execute("UPDATE hostedsuite.calls SET center_id = 'C2' WHERE id = 'c08'")
    stamp_load(raw_db, "load3", ["c08"])
    with pytest.raises(TransformCheckError):
        run_transforms(execute)
    days = fetch(
        raw_db,
        "SELECT center_id, local_date FROM analytics.fct_call_metrics_daily "
        "WHERE local_date IS NULL ORDER BY center_id",
    )
    assert days == [("C2", None)]
    assert_equals_full_rebuild(raw_db)


def test_held_calls_edited_later_are_refreshed_like_a_full_rebuild(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """c02 (held twice) and c07 (held once) are edited in load2: the refresh rebuilds their hold
    segments (the models after int_hold_segments read its new rows), and c02 loses one hold."""
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    held = "SELECT call_id, count(*) FROM analytics.fct_hold_segments GROUP BY 1 ORDER BY 1"
    assert fetch(raw_db, held) == [("c02", 2), ("c07", 1)]
    raw_db.execute(
        "UPDATE hostedsuite.calls SET talk_time_in_seconds = 55 WHERE id IN ('c02', 'c07')"
    )
    # c02's second Hold and its Retrieved (seq 3 and 4 of raw_fixture.INTERACTIONS) go: one
    # segment is left
    raw_db.execute(
        "DELETE FROM hostedsuite.calls__interactions WHERE call_id = 'c02' AND seq IN (3, 4)"
    )
    stamp_load(raw_db, "load2", ["c02", "c07"])
    refreshed = run_transforms(execute)
    assert (refreshed.refresh, refreshed.calls_rebuilt) == ("incremental", 2)
    assert fetch(raw_db, held) == [("c02", 1), ("c07", 1)]
    assert_equals_full_rebuild(raw_db)


def test_a_held_call_timed_days_from_its_events_is_refreshed_like_a_full_rebuild(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """c07's interactions (a hold among them) are moved 30 days after the call in load2, then
    the call is edited in load3. Its rows of interactions and holds then lie far outside the
    scope's range of start times (c07's start and the 168 h repeat window around it), where
    the refresh's deletes read: they must be found apart, or the refresh keeps both versions."""
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    raw_db.execute(
        "UPDATE hostedsuite.calls__interactions SET start_time = start_time + INTERVAL 30 DAY, "
        "start_time_local = start_time_local + INTERVAL 30 DAY WHERE call_id = 'c07'"
    )
    stamp_load(raw_db, "load2", ["c07"])
    run_transforms(execute)
    raw_db.execute("UPDATE hostedsuite.calls SET talk_time_in_seconds = 44 WHERE id = 'c07'")
    stamp_load(raw_db, "load3", ["c07"])
    refreshed = run_transforms(execute)
    assert (refreshed.refresh, refreshed.calls_rebuilt) == ("incremental", 1)
    # raw_fixture.INTERACTIONS: c07 has 4 events, one hold (Hold at 50 s, Retrieved at 65 s)
    counts = (
        "SELECT (SELECT count(*) FROM analytics.fct_call_interactions WHERE call_id = 'c07'), "
        "(SELECT count(*) FROM intermediate.int_hold_segments WHERE call_id = 'c07'), "
        "(SELECT count(*) FROM analytics.fct_hold_segments WHERE call_id = 'c07')"
    )
    assert fetch(raw_db, counts) == [(4, 1, 1)]
    # 2024-03-10 15:14:00 + 30 days + 50 s
    assert fetch(
        raw_db, "SELECT hold_started_at_utc FROM analytics.fct_hold_segments WHERE call_id = 'c07'"
    ) == [(datetime(2024, 4, 9, 15, 14, 50, tzinfo=UTC),)]
    assert_equals_full_rebuild(raw_db)


def test_interactions_hours_after_their_call_beyond_a_short_repeat_window_are_refreshed(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """With a 1 h repeat window the scope's range of start times ends an hour after c07's start;
    its Hangup, moved 5 h after the call in load2, lies beyond it but within the day the
    refresh also reads around the range for the calls' interactions and holds."""
    execute = DuckDBExecutor(raw_db)
    settings = MetricSettings(repeat_call_window_hours=1)
    run_transforms(execute, settings=settings)
    raw_db.execute(
        "UPDATE hostedsuite.calls__interactions SET start_time = start_time + INTERVAL 5 HOUR, "
        "start_time_local = start_time_local + INTERVAL 5 HOUR "
        "WHERE call_id = 'c07' AND type = 'Hangup'"
    )
    stamp_load(raw_db, "load2", ["c07"])
    run_transforms(execute, settings=settings)
    raw_db.execute("UPDATE hostedsuite.calls SET talk_time_in_seconds = 44 WHERE id = 'c07'")
    stamp_load(raw_db, "load3", ["c07"])
    assert run_transforms(execute, settings=settings).refresh == "incremental"
    # 95 s after the call, then 5 h later: 18,095 s
    assert fetch(
        raw_db,
        "SELECT offset_seconds FROM analytics.fct_call_interactions "
        "WHERE call_id = 'c07' AND interaction_type = 'Hangup'",
    ) == [(18_095.0,)]
    assert_equals_full_rebuild(raw_db, settings)


def test_interactions_loaded_before_their_call_are_replaced_when_it_comes(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """c07's call row is missing at first: its 4 interactions are in the marts without an
    offset. When the row comes (load2), c07 is new to fct_calls, but its interactions and its
    hold are not: the refresh must replace them, not add a second set (which the uniqueness
    checks of a refresh, reading its new rows, would not see)."""
    c07 = next(row for row in CALLS if row[0] == "c07")
    raw_db.execute("DELETE FROM hostedsuite.calls WHERE id = 'c07'")
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute)
    counts = (
        "SELECT (SELECT count(*) FROM analytics.fct_call_interactions WHERE call_id = 'c07'), "
        "(SELECT count(offset_seconds) FROM analytics.fct_call_interactions "
        "WHERE call_id = 'c07'), "
        "(SELECT count(*) FROM intermediate.int_hold_segments WHERE call_id = 'c07')"
    )
    assert fetch(raw_db, counts) == [(4, 0, 1)]
    insert_call(raw_db, c07, "hostedsuite")
    stamp_load(raw_db, "load2", ["c07"])
    refreshed = run_transforms(execute)
    assert (refreshed.refresh, refreshed.calls_rebuilt) == ("incremental", 1)
    assert fetch(raw_db, counts) == [(4, 4, 1)]
    assert_equals_full_rebuild(raw_db)
