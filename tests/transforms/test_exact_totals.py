"""Totals of seconds are exact, whatever the order the rows are added in.

Ten answered calls of 0.1 s talk each: 10 × 0.1 s is 1.0 s. Added as doubles, in any order,
they give 0.9999999999999999, and an incremental refresh that adds rows in another order than
a full rebuild would differ from it in the last bits. Every duration total of the marts is
summed exactly (as decimals), so the totals below are 1.0 to the bit.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from transforms import DuckDBExecutor, run_transforms

from .raw_fixture import create_raw_tables

TENTHS = """
INSERT INTO hostedsuite.calls (id, client_id, center_id, start_time, start_time_local,
    caller_number, duration_in_seconds, ring_time_in_seconds, hold_time_in_seconds, hold_count,
    answered_by, talk_time_in_seconds, transfer_time_in_seconds, type, work_time_in_seconds,
    flagged, _dlt_load_id, _dlt_id)
SELECT 'c' || n, 'K1', 'C1', TIMESTAMPTZ '2024-03-05 10:00:00+00' + to_seconds(n * 60),
    TIMESTAMP '2024-03-05 10:00:00' + to_seconds(n * 60), '+1555000' || n,
    0.4, 0.1, 0.1, 1, 'alice', 0.1, 0.0, 'Incoming', 0.1, false, 'load1', 'd' || n
FROM range(10) AS t(n);
INSERT INTO hostedsuite.centers (id, name, time_zone_id, iana_time_zone, _dlt_load_id, _dlt_id)
VALUES ('C1', 'Center', 'UTC', 'UTC', 'load1', 'ce1');
INSERT INTO hostedsuite.clients (id, name, center_id, _dlt_load_id, _dlt_id)
VALUES ('K1', 'Client', 'C1', 'load1', 'cl1');
"""


def test_ten_tenths_of_a_second_total_one_second(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        create_raw_tables(conn)
        conn.execute(TENTHS)
        run_transforms(DuckDBExecutor(conn), full=True)
        daily = conn.execute(
            "SELECT talk_seconds_total, hold_seconds_total, handle_seconds_total, "
            "avg_speed_of_answer_seconds * calls_answered "
            "FROM analytics.fct_call_metrics_daily"
        ).fetchall()
        agents = conn.execute(
            "SELECT talk_seconds_total, hold_seconds_total, work_seconds_total "
            "FROM analytics.fct_agent_metrics_daily"
        ).fetchall()
    # handle time per call: talk 0.1 + hold 0.1 + work 0.1, summed over ten calls: 3.0
    assert daily == [(1.0, 1.0, 3.0, 1.0)]
    assert agents == [(1.0, 1.0, 1.0)]
