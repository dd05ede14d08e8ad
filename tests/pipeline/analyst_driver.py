"""Test-only analyst: a real process querying the serving copy while loads run.

Modes (each a separate process, since DuckDB shares one database instance per file and
process: a "new" connection next to a held one would not reopen the file):
- ``held``: one read-only connection for the whole run, queried in a loop;
- ``fresh``: a new read-only connection per query round, each checked for consistency;
- ``careless``: opens the copy read-write, writes a table into it, and keeps it open.

Reports what it sees as it goes, one JSON object per line on stdout through ``EventChannel``
(``{"error": ...}`` for a failed query: every failure is a finding of the test); runs until
``stop_file`` exists.

Usage: python -m tests.pipeline.analyst_driver <mode> <serving.duckdb> <stop_file>
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from tests.process_events import Event, EventChannel

Report = Callable[[Event], None]

# Each returns one number that must be 0 in a copy of one consistent load.
CONSISTENCY_SQL = {
    "calls_without_interactions": """
        SELECT count(*) FROM hostedsuite.calls AS c
        WHERE NOT EXISTS (
            SELECT 1 FROM hostedsuite.calls__interactions AS i WHERE i.call_id = c.id)
    """,
    "fct_calls_minus_raw_calls": """
        SELECT (SELECT count(*) FROM analytics.fct_calls) - (SELECT count(*) FROM hostedsuite.calls)
    """,
    "fct_interactions_minus_raw": """
        SELECT (SELECT count(*) FROM analytics.fct_call_interactions)
             - (SELECT count(*) FROM hostedsuite.calls__interactions)
    """,
    "daily_offered_minus_raw_calls": """
        SELECT (SELECT sum(calls_offered) FROM analytics.fct_call_metrics_daily)
             - (SELECT count(*) FROM hostedsuite.calls)
    """,
    "calls_missing_from_fct_calls": """
        SELECT count(*) FROM hostedsuite.calls AS c
        WHERE NOT EXISTS (SELECT 1 FROM analytics.fct_calls AS f WHERE f.call_id = c.id)
    """,
    "unpublished_copy": "SELECT count(*) FILTER (WHERE published_at IS NULL) "
    "FROM analytics.load_health",
}
SNAPSHOT_SQL = """
    SELECT (SELECT count(*) FROM hostedsuite.calls),
           (SELECT cast(max(published_at) AS VARCHAR) FROM analytics.load_health),
           (SELECT count(*) FROM staging.stg_calls)
"""


def held(path: str, stop: Path, report: Report) -> None:
    conn = connect(path, read_only=True)
    while not stop.exists():
        try:
            report({"held_calls": int(conn.execute(SNAPSHOT_SQL).fetchone()[0])})  # type: ignore[index]
        except Exception as exc:  # every failure is a finding of the test
            report({"error": f"{type(exc).__name__}: {exc}"})
        time.sleep(0.05)  # an analyst's pace, not a busy loop: the loads share 2 cores
    conn.close()


def fresh(path: str, stop: Path, report: Report) -> None:
    while not stop.exists():
        try:
            with connect(path, read_only=True) as conn:
                calls, published_at, staged = conn.execute(SNAPSHOT_SQL).fetchone()  # type: ignore[misc]
                violations = {
                    name: int(conn.execute(sql).fetchone()[0])  # type: ignore[index]
                    for name, sql in CONSISTENCY_SQL.items()
                }
            report(
                {"calls": calls, "published_at": published_at, "staged": staged}
                | {"violations": {k: v for k, v in violations.items() if v}}
            )
        except Exception as exc:
            report({"error": f"{type(exc).__name__}: {exc}"})
        time.sleep(0.05)


def connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """DuckDB draws a progress bar for a statement that runs over 2 s (as on a loaded machine):
    off, to keep the driver's stderr readable (its events have stdout to themselves)."""
    conn = duckdb.connect(path, read_only=read_only)
    conn.execute("SET enable_progress_bar = false")
    return conn


def careless(path: str, stop: Path, report: Report) -> None:
    conn = connect(path, read_only=False)  # read-write: root ignores the copy's read-only mode
    conn.execute("CREATE TABLE main.my_scratch AS SELECT 1 AS x")
    conn.execute("INSERT INTO main.my_scratch VALUES (2)")
    report({"opened": True})
    while not stop.exists():
        conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
        time.sleep(0.05)
    conn.execute("INSERT INTO main.my_scratch VALUES (3)")
    conn.close()
    report({"closed": True})


MODES = {"held": held, "fresh": fresh, "careless": careless}

if __name__ == "__main__":
    mode, serving, stop_file = sys.argv[1:4]
    MODES[mode](serving, Path(stop_file), EventChannel().report)
