"""The pipeline into a real PostgreSQL server: raw rows equal the emulator's truth (also after
late edits and a crash), and the CLI commands with dlt's usual PostgreSQL configuration."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from tests.pipeline.warehouse import assert_matches_truth, form_ids, interactions, rows

from .postgres_loader import PostgresLoader


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
    # dlt's own merge SQL on PostgreSQL: duckdb_merge's DuckDB corrections are not installed there
    deletes = [
        line
        for sql in loader.pipelines_dir.rglob("calls__interactions.*.sql")
        for line in sql.read_text().splitlines()
        if line.startswith("DELETE")
    ]
    assert deletes and all(" OR " in d for d in deletes), deletes


@pytest.mark.parametrize("point", ["load", "transforms"])
def test_crash_then_rerun_is_exact(
    postgres_loader_factory: Callable[..., PostgresLoader], point: str
) -> None:
    loader = postgres_loader_factory(calls=500, seed=21)
    loader.load(transform=True)
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
    loader = postgres_loader_factory(calls=800, seed=36)
    truth = loader.emulator.truth()
    load = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert load.returncode == 0, load.stderr
    assert "serving copy: skipped (the warehouse is a postgres server" in load.stdout
    assert rows(loader.dsn, "SELECT count(*) FROM hostedsuite.calls") == [(len(truth.calls),)]
    assert rows(loader.dsn, "SELECT count(*) FROM analytics.fct_calls") == [(len(truth.calls),)]

    clean = loader.cli("verify", "--start", "2024-03-05", "--end", "2024-03-20")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "verify 2024-03-05..2024-03-20: " in clean.stdout and ", 0 differ" in clean.stdout
    health = "SELECT verified_complete_through, days_with_differences FROM analytics.load_health"
    assert [(str(d), n) for d, n in rows(loader.dsn, health)] == [("2024-03-20", 0)]
    day_counts = Counter(
        (c["center_id"], c["start_time_local"].date().isoformat())
        for c in truth.calls
        if "2024-03-05" <= c["start_time_local"].date().isoformat() <= "2024-03-20"
    )
    completeness = rows(
        loader.dsn, "SELECT center_id, local_date, warehouse_count FROM analytics.completeness"
    )
    assert {(c, str(d)): n for c, d, n in completeness if n} == dict(day_counts)

    # a UTC day lost from the warehouse: a backfill brings it back, transform rebuilds the marts
    start, end = "2024-03-12T00:00:00Z", "2024-03-13T00:00:00Z"
    lost = f"start_time >= '{start}' AND start_time < '{end}'"
    expected_lost = sum(
        1 for c in truth.calls if c["start_time"].date().isoformat() == "2024-03-12"
    )
    assert expected_lost > 0
    _execute(loader.dsn, f"DELETE FROM hostedsuite.calls WHERE {lost}")
    backfill = loader.cli("backfill", "--start", start, "--end", end, "--no-transform")
    assert backfill.returncode == 0, backfill.stderr
    assert_matches_truth(loader.dsn, truth)
    _execute(loader.dsn, "CREATE VIEW analytics.my_view AS SELECT call_id FROM analytics.fct_calls")
    transform = loader.cli("transform", "--full")
    assert transform.returncode == 0, transform.stderr
    assert f"fct_calls: {len(truth.calls):,} rows" in transform.stdout
    assert "serving copy: skipped" in transform.stdout
    in_marts = lost.replace("start_time", "start_time_utc")
    marts = f"SELECT count(*) FROM analytics.fct_calls WHERE {in_marts}"
    assert rows(loader.dsn, marts) == [(expected_lost,)]
    # as the README warns: a full rebuild drops the views analysts built on analytics tables
    views = "SELECT count(*) FROM information_schema.views WHERE table_name = 'my_view'"
    assert rows(loader.dsn, views) == [(0,)]


def _execute(dsn: str, sql: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def test_unknown_destination_is_a_one_line_config_error(
    postgres_loader_factory: Callable[..., PostgresLoader],
) -> None:
    loader = postgres_loader_factory(calls=50, seed=1)
    result = loader.cli("transform", env={"DESTINATION_NAME": "oracle"})
    assert result.returncode == 2
    assert "destination 'oracle' is not supported; use one of: duckdb, postgres" in result.stderr
    with_file = loader.cli("transform", "--duckdb", "w.duckdb")
    assert with_file.returncode == 2
    assert "--duckdb names a DuckDB file, but the destination is 'postgres'" in with_file.stderr


def test_the_password_may_come_from_libpq(
    postgres_loader_factory: Callable[..., PostgresLoader], tmp_path: Path
) -> None:
    """A DSN without a password: libpq reads PGPASSWORD or a password file (~/.pgpass, here
    PGPASSFILE), as psql does; with neither, one line and exit 5, as for a refused login."""
    loader = postgres_loader_factory(calls=120, seed=4)
    parts = urlsplit(loader.dsn)
    password = parts.password
    assert password
    bare = parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}").geturl()
    env = {"DESTINATION__POSTGRES__CREDENTIALS": bare, "PGPASSWORD": "", "PGPASSFILE": ""}
    load = loader.cli(*loader.load_until_now(), env={**env, "PGPASSWORD": password})
    assert load.returncode == 0, load.stderr
    assert rows(loader.dsn, "SELECT count(*) FROM hostedsuite.calls") == [(120,)]

    passfile = tmp_path / "pgpass"
    passfile.write_text(f"{parts.hostname}:{parts.port}:*:{parts.username}:{password}\n")
    passfile.chmod(0o600)
    transform = loader.cli("transform", env={**env, "PGPASSFILE": str(passfile)})
    assert transform.returncode == 0, transform.stderr
    assert rows(loader.dsn, "SELECT count(*) FROM analytics.fct_calls") == [(120,)]

    missing = tmp_path / "no-such-pgpass"
    refused = loader.cli("transform", env={**env, "PGPASSFILE": str(missing)})
    assert refused.returncode == 5, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), refused.stderr
    assert "password" in lines[0], lines
