"""A full rebuild in slices (``transforms/sliced_build.py``) equals the rebuild in one go.

The hand-built raw tables get the edge cases slicing could get wrong: a duplicated call id (both
rows must land in one slice, and the grain check must still see them), a call marked deleted, a
call without a local time, orphan interactions, calls without interactions, and a caller whose
calls repeat each other across slices (``int_repeat_calls`` must see every call). Then both
rebuilds run on the same file, the one in slices with a few calls per slice, and every analytics
and intermediate table, the check findings, the column types and the views' definitions must be
the same.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest

from transforms import (
    DuckDBExecutor,
    TransformCheckError,
    TransformResult,
    format_summary,
    run_transforms,
    sliced_build,
)
from transforms.slice_files import FOLDER
from transforms.sliced_build import DAY_SLICES, REPEAT_CALLS, SLICE_DAYS

from .conftest import fetch, snapshot
from .raw_fixture import stamp_load

SLICE_CALLS = 4

EDGES = """
-- 30 more calls from 6 callers to K1, 10 minutes apart: every call but each caller's last
-- is a repeat call, and the pairs fall in different slices
INSERT INTO hostedsuite.calls (id, client_id, center_id, start_time, start_time_local,
    caller_number, duration_in_seconds, ring_time_in_seconds, hold_time_in_seconds, hold_count,
    answered_by, talk_time_in_seconds, transfer_time_in_seconds, type, work_time_in_seconds,
    flagged, time_zone_id, _dlt_load_id, _dlt_id)
SELECT 'g' || lpad(cast(n AS VARCHAR), 2, '0'), 'K1', CASE WHEN n % 4 = 0 THEN 'C2' ELSE 'C1' END,
    TIMESTAMPTZ '2024-03-11 10:00:00+00' + to_seconds(n * 600 + n * n * 3600),
    TIMESTAMP '2024-03-11 05:00:00' + to_seconds(n * 600 + n * n * 3600),
    '+1555000' || (n % 6), 200.0 + n, 1.0 + n % 30, 20.0, 1,
    CASE WHEN n % 3 = 0 THEN NULL ELSE 'agent' || (n % 4) END, 100.0 + n, 0.0,
    CASE WHEN n % 7 = 0 THEN 'Outgoing' ELSE 'Incoming' END, 5.0, n % 5 = 0,
    'America/Chicago', 'load1', 'dg' || n
FROM range(30) AS t(n);
INSERT INTO hostedsuite.calls__interactions
SELECT 'g' || lpad(cast(n AS VARCHAR), 2, '0'), seq,
    TIMESTAMPTZ '2024-03-11 10:00:00+00' + to_seconds(n * 600 + n * n * 3600 + seq * 30),
    TIMESTAMP '2024-03-11 05:00:00' + to_seconds(n * 600 + n * n * 3600 + seq * 30),
    ['Answer', 'Hold', 'Retrieved', 'Hold', 'Hangup'][seq + 1], 'event', NULL, 'load1',
    'ig' || n || '-' || seq
FROM range(30) AS t(n), range(5) AS s(seq)
WHERE n % 5 <> 1;
-- a duplicated call id: a second row of c02, twenty days later (its own start time would put it
-- in a later slice than the first row's)
INSERT INTO hostedsuite.calls
SELECT * REPLACE ('dup-c02' AS _dlt_id, start_time + INTERVAL 20 DAY AS start_time,
    start_time_local + INTERVAL 20 DAY AS start_time_local)
FROM hostedsuite.calls WHERE id = 'c02';
-- interactions of a call that is not in the calls table
INSERT INTO hostedsuite.calls__interactions VALUES
    ('orphan', 0, TIMESTAMPTZ '2024-03-12 10:00:00+00', TIMESTAMP '2024-03-12 05:00:00',
     'Hold', 'event', NULL, 'load1', 'io-0'),
    ('orphan', 1, TIMESTAMPTZ '2024-03-12 10:01:00+00', TIMESTAMP '2024-03-12 05:01:00',
     'Retrieved', 'event', NULL, 'load1', 'io-1');
-- a call without a local time
UPDATE hostedsuite.calls SET start_time_local = NULL WHERE id = 'g17';
-- a call marked deleted upstream (reconcile), with its interactions
ALTER TABLE hostedsuite.calls ADD COLUMN is_deleted BOOLEAN;
UPDATE hostedsuite.calls SET is_deleted = true WHERE id = 'g08';
"""

# what a rebuild leaves besides the analytics tables: the intermediate tables and the views
EXTRA = {
    "int_hold_segments": "SELECT * FROM intermediate.int_hold_segments ORDER BY ALL",
    "int_call_metrics_rollup": "SELECT * FROM intermediate.int_call_metrics_rollup ORDER BY ALL",
    "views": (
        "SELECT schema_name, view_name, sql FROM duckdb_views() "
        "WHERE NOT internal AND NOT temporary ORDER BY ALL"
    ),
    "columns": (
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name IN ('staging', 'intermediate', 'analytics') "
        "AND table_name <> 'transform_state' ORDER BY ALL"
    ),
    "temporary": (
        "SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ),
}


def _rebuild(conn: duckdb.DuckDBPyConnection, slice_calls: int | None) -> TransformResult:
    # the edge cases include grain errors (the duplicate, the missing local time): the run
    # writes everything, then raises
    with pytest.raises(TransformCheckError) as failed:
        run_transforms(DuckDBExecutor(conn), full=True, slice_calls=slice_calls)
    return failed.value.result


def _everything(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    tables = snapshot(conn)
    # findings carry no timestamp; the summary's checked_at is left out by snapshot()
    tables.update({name: fetch(conn, query) for name, query in EXTRA.items()})
    return tables


def test_a_rebuild_in_slices_equals_one_in_one_go(
    raw_db: duckdb.DuckDBPyConnection,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw_db.execute(EDGES)
    whole = _rebuild(raw_db, None)
    assert (whole.call_slices, whole.day_slices) == (1, 1)
    expected = _everything(raw_db)

    # the whole-history repeat calls in buckets of callers of 3 slices' calls each
    monkeypatch.setattr(sliced_build, "BUCKET_SLICES", 3)
    with caplog.at_level(logging.INFO, logger="hostedsuite"):
        sliced = _rebuild(raw_db, SLICE_CALLS)
    calls = fetch(raw_db, "SELECT count(*) FROM hostedsuite.calls")[0][0]
    # 12 calls, 30 more and c02's second row: 43 rows in 11 slices of 4, so 4 buckets of 3
    assert calls == 43
    assert sliced.call_slices == 11
    assert "full rebuild: the repeat calls, in 4 buckets of callers" in caplog.messages
    assert sliced.day_slices > 1
    assert sliced.refresh == "full"
    assert [(c.check_name, c.failing_rows) for c in sliced.errors] == [
        (c.check_name, c.failing_rows) for c in whole.errors
    ]
    # the slices really split what they must not lose: repeat pairs across slices, and the
    # duplicated id (both rows in one slice, so the grain check still counts it)
    across = fetch(
        raw_db,
        "SELECT count(*) FROM analytics.fct_calls WHERE is_repeat_call AND "
        f"hash(call_id) % {sliced.call_slices} <> hash(repeat_call_id) % {sliced.call_slices}",
    )
    assert across[0][0] > 0
    assert fetch(raw_db, "SELECT count(*) FROM analytics.fct_calls WHERE call_id = 'c02'") == [(2,)]
    assert _everything(raw_db) == expected
    assert expected["temporary"] == []
    assert {REPEAT_CALLS, DAY_SLICES, SLICE_DAYS}.isdisjoint(expected["temporary"])


def test_a_history_of_one_slice_is_rebuilt_in_one_go(raw_db: duckdb.DuckDBPyConnection) -> None:
    result = run_transforms(DuckDBExecutor(raw_db), full=True, slice_calls=1_000)
    assert (result.call_slices, result.day_slices) == (1, 1)
    assert "slices" not in "\n".join(format_summary(result))


def test_the_summary_names_the_slices(
    raw_db: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hostedsuite"):
        result = run_transforms(DuckDBExecutor(raw_db), full=True, slice_calls=5)
    # 12 raw calls (raw_fixture.py) in slices of about 5: ceil(12 / 5) = 3
    assert result.call_slices == 3
    line = format_summary(result)[1]
    assert line.endswith(f"(in 3 slices of calls, {result.day_slices} of center-days)")
    # a long rebuild shows its progress, slice by slice
    days = result.day_slices
    assert [r.getMessage() for r in caplog.records if r.name == "hostedsuite.transforms"] == [
        "full rebuild: the repeat calls, in 2 buckets of callers",
        *(f"full rebuild: the calls, slice {n} of 3" for n in (1, 2, 3)),
        *(f"full rebuild: the center-days, slice {n} of {days}" for n in range(1, days + 1)),
    ]
    # an incremental refresh afterwards finds the marts complete
    again = run_transforms(DuckDBExecutor(raw_db), slice_calls=5)
    assert (again.refresh, again.calls_rebuilt) == ("incremental", 0)
    # and a rebuild in slices after a refresh that kept its scope in temporary tables, on the
    # same connection, replaces them
    stamp_load(raw_db, "load9", ["c01"])
    edited = run_transforms(DuckDBExecutor(raw_db), slice_calls=5)
    assert (edited.refresh, edited.calls_rebuilt) == ("incremental", 1)
    rebuilt = run_transforms(DuckDBExecutor(raw_db), full=True, slice_calls=5)
    assert (rebuilt.refresh, rebuilt.call_slices) == ("full", 3)


def test_the_rebuild_removes_its_files_and_a_killed_ones(
    raw_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # the slices' rows are files in DuckDB's temp_directory (<warehouse>.tmp) during the
    # rebuild; a killed rebuild's folder (callers' data) is there when the next one starts
    folder = tmp_path / "warehouse.duckdb.tmp" / FOLDER
    folder.mkdir(parents=True)
    (folder / "stale.parquet").write_bytes(b"callers' rows")
    seen: list[list[str]] = []
    tables: list[list[tuple[str]]] = []
    checks: list[list[str]] = []

    class Watching(DuckDBExecutor):
        def execute_sql(self, sql: str) -> Any:
            if sql.startswith("INSERT INTO analytics.fct_calls"):
                seen.append(sorted(p.name for p in folder.iterdir()))
                # a temporary table replaced per slice would be kept until the commit
                temporary = "SELECT table_name FROM duckdb_tables() WHERE temporary"
                tables.append(self.conn.execute(temporary).fetchall())
            if sql.startswith("CREATE OR REPLACE TABLE analytics.dq_findings"):
                checks.append(sorted(p.name for p in folder.iterdir()))
            return super().execute_sql(sql)

    result = run_transforms(Watching(raw_db), full=True, slice_calls=5)
    assert result.call_slices == 3
    # each slice read its staging from files, the killed rebuild's file gone from the first
    assert len(seen) == 3
    assert all("stale.parquet" not in names for names in seen)
    assert all("scope_staging_stg_calls-0.parquet" in names for names in seen)
    assert all("scope_staging_stg_call_interactions-0.parquet" in names for names in seen)
    assert tables == [[], [], []]
    # the checks ran one at a time, each into its file (the uniqueness checks in two, a
    # bucket of keys each), and the findings came from the files
    files = [
        f"check_{n}-{part}.parquet"
        for n, check in enumerate(result.checks)
        for part in ((0, 1) if check.check_name.startswith("unique_") else (0,))
    ]
    assert checks == [sorted(files)]
    assert not folder.exists()
    assert (tmp_path / "warehouse.duckdb.tmp").exists()


class _SliceWatcher(DuckDBExecutor):
    """Before each slice's rows of fct_calls, what another session of the database sees: the
    rows committed so far and the state; fails the slice numbered ``fail_at`` instead, if any."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, fail_at: int | None = None) -> None:
        super().__init__(conn)
        self.fail_at = fail_at
        self.committed: list[tuple[int, str]] = []

    def execute_sql(self, sql: str) -> Any:
        if sql.startswith("INSERT INTO analytics.fct_calls"):
            if len(self.committed) + 1 == self.fail_at:
                raise RuntimeError("stopped")
            other = self.conn.cursor()  # its own transaction: sees only what was committed
            try:
                seen = other.execute(
                    "SELECT (SELECT count(*) FROM analytics.fct_calls), "
                    "(SELECT sql_hash FROM analytics.transform_state)"
                ).fetchone()
            finally:
                other.close()
            assert seen is not None
            self.committed.append((int(seen[0]), str(seen[1])))
        return super().execute_sql(sql)


def test_a_rebuild_in_slices_commits_slice_by_slice(raw_db: duckdb.DuckDBPyConnection) -> None:
    # A transaction keeps its uncommitted rows in memory and temporary storage until its end:
    # in one transaction the rebuild's memory grew with the history.
    run_transforms(DuckDBExecutor(raw_db))
    watcher = _SliceWatcher(raw_db)
    result = run_transforms(watcher, full=True, slice_calls=5)
    assert result.call_slices == 3
    # before each slice, the slices before it are committed: another session sees the emptied
    # fct_calls fill up, and the state of a rebuild that has not finished
    counts = [count for count, _ in watcher.committed]
    assert counts[0] == 0
    assert counts[0] < counts[1] < counts[2] < 12
    assert {state for _, state in watcher.committed} == {"unfinished full rebuild"}
    assert fetch(raw_db, "SELECT count(*) FROM analytics.fct_calls") == [(12,)]
    assert fetch(raw_db, "SELECT last_refresh, sql_hash <> 'unfinished full rebuild' FROM "
                 "analytics.transform_state") == [("full", True)]  # fmt: skip


def test_a_rebuild_that_stopped_is_finished_by_the_next_refresh(
    raw_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    expected = snapshot(raw_db)

    with pytest.raises(RuntimeError, match="stopped"):
        run_transforms(_SliceWatcher(raw_db, fail_at=2), full=True, slice_calls=5)
    raw_db.close()
    # the next run is another process: the first slice stayed, and the state says the marts
    # are partial
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        partial = fetch(conn, "SELECT count(*) FROM analytics.fct_calls")[0][0]
        assert 0 < partial < 12
        state = "SELECT raw_load_id, sql_hash, full_rebuild_reason FROM analytics.transform_state"
        assert fetch(conn, state) == [(None, "unfinished full rebuild", "asked for (--full)")]
        again = run_transforms(DuckDBExecutor(conn))
        assert (again.refresh, again.reason) == ("full", "an earlier full rebuild did not finish")
        assert snapshot(conn) == expected
    finally:
        conn.close()
