"""The pipeline into a real PostgreSQL server: raw rows equal the emulator's truth (also after
late edits and a crash), and the CLI commands with dlt's usual PostgreSQL configuration."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.pipeline.warehouse import assert_matches_truth, form_ids, interactions, rows

from .conftest import PostgresLoader


def test_late_edits_stay_exact(postgres_loader_factory: Callable[..., PostgresLoader]) -> None:
    loader = postgres_loader_factory(calls=1200, seed=8)
    loader.load()
    assert_matches_truth(loader.dsn, loader.emulator.truth())
    loader.emulator.edit_random(15)
    loader.emulator.advance(minutes=90, new_calls=30)
    truth = loader.emulator.truth()
    recent = {
        c["id"] for c in truth.calls if c["start_time"] >= loader.emulator.now - timedelta(hours=40)
    }
    with_forms = sorted({f["call_id"] for f in truth.completed_form_ids} & recent)
    counts = Counter(i["call_id"] for i in truth.interactions)
    shortened = next(i for i in sorted(recent) if counts[i] >= 3 and i != with_forms[0])
    loader.emulator.edit_call(with_forms[0], completed_form_ids=[], notes="forms withdrawn — «ok»")
    loader.emulator.edit_call(
        shortened,
        interactions=[{"offset_seconds": 0.0, "type": "Hangup", "description": "dropped"}],
    )
    loader.load()
    assert_matches_truth(loader.dsn, loader.emulator.truth())
    assert not [k for k in form_ids(loader.dsn) if k[0] == with_forms[0]]
    assert [k[4] for k in interactions(loader.dsn) if k[0] == shortened] == ["Hangup"]


@pytest.mark.parametrize("point", ["load", "transforms"])
def test_crash_then_rerun_is_exact(
    postgres_loader_factory: Callable[..., PostgresLoader], point: str
) -> None:
    loader = postgres_loader_factory(calls=800, seed=21)
    assert loader.cli(*loader.load_until_now()).returncode == 0
    loader.emulator.edit_random(10)
    new_ids = loader.emulator.advance(minutes=120, new_calls=40)
    crashed = loader.crash(point, *loader.load_until_now())
    assert crashed.returncode == -9, f"the kill point {point} was not reached: {crashed.stderr}"
    rerun = loader.cli(*loader.load_until_now())
    assert rerun.returncode == 0, rerun.stderr
    assert_matches_truth(loader.dsn, loader.emulator.truth())
    stored = {r[0] for r in rows(loader.dsn, "SELECT call_id FROM analytics.fct_calls")}
    assert set(new_ids) <= stored
    assert len(stored) == len(loader.emulator.truth().calls)


def test_cli_commands_with_postgres_configuration(
    postgres_loader_factory: Callable[..., PostgresLoader],
) -> None:
    loader = postgres_loader_factory(calls=1500, seed=36)
    truth = loader.emulator.truth()
    load = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert load.returncode == 0, load.stderr
    assert "serving copy: skipped (the warehouse is a postgres server" in load.stdout
    assert rows(loader.dsn, "SELECT count(*) FROM hostedsuite.calls") == [(len(truth.calls),)]
    assert rows(loader.dsn, "SELECT count(*) FROM analytics.fct_calls") == [(len(truth.calls),)]

    # a day lost from the warehouse: verify finds it, a backfill brings it back
    day = "2024-03-12"
    center = rows(
        loader.dsn,
        f"SELECT min(center_id) FROM hostedsuite.calls WHERE start_time_local::date = '{day}'",
    )[0][0]
    lost = f"center_id = '{center}' AND start_time_local::date = '{day}'"
    expected_lost = sum(
        1
        for c in truth.calls
        if c["center_id"] == center and c["start_time_local"].date().isoformat() == day
    )
    assert rows(loader.dsn, f"SELECT count(*) FROM hostedsuite.calls WHERE {lost}") == [
        (expected_lost,)
    ]
    import psycopg2

    with psycopg2.connect(loader.dsn) as conn, conn.cursor() as cursor:
        cursor.execute(f"DELETE FROM hostedsuite.calls WHERE {lost}")
    dirty = loader.cli("verify", "--start", "2024-03-05", "--end", "2024-03-20")
    assert dirty.returncode == 6, dirty.stderr
    assert f"{center} {day}: api {expected_lost}, warehouse 0 (missing)" in dirty.stdout
    health = "SELECT verified_complete_through, days_with_differences FROM analytics.load_health"
    assert [(str(d), n) for d, n in rows(loader.dsn, health)] == [("2024-03-11", 1)]

    backfill = loader.cli("backfill", "--start", "2024-03-12", "--end", "2024-03-13")
    assert backfill.returncode == 0, backfill.stderr
    assert_matches_truth(loader.dsn, truth)
    transform = loader.cli("transform", "--full")
    assert transform.returncode == 0, transform.stderr
    assert f"fct_calls: {len(truth.calls):,} rows" in transform.stdout
    clean = loader.cli("verify", "--start", "2024-03-05", "--end", "2024-03-20")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 differ" in clean.stdout
    assert [(str(d), n) for d, n in rows(loader.dsn, health)] == [("2024-03-20", 0)]
    completeness = rows(
        loader.dsn,
        f"SELECT api_count, warehouse_count, status FROM analytics.completeness "
        f"WHERE center_id = '{center}' AND local_date = '{day}'",
    )
    assert completeness == [(expected_lost, expected_lost, "ok")]


def test_unknown_destination_is_a_one_line_config_error(
    postgres_loader_factory: Callable[..., PostgresLoader],
) -> None:
    loader = postgres_loader_factory(calls=50, seed=1)
    result = loader.cli("transform", env={"DESTINATION_NAME": "oracle"})
    assert result.returncode == 2
    assert "destination 'oracle' is not supported; use one of: duckdb, postgres" in result.stderr
