"""The marts against values worked out by hand from ``raw_fixture.CALLS`` (default settings).

Every expected row below was computed on paper from the call list, not by running the SQL:
the comment above each block shows the arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb

from transforms import DuckDBExecutor, run_transforms

from .conftest import expect, fetch

D9, D10, D18 = date(2024, 3, 9), date(2024, 3, 10), date(2024, 3, 18)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DAILY_COLUMNS = (
    "client_id, center_id, local_date, direction, calls_offered, calls_answered, calls_abandoned, "
    "calls_short_abandoned, calls_within_service_level, service_level_pct, "
    "avg_speed_of_answer_seconds, handle_seconds_total, avg_handle_time_seconds, "
    "talk_seconds_total, avg_talk_seconds, calls_held, hold_rate_pct, hold_seconds_total, "
    "avg_hold_seconds, max_hold_seconds, calls_transferred, transfer_rate_pct, calls_flagged, "
    "forms_completed, calls_repeated, repeat_call_rate_pct"
)
MEASURES = DAILY_COLUMNS.split("direction, ", 1)[1]

# Measures (offered, answered, abandoned, short, within, SL%, ASA, handle total, AHT, talk total,
# avg talk, held, hold rate, hold total, avg hold, max hold, transferred, transfer rate, flagged,
# forms, repeated, repeat rate) of the groups the daily and interval tables share.
ONLY_C01 = (1, 1, 0, 0, 1, 100.0, 10.0, 120, 120.0, 100, 100.0, 0, 0.0, 0, None, 0.0,
            0, 0.0, 0, 0, 1, 100.0)  # fmt: skip
ONLY_C06 = (1, 1, 0, 0, 0, None, None, 130, 130.0, 120, 120.0, 0, 0.0, 0, None, 0.0,
            0, 0.0, 0, 0, 0, 0.0)  # fmt: skip
ONLY_C08 = (1, 1, 0, 0, 1, 100.0, 4.0, 55, 55.0, 50, 50.0, 0, 0.0, 0, None, 0.0,
            0, 0.0, 0, 0, 0, 0.0)  # fmt: skip

EXPECTED_DAILY = [
    ("K1", "C1", D9, "Incoming", *ONLY_C01),
    # c02 c03 c04 c05 c07: answered c02 c05 c07; abandoned c04 (ring 30); short c03 (ring 3);
    # within c05 (5) c07 (20 <= 20), not c02 (25) -> SL 2/(3+1) = 50 %; ASA (25+5+20)/3;
    # handle 290+300+75 = 665; talk 200+300+60 = 560; held c02 c07 -> 2/3; hold 60+15 = 75,
    # avg 37.5, max 60; transferred c05 -> 1/3; flagged c07; forms 2; no repeat (c08 is 191 h on)
    ("K1", "C1", D10, "Incoming", 5, 3, 1, 1, 2, 50.0, 50 / 3, 665, 665 / 3, 560, 560 / 3,
     2, 200 / 3, 75, 37.5, 60.0, 1, 100 / 3, 1, 2, 0, 0.0),
    # c06 outgoing: incoming-only measures NULL
    ("K1", "C1", D10, "Outgoing", *ONLY_C06),
    ("K1", "C1", D18, "Incoming", *ONLY_C08),
    # k01..k04: answered k01 k03; abandoned k02 (6); short k04 (1); SL 2/(2+1); ASA (12+2)/2;
    # handle 330+105; talk 240+90; held k01 -> 1/2; hold 30; forms 1; repeated k02 -> 1/2
    ("K2", "C2", D10, "Incoming", 4, 2, 1, 1, 2, 200 / 3, 7.0, 435, 217.5, 330, 165.0,
     1, 50.0, 30, 30.0, 30.0, 0, 0.0, 0, 1, 1, 50.0),
]  # fmt: skip

NOTHING_ANSWERED = (0, None, 0, None, 0, None, 0, None, None, 0, None, 0, 0, 0, None)
EXPECTED_INTERVAL = [
    # c01 at 23:50 CST on the 9th
    ("C1", ts("2024-03-09 23:45"), "Incoming", D9, 15, *ONLY_C01),
    # c02 at 00:05 CST: ring 25 is outside the 20 s threshold -> SL 0/(1+0) = 0 %
    ("C1", ts("2024-03-10 00:00"), "Incoming", D10, 15, 1, 1, 0, 0, 0, 0.0, 25.0, 290, 290.0,
     200, 200.0, 1, 100.0, 60, 60.0, 60.0, 0, 0.0, 0, 0, 0, 0.0),
    # c03 at 01:55 CST (before the change), short abandon: SL denominator 0 -> NULL
    ("C1", ts("2024-03-10 01:45"), "Incoming", D10, 15, 1, 0, 0, 1, 0, None, None,
     *NOTHING_ANSWERED),
    # c04 at 03:10 CDT (after the change), abandoned: SL 0/(0+1) = 0 %
    ("C1", ts("2024-03-10 03:00"), "Incoming", D10, 15, 1, 0, 1, 0, 0, 0.0, None,
     *NOTHING_ANSWERED),
    # c05 10:00 and c07 10:14 CDT: ASA (5+20)/2; handle 300+75; talk 300+60; held c07;
    # transferred c05; flagged c07 with 2 forms
    ("C1", ts("2024-03-10 10:00"), "Incoming", D10, 15, 2, 2, 0, 0, 2, 100.0, 12.5, 375, 187.5,
     360, 180.0, 1, 50.0, 15, 15.0, 15.0, 1, 50.0, 1, 2, 0, 0.0),
    ("C1", ts("2024-03-10 10:00"), "Outgoing", D10, 15, *ONLY_C06),
    ("C1", ts("2024-03-18 00:00"), "Incoming", D18, 15, *ONLY_C08),
    # k01 09:00 (answered, held 30) and k02 09:10 IST (abandoned, repeated by k03)
    ("C2", ts("2024-03-10 09:00"), "Incoming", D10, 15, 2, 1, 1, 0, 1, 50.0, 12.0, 330, 330.0,
     240, 240.0, 1, 100.0, 30, 30.0, 30.0, 0, 0.0, 0, 0, 1, 100.0),
    # k03 09:20 IST, one form
    ("C2", ts("2024-03-10 09:15"), "Incoming", D10, 15, 1, 1, 0, 0, 1, 100.0, 2.0, 105, 105.0,
     90, 90.0, 0, 0.0, 0, None, 0.0, 0, 0.0, 0, 1, 0, 0.0),
    # k04 23:59 IST, short abandon
    ("C2", ts("2024-03-10 23:45"), "Incoming", D10, 15, 1, 0, 0, 1, 0, None, None,
     *NOTHING_ANSWERED),
]  # fmt: skip

AGENT_COLUMNS = (
    "agent, center_id, local_date, calls_handled, talk_seconds_total, hold_seconds_total, "
    "work_seconds_total, handle_seconds_total, avg_handle_time_seconds, calls_held, "
    "hold_rate_pct, calls_transferred"
)
EXPECTED_AGENTS = [
    ("alice", "C1", D9, 1, 100, 0, 20, 120, 120.0, 0, 0.0, 0),  # c01
    ("alice", "C1", D10, 2, 260, 75, 30, 365, 182.5, 2, 100.0, 0),  # c02 c07
    ("alice", "C1", D18, 1, 50, 0, 5, 55, 55.0, 0, 0.0, 0),  # c08
    ("bob", "C1", D10, 2, 420, 0, 10, 430, 215.0, 0, 0.0, 1),  # c05 c06 (outgoing counts)
    ("chandra", "C2", D10, 2, 330, 30, 75, 435, 217.5, 1, 50.0, 0),  # k01 k03
]

CALL_COLUMNS = (
    "call_id, direction, agent, local_date, interval_start_local, is_answered, is_abandoned, "
    "is_short_abandon, is_within_service_level, is_transferred, is_flagged, is_repeat_call, "
    "speed_of_answer_seconds, handle_time_seconds, hold_ratio, forms_completed"
)
T, F = True, False
EXPECTED_CALLS = [
    ("c01", "Incoming", "alice", D9, ts("2024-03-09 23:45"), T, F, F, T, F, F, T, 10.0, 120.0,
     0.0, 0),  # repeated by c04 ("+1 312-555-0001") 2 h 20 min later
    ("c02", "Incoming", "alice", D10, ts("2024-03-10 00:00"), T, F, F, F, F, F, F, 25.0, 290.0,
     60 / 260, 0),
    ("c03", "Incoming", None, D10, ts("2024-03-10 01:45"), F, F, T, F, F, F, F, None, None,
     None, 0),
    ("c04", "Incoming", None, D10, ts("2024-03-10 03:00"), F, T, F, F, F, F, F, None, None,
     None, 0),
    ("c05", "Incoming", "bob", D10, ts("2024-03-10 10:00"), T, F, F, T, T, F, F, 5.0, 300.0,
     0.0, 0),
    ("c06", "Outgoing", "bob", D10, ts("2024-03-10 10:00"), T, F, F, F, F, F, F, None, 130.0,
     0.0, 0),
    ("c07", "Incoming", "alice", D10, ts("2024-03-10 10:00"), T, F, F, T, F, T, F, 20.0, 75.0,
     0.2, 2),
    ("c08", "Incoming", "alice", D18, ts("2024-03-18 00:00"), T, F, F, T, F, F, F, 4.0, 55.0,
     0.0, 0),
    ("k01", "Incoming", "chandra", D10, ts("2024-03-10 09:00"), T, F, F, T, F, F, F, 12.0,
     330.0, 30 / 270, 0),
    ("k02", "Incoming", None, D10, ts("2024-03-10 09:00"), F, T, F, F, F, F, T, None, None,
     None, 0),
    ("k03", "Incoming", "chandra", D10, ts("2024-03-10 09:15"), T, F, F, T, F, F, F, 2.0, 105.0,
     0.0, 1),
    ("k04", "Incoming", None, D10, ts("2024-03-10 23:45"), F, F, T, F, F, F, F, None, None,
     None, 0),
]  # fmt: skip


def test_fct_calls(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    got = fetch(raw_db, f"SELECT {CALL_COLUMNS} FROM analytics.fct_calls ORDER BY call_id")
    assert got == expect(EXPECTED_CALLS)
    times = raw_db.execute(
        "SELECT start_time_utc, start_time_local, ring_seconds, talk_seconds, hold_seconds, "
        "transfer_seconds, work_seconds, duration_seconds, hold_count, caller_number "
        "FROM analytics.fct_calls WHERE call_id = 'c01'"
    ).fetchone()
    assert times is not None
    assert times[0] == datetime(2024, 3, 10, 5, 50, tzinfo=UTC)
    assert times[1:] == (ts("2024-03-09 23:50"), 10, 100, 0, 0, 20, 110, 0, "+13125550001")


def test_daily_metrics(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    got = fetch(
        raw_db, f"SELECT {DAILY_COLUMNS} FROM analytics.fct_call_metrics_daily ORDER BY ALL"
    )
    assert got == expect(EXPECTED_DAILY)


def test_interval_metrics(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    got = fetch(
        raw_db,
        "SELECT center_id, interval_start_local, direction, local_date, interval_minutes, "
        f"{MEASURES} FROM analytics.fct_call_metrics_interval ORDER BY 1, 2, 3",
    )
    assert got == expect(EXPECTED_INTERVAL)
    # the interval start as an instant: CST is UTC-6, CDT UTC-5 (from 03-10 03:00), IST UTC+5:30
    starts = fetch(
        raw_db,
        "SELECT center_id, interval_start_local, direction, interval_start_utc "
        "FROM analytics.fct_call_metrics_interval ORDER BY 1, 2, 3",
    )
    assert [(r[0], r[1], r[2]) for r in starts] == [(r[0], r[1], r[2]) for r in EXPECTED_INTERVAL]
    assert [r[3] for r in starts] == [
        utc("2024-03-10 05:45"),  # 03-09 23:45 CST
        utc("2024-03-10 06:00"),  # 00:00 CST
        utc("2024-03-10 07:45"),  # 01:45 CST
        utc("2024-03-10 08:00"),  # 03:00 CDT
        utc("2024-03-10 15:00"),  # 10:00 CDT, incoming
        utc("2024-03-10 15:00"),  # 10:00 CDT, outgoing
        utc("2024-03-18 05:00"),  # 03-18 00:00 CDT
        utc("2024-03-10 03:30"),  # 09:00 IST
        utc("2024-03-10 03:45"),  # 09:15 IST
        utc("2024-03-10 18:15"),  # 23:45 IST
    ]


def test_agent_metrics(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    got = fetch(
        raw_db, f"SELECT {AGENT_COLUMNS} FROM analytics.fct_agent_metrics_daily ORDER BY 1, 2, 3"
    )
    assert got == expect(EXPECTED_AGENTS)


def test_interactions_and_hold_segments(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    got = fetch(
        raw_db,
        "SELECT seq, interaction_type, offset_seconds, seconds_to_next "
        "FROM analytics.fct_call_interactions WHERE call_id = 'c02' ORDER BY seq",
    )
    assert got == [
        (0, "Answer", 25.0, 35.0),
        (1, "Hold", 60.0, 20.0),
        (2, "Retrieved", 80.0, 40.0),
        (3, "Hold", 120.0, 40.0),
        (4, "Retrieved", 160.0, 125.0),
        (5, "Hangup", 285.0, None),
    ]
    holds = fetch(
        raw_db,
        "SELECT call_id, hold_seq, hold_seconds, ended_by, start_interaction_seq, "
        "end_interaction_seq FROM analytics.fct_hold_segments ORDER BY 1, 2",
    )
    assert holds == [
        ("c02", 1, 20.0, "Retrieved", 1, 2),
        ("c02", 2, 40.0, "Retrieved", 3, 4),
        ("c07", 1, 15.0, "Retrieved", 1, 2),
    ]
    transfers = fetch(
        raw_db,
        "SELECT transfer_attempts, transfers_completed, transfers_stopped "
        "FROM analytics.fct_calls WHERE call_id = 'c05'",
    )
    assert transfers == [(1, 1, 0)]


def test_tombstone_child_rows_are_excluded(raw_db: duckdb.DuckDBPyConnection) -> None:
    # 12 tombstones sit in each child table beside 16 interactions and 3 forms
    result = run_transforms(DuckDBExecutor(raw_db))
    assert result.row_counts["fct_call_interactions"] == 16
    assert fetch(raw_db, "SELECT sum(forms_completed) FROM analytics.fct_calls") == [(3,)]
    assert fetch(
        raw_db, "SELECT count(*) FROM analytics.fct_call_interactions WHERE seq IS NULL"
    ) == [(0,)]


def test_child_tables_without_tombstone_column(raw_db: duckdb.DuckDBPyConnection) -> None:
    # A destination that applied the hard deletes may never have created the column.
    for table in ("calls__interactions", "calls__completed_form_ids"):
        raw_db.execute(f"DELETE FROM hostedsuite.{table} WHERE is_tombstone")
        raw_db.execute(f"ALTER TABLE hostedsuite.{table} DROP COLUMN is_tombstone")
    result = run_transforms(DuckDBExecutor(raw_db))
    assert result.row_counts["fct_call_interactions"] == 16
    assert fetch(raw_db, "SELECT sum(forms_completed) FROM analytics.fct_calls") == [(3,)]


def test_dimensions_and_settings_table(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    assert fetch(
        raw_db,
        "SELECT center_id, center_name, city, time_zone_id, iana_time_zone "
        "FROM analytics.dim_centers ORDER BY 1",
    ) == [
        # the unknown member is always there, for calls sent without a CenterId
        ("(unknown)", "Unknown center", None, None, None),
        ("C1", "Chicago Center", "Chicago", "Central Standard Time", "America/Chicago"),
        ("C2", "Kolkata Center", "Kolkata", "Asia/Kolkata", "Asia/Kolkata"),
    ]
    assert fetch(
        raw_db, "SELECT client_id, client_name, center_id FROM analytics.dim_clients ORDER BY 1"
    ) == [
        ("(unknown)", "Unknown client", "(unknown)"),
        ("K1", "Windy HVAC", "C1"),
        ("K2", "Bengal Tea", "C2"),
    ]
    assert fetch(
        raw_db, "SELECT setting_name, setting_value FROM analytics.metric_settings ORDER BY 1"
    ) == [
        ("interval_minutes", "15"),
        ("max_occupancy_pct", "85"),
        ("repeat_call_window_hours", "168"),
        ("service_level_formula", "answered_and_abandoned"),
        ("service_level_target_pct", "80"),
        ("service_level_threshold_seconds", "20"),
        ("short_abandon_threshold_seconds", "5"),
        ("shrinkage_pct", "30"),
    ]
