"""Runner behaviour: idempotence, data-quality checks, raw schema name, dlt's sql_client."""

from __future__ import annotations

import re
from pathlib import Path

import dlt
import duckdb
import pytest

from tests.analytics_tables import COMPARED
from transforms import (
    DuckDBExecutor,
    MetricSettings,
    TransformCheckError,
    format_summary,
    run_transforms,
)
from transforms.project import MODELS, model_files

from .conftest import fetch, snapshot
from .raw_fixture import CALLS, build_raw, insert_call

# The tables with a grain (two checks each): every compared table but the checks' own.
GRAIN_CHECKED = sorted(set(COMPARED) - {"dq_findings", "dq_summary"})


def test_rerun_is_idempotent(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    first = snapshot(raw_db)
    first_findings = fetch(raw_db, "SELECT * FROM analytics.dq_findings ORDER BY ALL")
    run_transforms(DuckDBExecutor(raw_db))
    assert snapshot(raw_db) == first
    assert fetch(raw_db, "SELECT * FROM analytics.dq_findings ORDER BY ALL") == first_findings
    # two grain checks per table, and duration_reconciles, hold_reconciles,
    # missing_client_or_center, non_negative_durations, non_negative_event_times,
    # non_negative_call_end_holds, unlisted_client_or_center
    assert fetch(raw_db, "SELECT count(*) FROM analytics.dq_summary") == [
        (len(GRAIN_CHECKED) * 2 + 7,)
    ]
    # the runner relaxes insertion order for speed and must hand the session back unchanged
    assert fetch(raw_db, "SELECT current_setting('preserve_insertion_order')") == [(True,)]


def test_duplicate_call_is_a_grain_error(raw_db: duckdb.DuckDBPyConnection) -> None:
    insert_call(raw_db, CALLS[0], "hostedsuite")  # c01 loaded twice
    with pytest.raises(TransformCheckError, match=r"unique_fct_calls \(1 rows\)") as caught:
        run_transforms(DuckDBExecutor(raw_db))
    assert "unique_fct_calls" in {c.check_name for c in caught.value.result.errors}
    # the findings were committed for the analyst to read
    assert fetch(
        raw_db,
        "SELECT severity, call_id, details FROM analytics.dq_findings "
        "WHERE check_name = 'unique_fct_calls'",
    ) == [("error", "c01", "key (call_id) occurs 2 times")]
    assert fetch(
        raw_db,
        "SELECT failing_rows FROM analytics.dq_summary WHERE check_name = 'unique_fct_calls'",
    ) == [(1,)]


def test_duration_mismatch_is_a_warning(raw_db: duckdb.DuckDBPyConnection) -> None:
    # ring 5 + talk 50 = 55, but the vendor says 100
    row = ("z01", "K1", "C1", "2024-03-11 15:00:00", "Incoming", "bob", "+13125550077",
           5, 50, 0, 0, 0, 0, 100, False, None)  # fmt: skip
    insert_call(raw_db, row, "hostedsuite")
    result = run_transforms(DuckDBExecutor(raw_db))
    assert [(c.check_name, c.failing_rows) for c in result.warnings] == [("duration_reconciles", 1)]
    assert result.errors == []
    assert fetch(
        raw_db, "SELECT severity, table_name, call_id, details FROM analytics.dq_findings"
    ) == [("warn", "fct_calls", "z01", "duration_seconds=100.0 but ring+talk+hold+transfer=55.0")]
    assert any("WARN: duration_reconciles" in line for line in format_summary(result))


def test_hold_mismatch_is_a_warning(raw_db: duckdb.DuckDBPyConnection) -> None:
    # c07 claims two holds but its interactions show one of 15 s
    raw_db.execute("UPDATE hostedsuite.calls SET hold_count = 2 WHERE id = 'c07'")
    result = run_transforms(DuckDBExecutor(raw_db))
    assert [(c.check_name, c.failing_rows) for c in result.warnings] == [("hold_reconciles", 1)]
    assert fetch(raw_db, "SELECT call_id FROM analytics.dq_findings") == [("c07",)]


def test_raw_schema_is_a_parameter(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "other.duckdb"))
    build_raw(conn, schema="hs_custom")
    result = run_transforms(DuckDBExecutor(conn), raw_schema="hs_custom")
    assert result.row_counts["fct_calls"] == 12
    with pytest.raises(ValueError, match="plain identifier"):
        run_transforms(DuckDBExecutor(conn), raw_schema="x; DROP TABLE y")
    with pytest.raises(RuntimeError, match="raw tables missing"):
        run_transforms(DuckDBExecutor(conn), raw_schema="hostedsuite")


def test_failed_model_rolls_back(raw_db: duckdb.DuckDBPyConnection) -> None:
    run_transforms(DuckDBExecutor(raw_db))
    before = snapshot(raw_db)
    # a later load (dlt stamps what it merges with the load's id)
    raw_db.execute(
        "UPDATE hostedsuite.calls SET type = 'Outgoing', _dlt_load_id = 'load2' WHERE id = 'c01'"
    )
    # a raw column of the wrong type makes a model fail half-way through the build
    raw_db.execute("ALTER TABLE hostedsuite.calls__interactions ALTER seq TYPE VARCHAR")
    raw_db.execute(
        "UPDATE hostedsuite.calls__interactions SET seq = 'x', _dlt_load_id = 'load2' "
        "WHERE seq = '0'"
    )
    with pytest.raises(duckdb.Error):
        run_transforms(DuckDBExecutor(raw_db))
    assert snapshot(raw_db) == before


def test_through_dlt_sql_client(tmp_path: Path) -> None:
    # The production path: the pipeline's own connection, transactions through execute_sql.
    path = str(tmp_path / "dlt.duckdb")
    conn = duckdb.connect(path)
    build_raw(conn)
    conn.close()
    pipeline = dlt.pipeline(
        pipeline_name="transforms_test",
        destination=dlt.destinations.duckdb(path),
        dataset_name="hostedsuite",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with pipeline.sql_client() as client:
        result = run_transforms(client, raw_schema=pipeline.dataset_name, settings=MetricSettings())
    assert result.row_counts["fct_call_metrics_daily"] == 5
    conn = duckdb.connect(path, read_only=True)
    assert fetch(conn, "SELECT count(*) FROM analytics.fct_calls") == [(12,)]


def test_every_model_file_is_run_and_states_its_grain() -> None:
    assert {m.path for m in MODELS} == model_files()
    for model in MODELS:
        first = model.path.read_text(encoding="utf-8").splitlines()[0]
        assert re.match(r"-- grain: one row", first), model.path
