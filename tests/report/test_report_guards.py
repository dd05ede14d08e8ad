"""What the report refuses to read, and the memory it may use: the run's one cap
(``[destination.duckdb] memory_limit``), and never the partial marts of a stopped full rebuild."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from tests.cli import assert_fails

from .report_page import report_cli

# What a full rebuild in slices leaves in transform_state until its last slice commits
# (transforms/README.md, "A full rebuild in slices"), written here by hand.
UNFINISHED = "unfinished full rebuild"


def test_the_report_reads_under_the_runs_memory_cap(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "capped.html"
    # 1 MB is less than DuckDB needs to open the file: only a capped connection fails
    env = {**os.environ, "DESTINATION__DUCKDB__MEMORY_LIMIT": "1MB"}
    done = report_cli("--db", str(warehouse), "--out", str(out), env=env)
    assert (
        assert_fails(done, 5)
        == done.stderr.strip()
        == (
            "error: DuckDB ran out of its memory cap in the report step; "
            "raise [destination.duckdb] memory_limit and rerun"
        )
    )
    assert not out.exists()

    done = report_cli("--db", str(warehouse), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


def test_a_warehouse_whose_full_rebuild_stopped_is_refused(warehouse: Path, tmp_path: Path) -> None:
    stopped = tmp_path / "stopped.duckdb"
    shutil.copy(warehouse, stopped)
    with duckdb.connect(str(stopped)) as conn:
        conn.execute("UPDATE analytics.transform_state SET sql_hash = ?", [UNFINISHED])
    out = tmp_path / "partial.html"
    done = report_cli("--db", str(stopped), "--out", str(out))
    assert (
        assert_fails(done, 2)
        == done.stderr.strip()
        == (
            f"error: report: {stopped} holds a full rebuild that did not finish (its marts are "
            "partial): run `make transform` first"
        )
    )
    assert not out.exists()
