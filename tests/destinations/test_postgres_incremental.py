"""Incremental transforms == a full rebuild, on PostgreSQL: after new calls, late edits that
remove children, a settings change and a kill mid-transform, every analytics table (and the two
intermediate tables the refresh keeps) equals a full rebuild of a copy of the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg2
import pytest

from tests.pipeline.warehouse import rows
from tests.postgres_server import PostgresServer
from transforms import DbApiExecutor, MetricSettings, TransformResult, run_transforms
from transforms.refresh import STATE_TABLE

from .compare import differences, tables
from .postgres_loader import PostgresLoader

INTERMEDIATE = ("int_hold_segments", "int_call_metrics_rollup")


def _transform(dsn: str, settings: MetricSettings, full: bool = False) -> TransformResult:
    """The transforms on the database at ``dsn``, as the pipeline runs them."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True  # the runner sends its own BEGIN and COMMIT
    try:
        return run_transforms(DbApiExecutor(conn), settings=settings, full=full)
    finally:
        conn.close()


def assert_equals_full_rebuild(
    loader: PostgresLoader, server: PostgresServer, settings: MetricSettings, expected: str
) -> None:
    state = rows(
        loader.dsn, f"SELECT last_refresh, full_rebuild_reason FROM analytics.{STATE_TABLE}"
    )
    assert state[0][0] == expected, state
    database = loader.dsn.rsplit("/", 1)[1]
    copy = f"{database}_full"
    server.sql(f'DROP DATABASE IF EXISTS "{copy}"')
    server.sql(f'CREATE DATABASE "{copy}" TEMPLATE "{database}"')
    _transform(server.dsn(copy), settings, full=True)
    compared = tables(server.dsn(copy), loader.dsn)
    differing = {t: d[:2] for t in compared if (d := differences(server.dsn(copy), loader.dsn, t))}
    for table in INTERMEDIATE:
        full = rows(server.dsn(copy), f"SELECT * FROM intermediate.{table}")
        refreshed = rows(loader.dsn, f"SELECT * FROM intermediate.{table}")
        if sorted(map(repr, full)) != sorted(map(repr, refreshed)):
            differing[table] = ["rows differ"]
    server.sql(f'DROP DATABASE "{copy}"')
    assert not differing, f"(full rebuild vs refresh): {differing}"


def test_incremental_refresh_equals_full_rebuild_on_postgres(
    postgres_loader_factory: Callable[..., PostgresLoader],
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loader = postgres_loader_factory(calls=1500, seed=31, start="2024-03-04", days=30)
    emu = loader.emulator
    settings = MetricSettings()
    loader.load(transform=True)
    assert_equals_full_rebuild(loader, postgres_server, settings, "full")

    # new calls and late edits, some removing every form or most interactions
    emu.advance(minutes=90, new_calls=40)
    edited = emu.edit_random(12)
    emu.edit_call(edited[0], completed_form_ids=[])
    emu.edit_call(
        edited[1],
        completed_form_ids=[],
        interactions=[{"offset_seconds": 0, "type": "Hangup", "description": "dropped"}],
    )
    loader.load(transform=True)
    assert_equals_full_rebuild(loader, postgres_server, settings, "incremental")
    count = f"SELECT interaction_count FROM analytics.fct_calls WHERE call_id = '{edited[1]}'"
    assert rows(loader.dsn, count) == [(1,)]

    # a quiet run: nothing new or changed, so the refresh redoes no call and no day
    emu.advance(minutes=5, new_calls=0)
    loader.load(transform=True)
    assert_equals_full_rebuild(loader, postgres_server, settings, "incremental")
    assert rows(loader.dsn, "SELECT count(*) FROM intermediate.affected_calls") == [(0,)]

    # other settings rebuild everything once, then refreshes continue under them
    monkeypatch.setenv("TRANSFORMS__INTERVAL_MINUTES", "30")
    settings = MetricSettings(interval_minutes=30)
    emu.advance(minutes=60, new_calls=20)
    loader.load(transform=True)
    assert_equals_full_rebuild(loader, postgres_server, settings, "full")

    # a kill mid-transform rolls back to the previous analytics and watermark; the next run
    # catches up on both loads
    watermark = f"SELECT raw_load_id FROM analytics.{STATE_TABLE}"
    before = rows(loader.dsn, watermark)
    emu.advance(minutes=60, new_calls=30)
    emu.edit_random(6)
    crashed = loader.crash("transforms", *loader.load_until_now())
    assert crashed.returncode == -9, f"the kill point was not reached: {crashed.stderr}"
    assert rows(loader.dsn, watermark) == before
    loader.load(transform=True)
    assert_equals_full_rebuild(loader, postgres_server, settings, "incremental")


def _sql(dsn: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """``statement`` with ``params`` in its own committed transaction; its rows, if any."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def _refresh(dsn: str) -> tuple[str, int]:
    """Runs the transforms on the warehouse: whether the refresh was full, and the calls it
    rebuilt."""
    result = _transform(dsn, MetricSettings())
    return result.refresh, result.calls_rebuilt


def test_interactions_loaded_before_their_call_are_replaced_on_postgres(
    postgres_loader_factory: Callable[..., PostgresLoader], postgres_server: PostgresServer
) -> None:
    """A held call's row is missing at the first refresh: its interactions and its hold are in
    the marts without their call. When the row comes with a later load, the call is new to
    fct_calls, but its interactions are not: they are replaced, not kept twice (kept twice,
    they failed the refresh's uniqueness checks, which read the marts on PostgreSQL)."""
    loader = postgres_loader_factory(calls=200, seed=41, start="2024-03-04", days=5)
    loader.load()
    dsn = loader.dsn
    held = _sql(
        dsn,
        "SELECT call_id, count(*) FROM hostedsuite.calls__interactions GROUP BY call_id "
        "HAVING bool_or(type = 'Hold') ORDER BY call_id LIMIT 1",
    )
    assert held, "the emulator made no held call"
    call_id, events = held[0]
    _sql(
        dsn,
        "CREATE TABLE public.kept_call AS SELECT * FROM hostedsuite.calls WHERE id = %s",
        (call_id,),
    )
    _sql(dsn, "DELETE FROM hostedsuite.calls WHERE id = %s", (call_id,))
    assert _refresh(dsn)[0] == "full"
    counts = (
        "SELECT (SELECT count(*) FROM analytics.fct_call_interactions WHERE call_id = %s), "
        "(SELECT count(offset_seconds) FROM analytics.fct_call_interactions WHERE call_id = %s), "
        "(SELECT count(*) FROM intermediate.int_hold_segments WHERE call_id = %s)"
    )
    (without_call,) = _sql(dsn, counts, (call_id,) * 3)
    assert without_call[:2] == (events, 0)
    holds = without_call[2]
    assert holds >= 1

    # the row comes with a later load, which stamps the call's children too (as dlt's merge
    # writes a call and its children from one record)
    (newest,) = _sql(dsn, "SELECT max(_dlt_load_id) FROM hostedsuite.calls")[0]
    later = f"{float(newest) + 60:.6f}"
    _sql(dsn, "INSERT INTO hostedsuite.calls SELECT * FROM public.kept_call")
    for table, key in (("calls", "id"), ("calls__interactions", "call_id")):
        _sql(
            dsn,
            f"UPDATE hostedsuite.{table} SET _dlt_load_id = %s WHERE {key} = %s",
            (later, call_id),
        )
    _sql(dsn, "DROP TABLE public.kept_call")
    assert _refresh(dsn) == ("incremental", 1)
    assert _sql(dsn, counts, (call_id,) * 3) == [(events, events, holds)]
    assert_equals_full_rebuild(loader, postgres_server, MetricSettings(), "incremental")


def test_a_call_moved_ten_days_is_refreshed_like_a_full_rebuild_on_postgres(
    postgres_loader_factory: Callable[..., PostgresLoader], postgres_server: PostgresServer
) -> None:
    """PostgreSQL's refresh searches fct_calls for a changed call's old row by id (DuckDB's
    searches the range of the new start times first, see transforms/README.md, "Old
    versions"): a call whose start time the vendor corrected by ten days, into the look-back,
    has its old row replaced, not kept beside the new one."""
    loader = postgres_loader_factory(calls=600, seed=43, start="2024-03-04", days=20)
    loader.load(transform=True)
    emu = loader.emulator
    moved = next(
        c
        for c in sorted(emu.truth().calls, key=lambda c: c["start_time"])
        if timedelta(days=11) < emu.now - c["start_time"] < timedelta(days=11, hours=12)
    )
    # ten days later: 1 to 1.5 days before the clock, inside the 48 h look-back
    emu.move_call(moved["id"], 10 * 24 * 3600)
    emu.advance(minutes=30, new_calls=10)
    loader.load(transform=True)
    assert_equals_full_rebuild(loader, postgres_server, MetricSettings(), "incremental")
    starts = rows(
        loader.dsn,
        f"SELECT start_time_utc FROM analytics.fct_calls WHERE call_id = '{moved['id']}'",
    )
    assert starts == [(moved["start_time"] + timedelta(days=10),)]
