"""The same emulator data loaded into DuckDB and into PostgreSQL: every analytics table equal
row for row (exact keys, counts and text; floating point within 1e-9 relative), with the
column types analysts rely on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostedsuite_emulator import Emulator
from hostedsuite_emulator.config import EmulatorSettings
from tests.pipeline.loader import Loader
from tests.pipeline.warehouse import assert_matches_truth, rows

from .compare import differences, tables

EMULATOR: dict[str, Any] = {"calls": 1500, "seed": 31, "start": "2024-03-04", "days": 30}


def test_every_analytics_table_equal_across_destinations(
    tmp_path: Path,
    emulator_factory: Callable[..., Emulator],
    postgres_loader_factory: Callable[..., Any],
) -> None:
    emulator = emulator_factory(**EMULATOR)
    duck = Loader(emulator, tmp_path / "warehouse.duckdb", tmp_path / "duck-pipelines")
    postgres = postgres_loader_factory(emulator)
    duck.load(transform=True)
    postgres.load(transform=True)
    # a late edit and new calls: the incremental refresh must agree too
    emulator.advance(minutes=90, new_calls=40)
    emulator.edit_random(10)
    duck.load(transform=True)
    postgres.load(transform=True)

    compared = tables(duck.duckdb_path, postgres.dsn)
    differing = {
        t: d[:3] for t in compared if (d := differences(duck.duckdb_path, postgres.dsn, t))
    }
    assert not differing, differing
    # not vacuously equal: the emulator's calls are all there, on both
    calls = len(emulator.truth().calls)
    assert rows(postgres.dsn, "SELECT count(*) FROM analytics.fct_calls") == [(calls,)]
    assert_postgres_types(postgres.dsn)


def assert_postgres_types(dsn: str) -> None:
    """The types analysts rely on: instants timestamptz, wall times timestamp, ratios double."""
    types = dict(
        rows(
            dsn,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'analytics'",
        )
    )
    assert types["fct_calls.start_time_utc"] == "timestamp with time zone"
    assert types["fct_calls.start_time_local"] == "timestamp without time zone"
    assert types["fct_call_metrics_interval.interval_start_utc"] == "timestamp with time zone"
    assert types["fct_call_metrics_interval.interval_start_local"] == "timestamp without time zone"
    assert types["fct_call_metrics_daily.service_level_pct"] == "double precision"
    assert types["fct_agent_metrics_daily.hold_rate_pct"] == "double precision"
    assert types["fct_calls.hold_ratio"] == "double precision"
    assert types["fct_call_metrics_daily.calls_offered"] == "bigint"
    assert types["fct_calls.local_date"] == "date"
    utc = [c for c in types if c.endswith("_utc")]
    local = [c for c in types if c.endswith("_local")]
    assert utc and all(types[c] == "timestamp with time zone" for c in utc)
    assert local and all(types[c] == "timestamp without time zone" for c in local)


ODD_VALUES = ("", None, "comma, inside", 'a "quoted" word', "two\nlines", "back\\slash", "\\N")


def test_odd_text_is_stored_exactly_by_postgresql_copy(
    tmp_path: Path,
    emulator_factory: Callable[..., Emulator],
    postgres_loader_factory: Callable[..., Any],
) -> None:
    """Text that a CSV ``COPY`` could garble ("" against NULL, a delimiter, a quote, a newline,
    a backslash, ``\\N``) lands exactly as the API served it, in the calls and their child rows,
    and PostgreSQL equals DuckDB; the calls did go through ``COPY``."""
    emulator = emulator_factory(
        calls=400, seed=12, start="2024-03-04", days=10, settings=EmulatorSettings(odd_text=True)
    )
    duck = Loader(emulator, tmp_path / "warehouse.duckdb", tmp_path / "duck-pipelines")
    postgres = postgres_loader_factory(emulator)
    duck.load(transform=True)
    postgres.load(transform=True)
    truth = emulator.truth()
    assert_matches_truth(postgres.dsn, truth)  # every column of every call and child row
    assert_matches_truth(duck.duckdb_path, truth)
    for value in ODD_VALUES:  # each odd value reached both tables, on both destinations
        calls = sum(1 for c in truth.calls if c["notes"] == value)
        steps = sum(1 for i in truth.interactions if i["description"] == value)
        assert calls > 0 and steps > 0, value
        for warehouse in (postgres.dsn, duck.duckdb_path):
            where = "IS NULL" if value is None else "= " + literal(value)
            assert rows(
                warehouse, f"SELECT count(*) FROM hostedsuite.calls WHERE notes {where}"
            ) == [(calls,)]
            assert rows(
                warehouse,
                f"SELECT count(*) FROM hostedsuite.calls__interactions WHERE description {where}",
            ) == [(steps,)]
    compared = tables(duck.duckdb_path, postgres.dsn)
    differing = {
        t: d[:3] for t in compared if (d := differences(duck.duckdb_path, postgres.dsn, t))
    }
    assert not differing, differing
    # the calls and their interactions were loaded by COPY from CSV, the centers by INSERT
    jobs = {
        (job.name.split(".")[0], job.name.split(".")[3])
        for job in postgres.pipelines_dir.glob("*/load/loaded/*/completed_jobs/*")
    }
    assert {("calls", "csv"), ("calls__interactions", "csv"), ("centers", "insert_values")} <= jobs
    assert ("calls", "insert_values") not in jobs


def literal(value: str) -> str:
    """A SQL string literal both DuckDB and PostgreSQL read as ``value`` (no escapes in it)."""
    return "'" + value.replace("'", "''") + "'"
