"""The refresh finds its scope's rows by constants that DuckDB tests against its zone maps.

- The staging reads of a refresh start at the scope's oldest raw load
  (``scope_ranges.raw_load_floor``): a load that writes a call writes all of its children
  again, so no row of the scope's calls is older than the oldest of their call rows.
- Each refresh logs, per per-call table, the range of the zone column over the rows it wrote
  and over the rows it deleted (``scope_log.refresh_log_ranges``); the serving copy's update
  reads the changed calls' rows within the first and deletes the copy's old rows within the
  second (its tests: ``tests/pipeline/test_serving_generations.py``).

Worked out by hand from ``raw_fixture`` (every row stamped ``load1``):
- load2 adds n01 (Kolkata, 2024-03-12 05:00 UTC, a number never seen) with two interactions,
  9 s and 99 s after its start. Its scope is n01 alone: the floor is load2.
- load3 edits c05 (2024-03-10 15:00 UTC, interactions 5, 300, 345 and 350 s after it). Its
  number also called in c06 (load1, 7 minutes later), which the refresh reads: the floor is
  load1.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from transforms import DuckDBExecutor, incremental_build, run_transforms
from transforms.scope_ranges import raw_load_floor

from .raw_fixture import insert_call, insert_interactions

NEW_CALL = (
    "n01", "K2", "C2", "2024-03-12 05:00:00", "Incoming", "chandra", "+919800000077",
    9, 90, 0, 0, 0, 10, 99, False, None,
)  # fmt: skip
RAW = '"hostedsuite"'


def _load_new_call(conn: duckdb.DuckDBPyConnection) -> None:
    """load2 as the pipeline writes it: the call and its children, all stamped load2."""
    insert_call(conn, NEW_CALL, "hostedsuite")
    insert_interactions(conn, NEW_CALL, [(9, "Answer"), (99, "Hangup")])
    conn.execute("UPDATE hostedsuite.calls SET _dlt_load_id = 'load2' WHERE id = 'n01'")
    conn.execute(
        "UPDATE hostedsuite.calls__interactions SET _dlt_load_id = 'load2' WHERE call_id = 'n01'"
    )


def _interaction_seqs(conn: duckdb.DuckDBPyConnection, call_id: str) -> list[int]:
    rows = conn.execute(
        "SELECT seq FROM analytics.fct_call_interactions WHERE call_id = ? ORDER BY seq",
        [call_id],
    ).fetchall()
    return [int(seq) for (seq,) in rows]


def test_the_refresh_reads_the_raw_tables_from_its_scopes_oldest_load_on(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute, full=True)
    _load_new_call(raw_db)
    # A row older than its call's row, which no load leaves (it rewrites a call's children with
    # the call): the refresh does not read below the floor, so it does not see it.
    raw_db.execute(
        "INSERT INTO hostedsuite.calls__interactions VALUES ('n01', 7, "
        "'2024-03-12 05:00:50+00', '2024-03-12 10:30:50', 'Hold', 'stray', NULL, 'load1', 'x')"
    )

    assert run_transforms(execute).refresh == "incremental"

    assert raw_load_floor(execute, RAW, "load1") == "load2"
    assert _interaction_seqs(raw_db, "n01") == [0, 1]
    run_transforms(execute, full=True)  # a rebuild reads every row
    assert _interaction_seqs(raw_db, "n01") == [0, 1, 7]


def test_a_read_only_neighbour_from_an_older_load_lowers_the_floor(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute, full=True)
    for table, key in (("calls", "id"), ("calls__interactions", "call_id")):
        raw_db.execute(f"UPDATE hostedsuite.{table} SET _dlt_load_id = 'load3' WHERE {key} = 'c05'")
    raw_db.execute("UPDATE hostedsuite.calls SET talk_time_in_seconds = 301 WHERE id = 'c05'")

    assert run_transforms(execute).refresh == "incremental"

    read = raw_db.execute("SELECT call_id FROM intermediate.affected_calls ORDER BY 1").fetchall()
    assert read == [("c05",), ("c06",)]
    assert raw_load_floor(execute, RAW, "load1") == "load1"
    # a scope row without a load id (loaded before the column existed): no floor at all
    raw_db.execute("ALTER TABLE hostedsuite.calls ALTER COLUMN _dlt_load_id DROP NOT NULL")
    raw_db.execute("UPDATE hostedsuite.calls SET _dlt_load_id = NULL WHERE id = 'c06'")
    assert raw_load_floor(execute, RAW, "load1") is None


def test_each_refresh_logs_where_its_rows_are_in_each_per_call_table(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute, full=True, scope_log=True)
    _load_new_call(raw_db)
    for table, key in (("calls", "id"), ("calls__interactions", "call_id")):
        raw_db.execute(f"UPDATE hostedsuite.{table} SET _dlt_load_id = 'load2' WHERE {key} = 'c05'")

    run_transforms(execute, scope_log=True)

    logged = raw_db.execute(
        "SELECT refresh_seq, table_name, kind, timezone('UTC', first_value), "
        "timezone('UTC', last_value), row_count, null_rows "
        "FROM intermediate.refresh_log_ranges ORDER BY table_name, kind"
    ).fetchall()

    # The full rebuild (refresh 1) logs no range: everything may have changed. Refresh 2 wrote
    # c05 (15:00:00 UTC on 03-10, events 5 to 350 s later) and n01 (05:00:00 UTC on 03-12,
    # events 9 and 99 s later) and deleted c05's rows as they were; n01 had none.
    assert logged == [
        (2, "analytics.fct_call_interactions", "deleted", datetime(2024, 3, 10, 15, 0, 5),
         datetime(2024, 3, 10, 15, 5, 50), 4, 0),
        (2, "analytics.fct_call_interactions", "written", datetime(2024, 3, 10, 15, 0, 5),
         datetime(2024, 3, 12, 5, 1, 39), 6, 0),
        (2, "analytics.fct_calls", "deleted", datetime(2024, 3, 10, 15), datetime(2024, 3, 10, 15),
         1, 0),
        (2, "analytics.fct_calls", "written", datetime(2024, 3, 10, 15), datetime(2024, 3, 12, 5),
         2, 0),
        # neither call was held
        (2, "analytics.fct_hold_segments", "deleted", None, None, 0, 0),
        (2, "analytics.fct_hold_segments", "written", None, None, 0, 0),
        (2, "intermediate.int_hold_segments", "deleted", None, None, 0, 0),
        (2, "intermediate.int_hold_segments", "written", None, None, 0, 0),
    ]  # fmt: skip


def test_a_refresh_of_many_old_calls_logs_no_range_of_what_it_deleted(
    raw_db: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``DELETES_LOGGED_UP_TO_CALLS`` old calls (here: one), the deleted rows' values are
    not brought back to Python; the copy's update then searches by call id."""
    execute = DuckDBExecutor(raw_db)
    run_transforms(execute, full=True, scope_log=True)
    monkeypatch.setattr(incremental_build, "DELETES_LOGGED_UP_TO_CALLS", 0)
    for table, key in (("calls", "id"), ("calls__interactions", "call_id")):
        raw_db.execute(f"UPDATE hostedsuite.{table} SET _dlt_load_id = 'load2' WHERE {key} = 'c05'")

    run_transforms(execute, scope_log=True)

    kinds = raw_db.execute(
        "SELECT kind, count(*) FROM intermediate.refresh_log_ranges GROUP BY kind"
    ).fetchall()
    assert kinds == [("written", 4)]
