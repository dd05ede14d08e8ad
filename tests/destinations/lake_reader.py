"""Test-only analyst of the lake: a real process querying it while loads run.

Modes (each a separate process):
- ``held``: attaches the lake once (at the snapshot published last) and queries it in a loop;
- ``fresh``: attaches it anew for each round, so it follows the snapshots the runs publish.

Each round runs its queries in one transaction and checks that the snapshot is consistent
(``CONSISTENCY_SQL`` of the DuckDB serving test, minus the serving copy's own check). Reports
each round as one JSON line on stdout, through ``EventChannel`` (``{"error": ...}`` for a
failed one); runs until ``stop_file`` exists.

Usage: python -m tests.destinations.lake_reader <mode> <catalog> <stop_file>
(``LAKE_READER_SETUP``, a JSON list of statements run before each attach: a lake's S3 secret)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from tests.destinations.lake import attach
from tests.pipeline.analyst_driver import CONSISTENCY_SQL, Report
from tests.process_events import EventChannel

CHECKS = {name: sql for name, sql in CONSISTENCY_SQL.items() if name != "unpublished_copy"}
SNAPSHOT_SQL = """
    SELECT (SELECT count(*) FROM hostedsuite.calls),
           (SELECT count(*) FROM staging.stg_calls),
           (SELECT cast(max(published_at) AS VARCHAR) FROM analytics.lake_publication)
"""


def one_round(conn: duckdb.DuckDBPyConnection, version: int | None) -> dict[str, Any]:
    conn.execute("BEGIN TRANSACTION")
    calls, staged, published_at = conn.execute(SNAPSHOT_SQL).fetchone()  # type: ignore[misc]
    violations = {name: int(conn.execute(sql).fetchone()[0]) for name, sql in CHECKS.items()}  # type: ignore[index]
    conn.execute("COMMIT")
    return {
        "version": version,
        "calls": calls,
        "staged": staged,
        "published_at": published_at,
        "violations": {k: v for k, v in violations.items() if v},
    }


def connect(catalog: str) -> tuple[duckdb.DuckDBPyConnection, int | None]:
    setup = json.loads(os.environ.get("LAKE_READER_SETUP") or "[]")
    conn = duckdb.connect()
    # DuckDB draws a progress bar for a statement over 2 s (a loaded machine): off, to keep
    # stderr readable (the events have stdout to themselves, EventChannel)
    conn.execute("SET enable_progress_bar = false")
    return attach(conn, catalog, setup)


def run(mode: str, catalog: str, stop: Path, report: Report) -> None:
    conn, version = connect(catalog)
    rounds = 0
    while not stop.exists():
        try:
            if mode == "fresh" and rounds:
                conn.close()
                conn, version = connect(catalog)
            report(one_round(conn, version))
        except Exception as exc:  # every failure is a finding of the test
            report({"error": f"{type(exc).__name__}: {exc}"})
        rounds += 1
        time.sleep(0.25)  # an analyst's pace, not a busy loop: the loads share 2 cores
    conn.close()


if __name__ == "__main__":
    mode, catalog, stop_file = sys.argv[1:4]
    run(mode, catalog, Path(stop_file), EventChannel().report)
