"""An incremental refresh rewrites exactly the rows of the calls and center-days that changed.

Equality with a full rebuild (test_incremental_refresh, the pipeline's incremental == full
tests) cannot tell a refresh that rebuilds everything from one that rebuilds what changed. Here
every mart row is marked after a full build; then one call is edited and one call is added, and
an incremental refresh runs. A row it rewrote has lost its mark; a row it left alone still has
it. Worked out by hand from the 12 calls of ``raw_fixture``:

- c05 (Chicago, 2024-03-10 15:00 UTC = 10:00 CDT, caller +1 312 555 0004) is edited. Its number
  also called in c06 (outgoing, 7 minutes later): a later call of the number is only read (the
  next call of c06's caller cannot have changed), so c06 keeps its rows.
- n01 is new: Kolkata, 2024-03-12 05:00 UTC = 10:30 IST, a number never seen.

Rebuilt calls: c05 and n01. Rebuilt center-days: C1 2024-03-10 and C2 2024-03-12. Of the two,
only n01 is new to the marts: the refresh has no old rows of it to delete.
"""

from __future__ import annotations

import duckdb

from transforms import DuckDBExecutor, run_transforms

from .raw_fixture import insert_call, stamp_load

MARK = -7
NEW_CALL = (
    "n01", "K2", "C2", "2024-03-12 05:00:00", "Incoming", "chandra", "+919800000077",
    9, 90, 0, 0, 0, 10, 99, False, None,
)  # fmt: skip


def test_a_refresh_rewrites_only_the_changed_calls_and_their_days(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    run_transforms(DuckDBExecutor(raw_db), full=True)
    raw_db.execute(
        f"""
        UPDATE analytics.fct_calls SET hold_count = {MARK};
        UPDATE analytics.fct_call_interactions SET seq = seq + 1000;
        UPDATE analytics.fct_call_metrics_daily SET calls_flagged = {MARK};
        UPDATE analytics.fct_call_metrics_interval SET calls_flagged = {MARK};
        UPDATE analytics.fct_agent_metrics_daily SET calls_transferred = {MARK};
        """
    )
    raw_db.execute("UPDATE hostedsuite.calls SET talk_time_in_seconds = 333 WHERE id = 'c05'")
    insert_call(raw_db, NEW_CALL, "hostedsuite")
    stamp_load(raw_db, "load2", ["c05", "n01"])

    result = run_transforms(DuckDBExecutor(raw_db))

    assert result.refresh == "incremental"
    is_new = raw_db.execute(
        "SELECT call_id, is_new FROM intermediate.affected_calls WHERE is_rebuilt ORDER BY 1"
    ).fetchall()
    assert is_new == [("c05", False), ("n01", True)]
    rebuilt_calls = raw_db.execute(
        f"SELECT call_id FROM analytics.fct_calls WHERE hold_count <> {MARK} ORDER BY call_id"
    ).fetchall()
    assert rebuilt_calls == [("c05",), ("n01",)]
    # c05's interactions were rewritten (seq back to 0..), every other call's kept the mark
    rewritten_events = raw_db.execute(
        "SELECT DISTINCT call_id FROM analytics.fct_call_interactions WHERE seq < 1000"
    ).fetchall()
    assert rewritten_events == [("c05",)]
    for table, column in (
        ("fct_call_metrics_daily", "calls_flagged"),
        ("fct_call_metrics_interval", "calls_flagged"),
        ("fct_agent_metrics_daily", "calls_transferred"),
    ):
        rebuilt_days = raw_db.execute(
            f"SELECT DISTINCT center_id, cast(local_date AS VARCHAR) FROM analytics.{table} "
            f"WHERE {column} <> {MARK} ORDER BY 1, 2"
        ).fetchall()
        assert rebuilt_days == [("C1", "2024-03-10"), ("C2", "2024-03-12")], table
        kept = raw_db.execute(
            f"SELECT count(*) FROM analytics.{table} WHERE {column} = {MARK}"
        ).fetchone()
        assert kept is not None and kept[0] > 0, f"{table}: no row was left alone"
    edited = raw_db.execute(
        "SELECT talk_seconds FROM analytics.fct_calls WHERE call_id = 'c05'"
    ).fetchall()
    assert edited == [(333.0,)]


def test_a_refresh_after_loads_without_call_rows_rewrites_only_the_dimensions(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """A quiet run: the loads since the watermark wrote no call, interaction or form row (the
    re-read found every call as stored), only the centers and clients, merged on every run.
    No per-call or per-day row is rewritten (every mark stays), the scope is empty, and the
    dimensions still show the centers as loaded."""
    run_transforms(DuckDBExecutor(raw_db), full=True)
    marks = {
        "fct_calls": "hold_count",
        "fct_call_metrics_daily": "calls_flagged",
        "fct_call_metrics_interval": "calls_flagged",
        "fct_agent_metrics_daily": "calls_transferred",
    }
    for table, column in marks.items():
        raw_db.execute(f"UPDATE analytics.{table} SET {column} = {MARK}")
    raw_db.execute("UPDATE analytics.fct_call_interactions SET seq = seq + 1000")
    raw_db.execute(
        "UPDATE hostedsuite.centers SET name = 'Chicago Downtown', _dlt_load_id = 'load2' "
        "WHERE id = 'C1'"
    )

    result = run_transforms(DuckDBExecutor(raw_db))

    assert (result.refresh, result.calls_rebuilt, result.days_rebuilt) == ("incremental", 0, 0)
    for table, column in marks.items():
        rewritten = raw_db.execute(
            f"SELECT count(*) FROM analytics.{table} WHERE {column} IS DISTINCT FROM {MARK}"
        ).fetchone()
        assert rewritten == (0,), table
    events = raw_db.execute(
        "SELECT count(*) FROM analytics.fct_call_interactions WHERE seq < 1000"
    ).fetchone()
    assert events == (0,)
    scope = raw_db.execute(
        "SELECT (SELECT count(*) FROM intermediate.affected_calls), "
        "(SELECT count(*) FROM intermediate.affected_days)"
    ).fetchone()
    assert scope == (0, 0)
    name = raw_db.execute(
        "SELECT center_name FROM analytics.dim_centers WHERE center_id = 'C1'"
    ).fetchall()
    assert name == [("Chicago Downtown",)]
