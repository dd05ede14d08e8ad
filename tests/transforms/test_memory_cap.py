"""A full rebuild under a memory cap several times smaller than its data completes by spilling,
and in slices under a cap at which the rebuild in one go fails even with a folder to spill to.

The raw tables hold 300,000 calls and 1.2 million interactions, made with SQL; the transforms
run on a DuckDB connection capped at 150 MB with one thread (as the load's cap applies to every
step). With nowhere to spill they run out of memory, which shows the work does not fit the cap;
with a temporary folder beside the file every model must finish, by spilling what does not fit.
At 100 MB the rebuild in one go runs out of memory in int_hold_segments (its window over every
hold event) although it may spill; in slices of 30,000 calls (``sliced_build.py``) it completes.
The row counts are what the generator made. An incremental refresh of a thousand of those calls
completes under a cap smaller still.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from transforms import DuckDBExecutor, run_transforms

from .raw_fixture import create_raw_tables

CALLS = 300_000
EVENTS_PER_CALL = 4
CAP_MB = 150
SLICED_CAP_MB = 100
SLICE_CALLS = 30_000

GENERATE = f"""
INSERT INTO hostedsuite.calls
SELECT
    'c' || n AS id,
    'K' || (n % 7) AS client_id,
    'Client ' || (n % 7) AS client_name,
    'C' || (n % 3) AS center_id,
    TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(n * 97) AS start_time,
    TIMESTAMP '2024-01-01 00:00:00' + to_seconds(n * 97) AS start_time_local,
    'Caller ' || (n % 50000) AS caller_name,
    '+1312555' || lpad(cast(n % 50000 AS VARCHAR), 5, '0') AS caller_number,
    NULL AS transfer_to_name, NULL AS transfer_to_number,
    repeat('note ', 8) AS notes,
    100.0 + n % 300 AS duration_in_seconds, 1.0 + n % 40 AS ring_time_in_seconds,
    (n % 5) * 3.1 AS hold_time_in_seconds, n % 2 AS hold_count,
    CASE WHEN n % 9 = 0 THEN '' ELSE 'agent' || (n % 40) END AS answered_by,
    'srv1' AS server, 60.0 + n % 200 AS talk_time_in_seconds, 0.0 AS transfer_time_in_seconds,
    '' AS screen_pop, n % 11 = 0 AS flagged, NULL AS flag_notes,
    CASE WHEN n % 5 = 0 THEN 'Outgoing' ELSE 'Incoming' END AS type,
    (n % 30) * 1.0 AS work_time_in_seconds, 'UTC' AS time_zone_id,
    'load1' AS _dlt_load_id, 'd' || n AS _dlt_id
FROM range({CALLS}) AS t(n);

INSERT INTO hostedsuite.calls__interactions
SELECT
    'c' || n AS call_id, seq,
    TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(n * 97 + seq * 20) AS start_time,
    TIMESTAMP '2024-01-01 00:00:00' + to_seconds(n * 97 + seq * 20) AS start_time_local,
    ['Answer', 'Hold', 'Retrieved', 'Hangup'][seq + 1] AS type,
    'event ' || seq AS description, NULL AS is_tombstone,
    'load1' AS _dlt_load_id, 'i' || n || '-' || seq AS _dlt_id
FROM range({CALLS}) AS t(n), range({EVENTS_PER_CALL}) AS s(seq);

INSERT INTO hostedsuite.centers (id, name, time_zone_id, iana_time_zone, _dlt_load_id, _dlt_id)
SELECT 'C' || n, 'Center ' || n, 'UTC', 'UTC', 'load1', 'ce' || n FROM range(3) AS t(n);

INSERT INTO hostedsuite.clients (id, name, center_id, _dlt_load_id, _dlt_id)
SELECT 'K' || n, 'Client ' || n, 'C' || (n % 3), 'load1', 'cl' || n FROM range(7) AS t(n);
"""


def _config(
    temp_directory: str, cap_mb: int = CAP_MB
) -> dict[str, str | bool | int | float | list[str]]:
    return {"memory_limit": f"{cap_mb}MB", "threads": 1, "temp_directory": temp_directory}


def _generated(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        create_raw_tables(conn)
        conn.execute(GENERATE)
    return path


def _counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        conn.execute(
            "SELECT 'calls', count(*) FROM analytics.fct_calls UNION ALL "
            "SELECT 'events', count(*) FROM analytics.fct_call_interactions UNION ALL "
            "SELECT 'holds', count(*) FROM analytics.fct_hold_segments UNION ALL "
            "SELECT 'last', count(*) FROM analytics.fct_call_interactions "
            "WHERE seconds_to_next IS NULL"
        ).fetchall()
    )


# every call; 4 events each; one hold (Hold..Retrieved) each; the last event has no next
GENERATED = {"calls": CALLS, "events": CALLS * EVENTS_PER_CALL, "holds": CALLS, "last": CALLS}


def test_a_full_rebuild_spills_instead_of_failing_under_a_small_cap(tmp_path: Path) -> None:
    path = _generated(tmp_path)

    # the work does not fit the cap: with nowhere to spill, it runs out of memory
    with (
        duckdb.connect(str(path), config=_config("")) as conn,
        pytest.raises(duckdb.OutOfMemoryException),
    ):
        run_transforms(DuckDBExecutor(conn), full=True)

    spill = tmp_path / "warehouse.duckdb.tmp"
    with duckdb.connect(str(path), config=_config(str(spill))) as conn:
        result = run_transforms(DuckDBExecutor(conn), full=True)
        counts = _counts(conn)
    assert result.refresh == "full"
    assert counts == GENERATED


def test_a_rebuild_in_slices_completes_where_one_in_one_go_fails(tmp_path: Path) -> None:
    path = _generated(tmp_path)
    config = _config(str(tmp_path / "warehouse.duckdb.tmp"), SLICED_CAP_MB)
    with (
        duckdb.connect(str(path), config=config) as conn,
        pytest.raises(duckdb.OutOfMemoryException),
    ):
        run_transforms(DuckDBExecutor(conn), full=True)

    with duckdb.connect(str(path), config=config) as conn:
        result = run_transforms(DuckDBExecutor(conn), full=True, slice_calls=SLICE_CALLS)
        counts = _counts(conn)
    assert (result.refresh, result.call_slices) == ("full", CALLS // SLICE_CALLS)
    assert result.day_slices > 1
    assert counts == GENERATED


# An incremental refresh of 1,000 edited calls of the 300,000 under 80 MB and two threads. Its
# checks, in one statement, ran out of memory under 100 MB (each grouping and join held its hash
# tables, a floor of memory each, until the statement ended); one at a time they complete under
# 60 MB (by hand, 2026-12-06).
EDITED_CALLS = 1_000
INCREMENTAL_CAP_MB = 80


def test_an_incremental_refresh_completes_under_a_small_cap(tmp_path: Path) -> None:
    """The checks of a refresh run one at a time (``checks._insert_one_check_at_a_time``)."""
    path = _generated(tmp_path)
    config = _config(str(tmp_path / "warehouse.duckdb.tmp"), SLICED_CAP_MB)
    with duckdb.connect(str(path), config=config) as conn:
        run_transforms(DuckDBExecutor(conn), full=True, slice_calls=SLICE_CALLS)
        edited = f"SELECT 'c' || n FROM range({EDITED_CALLS}) AS t(n)"
        conn.execute(
            "UPDATE hostedsuite.calls SET _dlt_load_id = 'load2', "
            f"talk_time_in_seconds = talk_time_in_seconds + 1 WHERE id IN ({edited})"
        )
        conn.execute(
            "UPDATE hostedsuite.calls__interactions SET _dlt_load_id = 'load2' "
            f"WHERE call_id IN ({edited})"
        )
        conn.execute(f"SET memory_limit = '{INCREMENTAL_CAP_MB}MB'")
        conn.execute("SET threads = 2")
        result = run_transforms(DuckDBExecutor(conn))
        counts = _counts(conn)
        talk = conn.execute(
            f"SELECT sum(talk_seconds) FROM analytics.fct_calls WHERE call_id IN ({edited})"
        ).fetchone()
    # the edited calls alone (a caller's calls lie 56 days apart: no repeat-call neighbours)
    assert (result.refresh, result.calls_rebuilt) == ("incremental", EDITED_CALLS)
    assert counts == GENERATED
    assert not result.errors
    # their edit landed: talk 60 + n % 200, plus 1, over n < 1000:
    # 1000 * 61 + 5 * (0 + 1 + ... + 199) = 61,000 + 99,500
    assert talk == (160_500.0,)
