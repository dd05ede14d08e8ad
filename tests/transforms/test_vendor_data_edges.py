"""Edge cases of the vendor's data ("exact at the edges"), each worked out by hand.

Every test adds a few calls to the 12 of ``raw_fixture`` (``vendor_calls.py``). The keys the API
left empty are in ``test_vendor_missing_keys.py``.
"""

from __future__ import annotations

from datetime import date

import duckdb

from transforms import DuckDBExecutor, run_transforms
from transforms.project import CHECKS_DIR, render

from .conftest import expect, fetch
from .raw_fixture import insert_interactions
from .vendor_calls import add, call, ts, utc

# --- the answered rule: AnsweredBy non-empty, fallback talk time > 0 ------------------------


def test_empty_answered_by_with_talk_is_answered(raw_db: duckdb.DuckDBPyConnection) -> None:
    # 2024-03-12 10:00 / 10:05 CDT. a01: AnsweredBy "" but 40 s of talk -> answered by the
    # fallback, no agent; ring 8 <= 20 -> within service level; handle 40 (no hold, no work).
    # a02: AnsweredBy "   ", no talk, ring 7 >= 5 -> abandoned.
    add(
        raw_db,
        call("a01", "2024-03-12 15:00:00", agent="", ring=8, talk=40),
        call("a02", "2024-03-12 15:05:00", agent="   ", ring=7),
    )
    run_transforms(DuckDBExecutor(raw_db))
    assert fetch(
        raw_db,
        "SELECT call_id, agent, is_answered, is_abandoned, is_short_abandon, "
        "is_within_service_level, speed_of_answer_seconds, handle_time_seconds "
        "FROM analytics.fct_calls WHERE call_id IN ('a01', 'a02') ORDER BY 1",
    ) == [
        ("a01", None, True, False, False, True, 8.0, 40.0),
        ("a02", None, False, True, False, False, None, None),
    ]
    # offered 2, answered 1 (a01), abandoned 1 (a02): SL 1/(1+1) = 50 %, ASA 8/1, handle 40
    assert fetch(
        raw_db,
        "SELECT calls_offered, calls_answered, calls_abandoned, calls_within_service_level, "
        "service_level_pct, avg_speed_of_answer_seconds, handle_seconds_total "
        "FROM analytics.fct_call_metrics_daily WHERE local_date = '2024-03-12'",
    ) == [(2, 1, 1, 1, 50.0, 8.0, 40.0)]
    # answered without an agent: counted above, absent from the agent mart
    assert fetch(
        raw_db,
        "SELECT count(*) FROM analytics.fct_agent_metrics_daily WHERE local_date = '2024-03-12'",
    ) == [(0,)]


# --- 6. impossible holds ---------------------------------------------------------------------

HOLD_COLUMNS = (
    "call_id, hold_seq, hold_started_at_utc, hold_ended_at_utc, hold_seconds, ended_by, "
    "start_interaction_seq, end_interaction_seq"
)


def test_hold_after_hangup_opens_no_segment(raw_db: duckdb.DuckDBPyConnection) -> None:
    # h01 hangs up at +100 s; a Hold listed after the Hangup (+110 s) is not a hold. Closed at
    # the call end (+100 s) it used to make a hold of -10 s.
    row = call("h01", "2024-03-13 15:00:00", talk=95)
    add(raw_db, row)
    insert_interactions(raw_db, row, [(5, "Answer"), (100, "Hangup"), (110, "Hold")])
    result = run_transforms(DuckDBExecutor(raw_db))
    assert fetch(raw_db, "SELECT * FROM analytics.fct_hold_segments WHERE call_id = 'h01'") == []
    assert fetch(
        raw_db,
        "SELECT interaction_count, derived_hold_count, derived_hold_seconds "
        "FROM analytics.fct_calls WHERE call_id = 'h01'",
    ) == [(3, 0, 0.0)]
    assert result.failed_checks == []


def test_open_hold_without_a_usable_call_end(raw_db: duckdb.DuckDBPyConnection) -> None:
    # Each call is answered at +5 s and put on hold at +50 s, and nothing ends the hold: it is
    # closed at StartTime + DurationInSeconds when that is known and not before the hold.
    # h02: duration NULL -> end unknown (it used to be the call start: -50 s)
    # h03: duration 30 s, before the hold started -> end unknown (it used to be -20 s)
    # h04: duration 80 s -> ends 15:31:20, 30 s after the hold started
    h02 = call("h02", "2024-03-13 15:10:00", talk=100, hold_count=1)
    h03 = call("h03", "2024-03-13 15:20:00", talk=25, hold_count=1)
    h04 = call("h04", "2024-03-13 15:30:00", talk=45, hold=30, hold_count=1)
    add(raw_db, h02, h03, h04)
    raw_db.execute("UPDATE hostedsuite.calls SET duration_in_seconds = NULL WHERE id = 'h02'")
    for row in (h02, h03, h04):
        insert_interactions(raw_db, row, [(5, "Answer"), (50, "Hold")])
    result = run_transforms(DuckDBExecutor(raw_db))
    assert fetch(
        raw_db,
        f"SELECT {HOLD_COLUMNS} FROM analytics.fct_hold_segments "
        "WHERE call_id LIKE 'h%' ORDER BY 1, 2",
    ) == [
        ("h02", 1, utc("2024-03-13 15:10:50"), None, None, "CallEnd", 1, None),
        ("h03", 1, utc("2024-03-13 15:20:50"), None, None, "CallEnd", 1, None),
        ("h04", 1, utc("2024-03-13 15:30:50"), utc("2024-03-13 15:31:20"), 30.0, "CallEnd", 1,
         None),
    ]  # fmt: skip
    # a hold of unknown length makes the call's derived hold length unknown, not 0
    assert fetch(
        raw_db,
        "SELECT call_id, derived_hold_count, derived_hold_seconds FROM analytics.fct_calls "
        "WHERE call_id LIKE 'h%' ORDER BY 1",
    ) == [("h02", 1, None), ("h03", 1, None), ("h04", 1, 30.0)]
    # h02's NULL duration reconciles with nothing; nothing else disagrees
    assert result.failed_checks == []


def test_negative_event_times_are_a_warning(raw_db: duckdb.DuckDBPyConnection) -> None:
    # q01 as the vendor recorded it: Answer 3 s before the call's StartTime, then Hold at +20 s
    # and Retrieved at +10 s (listed after it, timed before it), Hangup at +60 s.
    # seconds_to_next: 23, -10, 50, NULL; the hold Hold -> Retrieved lasts -10 s.
    row = call("q01", "2024-03-14 15:00:00", talk=55, hold_count=1)
    add(raw_db, row)
    insert_interactions(raw_db, row, [(-3, "Answer"), (20, "Hold"), (10, "Retrieved"),
                                      (60, "Hangup")])  # fmt: skip
    result = run_transforms(DuckDBExecutor(raw_db))
    assert result.errors == []
    # hold_reconciles too: the vendor's 0 s of hold against the derived -10 s
    assert sorted((c.check_name, c.failing_rows) for c in result.warnings) == [
        ("hold_reconciles", 1),
        ("non_negative_event_times", 3),
    ]
    assert fetch(
        raw_db,
        "SELECT severity, table_name, record_key, call_id, details FROM analytics.dq_findings "
        "WHERE check_name = 'non_negative_event_times' ORDER BY 2, 3",
    ) == [
        ("warn", "fct_call_interactions", "q01|0", "q01", "offset_seconds=-3.0"),
        ("warn", "fct_call_interactions", "q01|1", "q01", "seconds_to_next=-10.0"),
        ("warn", "fct_hold_segments", "q01|1", "q01", "hold_seconds=-10.0 (ended by Retrieved)"),
    ]


def test_negative_hold_closed_at_call_end_is_an_error(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    # A hold the SQL closed at the call's end can only be negative if the SQL is wrong: the
    # check is an error. Its query is run on a hold segment made negative by hand.
    row = call("h04", "2024-03-13 15:30:00", talk=45, hold=30, hold_count=1)
    add(raw_db, row)
    insert_interactions(raw_db, row, [(5, "Answer"), (50, "Hold")])
    run_transforms(DuckDBExecutor(raw_db))
    assert fetch(
        raw_db,
        "SELECT severity, table_name, failing_rows FROM analytics.dq_summary "
        "WHERE check_name = 'non_negative_call_end_holds'",
    ) == [("error", "fct_hold_segments", 0)]
    raw_db.execute(
        "UPDATE analytics.fct_hold_segments SET hold_seconds = -30 WHERE call_id = 'h04'"
    )
    # rendered as in a full rebuild: every hold segment is checked
    sql = render(
        (CHECKS_DIR / "non_negative_call_end_holds.sql").read_text(encoding="utf-8"), "", {}
    )
    assert fetch(raw_db, sql) == [
        ("fct_hold_segments", "h04|1", "h04", "hold_seconds=-30.0 (ended by CallEnd)")
    ]


# --- 8. the DST fall-back day in fct_call_metrics_interval -----------------------------------


def test_fall_back_hours_are_distinct_intervals(raw_db: duckdb.DuckDBPyConnection) -> None:
    # Chicago, 2024-11-03: 01:10 CDT = 06:10 UTC (f01, answered, ring 4), then the clocks go
    # back and 01:10 CST = 07:10 UTC (f02, abandoned, ring 9). Both are in the local 01:00
    # interval, but in different real quarter hours: 06:00 and 07:00 UTC.
    add(
        raw_db,
        call("f01", "2024-11-03 06:10:00", agent="alice", ring=4, talk=60),
        call("f02", "2024-11-03 07:10:00", agent=None, ring=9),
    )
    run_transforms(DuckDBExecutor(raw_db))
    # two rows, not one row of 2 calls
    assert fetch(
        raw_db,
        "SELECT interval_start_local, calls_offered FROM analytics.fct_call_metrics_interval "
        "WHERE local_date = '2024-11-03' ORDER BY ALL",
    ) == [(ts("2024-11-03 01:00"), 1), (ts("2024-11-03 01:00"), 1)]
    assert fetch(
        raw_db,
        "SELECT call_id, start_time_local, interval_start_local, interval_start_utc "
        "FROM analytics.fct_calls WHERE call_id LIKE 'f%' ORDER BY 1",
    ) == [
        ("f01", ts("2024-11-03 01:10"), ts("2024-11-03 01:00"), utc("2024-11-03 06:00")),
        ("f02", ts("2024-11-03 01:10"), ts("2024-11-03 01:00"), utc("2024-11-03 07:00")),
    ]
    assert fetch(
        raw_db,
        "SELECT center_id, interval_start_local, interval_start_utc, direction, local_date, "
        "calls_offered, calls_answered, calls_abandoned, avg_speed_of_answer_seconds "
        "FROM analytics.fct_call_metrics_interval "
        "WHERE local_date = '2024-11-03' ORDER BY interval_start_utc",
    ) == [
        ("C1", ts("2024-11-03 01:00"), utc("2024-11-03 06:00"), "Incoming", date(2024, 11, 3),
         1, 1, 0, 4.0),
        ("C1", ts("2024-11-03 01:00"), utc("2024-11-03 07:00"), "Incoming", date(2024, 11, 3),
         1, 0, 1, None),
    ]  # fmt: skip
    # the staffing mart keeps the two apart too: f01 alone is 60 s of work in 15 min
    # (1/15 Erlang: 1 agent, whose wait probability is the load), f02 has no handle time
    assert fetch(
        raw_db,
        "SELECT interval_start_utc, calls_offered, offered_load_erlangs, agents_required, "
        "agents_observed, is_understaffed FROM analytics.fct_staffing_interval "
        "WHERE local_date = '2024-11-03' ORDER BY interval_start_utc",
    ) == expect(
        [
            (utc("2024-11-03 06:00"), 1, 60 / 900, 1, 1, False),
            (utc("2024-11-03 07:00"), 1, None, None, 0, None),
        ]
    )
    # the daily mart is by local day: one row for both
    assert fetch(
        raw_db,
        "SELECT calls_offered, calls_answered, calls_abandoned "
        "FROM analytics.fct_call_metrics_daily WHERE local_date = '2024-11-03'",
    ) == [(2, 1, 1)]


# --- 9. duration_reconciles -------------------------------------------------------------------


def test_null_duration_is_not_a_duration_mismatch(raw_db: duckdb.DuckDBPyConnection) -> None:
    # ring 5 + talk 50 = 55 and no DurationInSeconds: nothing to compare (it used to be
    # reported as "duration_seconds=0 but ... 55")
    add(raw_db, call("n01", "2024-03-11 15:00:00", talk=50))
    raw_db.execute("UPDATE hostedsuite.calls SET duration_in_seconds = NULL WHERE id = 'n01'")
    result = run_transforms(DuckDBExecutor(raw_db))
    assert result.failed_checks == []
    assert fetch(raw_db, "SELECT count(*) FROM analytics.dq_findings") == [(0,)]
