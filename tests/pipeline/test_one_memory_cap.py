"""The run's one DuckDB memory cap (``[destination.duckdb] memory_limit``) also holds where we
write or read ourselves, not only on dlt's connections: publishing a serving copy (through the
pipeline's own connection, no second database), the rewrite of the warehouse after an erasure
(``COPY FROM DATABASE``, a copy of the whole file) and the report.

A cap of 1 MB is below what DuckDB needs to open a file of some 200 calls, so a connection that
takes the cap fails with Out of Memory, and one that ignores it succeeds: the test sees which.
The warehouse is loaded first with the default cap, without publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.destinations.duckdb import DuckDb
from pipelines.duckdb_session import DEFAULT_DUCKDB_MEMORY_LIMIT, session_config
from pipelines.serving import PublishError, publish
from transforms import DuckDBExecutor

from .loader import Loader

MEMORY_SETTING = "DESTINATION__DUCKDB__MEMORY_LIMIT"
TOO_SMALL = "1MB"
PUBLISHED_AT = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)
# the DuckDB destination's purge reads only its own file, never the pipeline
NO_PIPELINE: Any = None


def _loaded(loader_factory: Callable[..., Loader]) -> Loader:
    loader = loader_factory(calls=200, seed=91)
    run = loader.cli("load", "--until", loader.emulator.now.isoformat(), "--serving", "")
    assert run.returncode == 0, run.stderr
    return loader


class _Recorded(DuckDBExecutor):
    """The pipeline's connection, keeping the statements run through it."""

    def __init__(self, conn: Any) -> None:
        super().__init__(conn)
        self.statements: list[str] = []

    def execute_sql(self, sql: str) -> Any:
        self.statements.append(sql)
        return super().execute_sql(sql)


def _publish(warehouse: Path, serving: Path, cap: str | None = None) -> list[str]:
    with duckdb.connect(str(warehouse)) as conn:
        if cap is not None:
            # the cap of the pipeline's own connection, set once the file is open
            conn.execute(f"SET memory_limit = '{cap}'")
        executor = _Recorded(conn)
        publish(
            warehouse,
            serving,
            executor,
            "hostedsuite",
            {"pipeline_name": "hostedsuite"},
            lambda: PUBLISHED_AT,
        )
        return executor.statements


def test_publishing_writes_the_copy_within_the_pipelines_own_cap(
    loader_factory: Callable[..., Loader], tmp_path: Path
) -> None:
    # A second DuckDB database opened on the copy would have a buffer pool, and a cap, of its
    # own beside the pipeline's full one; publishing attaches the copy to the pipeline's
    # connection instead, so the pipeline's cap is the whole publish's.
    loader = _loaded(loader_factory)
    serving = tmp_path / "serving.duckdb"
    with pytest.raises(PublishError, match="Out of Memory"):
        _publish(loader.duckdb_path, serving, TOO_SMALL)
    assert not serving.exists()

    statements = _publish(loader.duckdb_path, serving)
    with duckdb.connect(str(serving), read_only=True) as conn:
        stamped = conn.execute("SELECT published_at FROM analytics.load_health").fetchall()
        calls = conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
    assert stamped == [(PUBLISHED_AT,)]
    assert calls == (len(loader.emulator.truth().calls),)
    # the stamp went through the pipeline's connection, to the copy attached to it
    stamps = [sql for sql in statements if sql.startswith("CREATE OR REPLACE TABLE")]
    assert stamps and all(".analytics.load_health" in sql for sql in stamps), statements


def test_the_rewrite_after_an_erasure_runs_under_the_memory_cap(
    loader_factory: Callable[..., Loader], monkeypatch: pytest.MonkeyPatch
) -> None:
    loader = _loaded(loader_factory)
    destination = DuckDb(str(loader.duckdb_path), serving="")
    before = loader.duckdb_path.read_bytes()
    monkeypatch.setenv(MEMORY_SETTING, TOO_SMALL)
    with pytest.raises(duckdb.OutOfMemoryException):
        destination.purge(NO_PIPELINE)
    # nothing replaced the file
    assert loader.duckdb_path.read_bytes() == before

    monkeypatch.delenv(MEMORY_SETTING)
    line = destination.purge(NO_PIPELINE)
    assert line[0].startswith(f"purge: {loader.duckdb_path} rewritten"), line
    with duckdb.connect(str(loader.duckdb_path), read_only=True) as conn:
        calls = conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
    assert calls == (len(loader.emulator.truth().calls),)


def test_the_default_cap_is_the_readmes(monkeypatch: pytest.MonkeyPatch) -> None:
    # README, "One memory cap for every step": default 256MB, spilling beside the warehouse
    monkeypatch.delenv(MEMORY_SETTING, raising=False)
    # the project's .dlt/config.toml
    assert session_config("/data/warehouse.duckdb") == {
        "memory_limit": "256MB",
        "temp_directory": "/data/warehouse.duckdb.tmp",
    }
    # and the code's, for a run from a folder whose .dlt does not set it
    assert DEFAULT_DUCKDB_MEMORY_LIMIT == "256MB"
