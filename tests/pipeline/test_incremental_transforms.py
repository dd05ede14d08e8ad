"""Incremental transforms == a full rebuild, over many real runs against the emulator.

New calls, late edits (some removing every form or most interactions), a repeat pair straddling
the rebuilt days, a backfill of an old range across a DST change, a settings change and a kill
mid-transform. After each run, every analytics table (and the two intermediate tables the
refresh keeps) equals a full rebuild of a copy of the same warehouse file, compared with
``EXCEPT ALL`` both ways on every column.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.analytics_tables import compared_columns, compared_tables
from transforms import DuckDBExecutor, MetricSettings, run_transforms
from transforms.refresh import STATE_TABLE

from .loader import Loader

# US DST starts 2024-03-10, EU DST 2024-03-31: both inside the data; the emulator adds calls in
# the hours around each change.
EMULATOR: dict[str, Any] = {"calls": 2500, "seed": 31, "start": "2024-03-04", "days": 30}
# Besides every analytics table (tests/analytics_tables.py): the tables the refresh keeps.
INTERMEDIATE = ["int_hold_segments", "int_call_metrics_rollup"]


def refresh_state(path: Path) -> tuple[str, str, str]:
    """(last_refresh, full_rebuild_reason, raw_load_id) of the warehouse's analytics."""
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            f"SELECT last_refresh, full_rebuild_reason, raw_load_id FROM analytics.{STATE_TABLE}"
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1]), str(row[2])


def assert_equals_full_rebuild(loader: Loader, settings: MetricSettings, folder: Path) -> None:
    """A full rebuild of a copy of the warehouse file has the very same rows in every table."""
    copy = folder / "rebuilt.duckdb"
    shutil.copyfile(loader.duckdb_path, copy)
    with duckdb.connect(str(copy)) as conn:
        run_transforms(DuckDBExecutor(conn), settings=settings, full=True)
        conn.execute(f"ATTACH '{loader.duckdb_path}' AS refreshed (READ_ONLY)")
        differing = {}
        analytics = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'rebuilt' "
            "AND table_schema = 'analytics'"
        ).fetchall()
        compared = [
            *(("analytics", table) for table in compared_tables(name for (name,) in analytics)),
            *(("intermediate", table) for table in INTERMEDIATE),
        ]
        for schema, table in compared:
            names = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
                f"'rebuilt' AND table_schema = '{schema}' AND table_name = '{table}' "
                "ORDER BY ordinal_position"
            ).fetchall()
            assert names, f"{schema}.{table} missing"
            kept = compared_columns(table, (name for (name,) in names))
            columns = ", ".join(f'"{name}"' for name in kept)
            full = f"SELECT {columns} FROM rebuilt.{schema}.{table}"
            incremental = f"SELECT {columns} FROM refreshed.{schema}.{table}"
            only_full = conn.execute(f"SELECT count(*) FROM ({full} EXCEPT ALL {incremental})")
            missing = only_full.fetchone()
            only_incremental = conn.execute(
                f"SELECT count(*) FROM ({incremental} EXCEPT ALL {full})"
            ).fetchone()
            assert missing is not None and only_incremental is not None
            if missing[0] or only_incremental[0]:
                differing[table] = (missing[0], only_incremental[0])
    copy.unlink()
    assert not differing, f"(rows only in the full rebuild, only in the refresh): {differing}"


def fct_call(path: Path, call_id: str) -> dict[str, Any]:
    with duckdb.connect(str(path), read_only=True) as conn:
        cursor = conn.execute("SELECT * FROM analytics.fct_calls WHERE call_id = ?", [call_id])
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    assert row is not None, call_id
    return dict(zip(names, row, strict=True))


def kill_mid_transform(loader: Loader) -> subprocess.CompletedProcess[str]:
    return loader.crash("transforms", *loader.load_until_now())


def test_incremental_refresh_equals_full_rebuild(
    loader_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loader: Loader = loader_factory(**EMULATOR)
    emu = loader.emulator
    settings = MetricSettings()

    def load_and_compare(expected_refresh: str) -> None:
        loader.load(transform=True)
        compare(expected_refresh)

    def compare(expected_refresh: str) -> None:
        refresh, reason, _ = refresh_state(loader.duckdb_path)
        assert refresh == expected_refresh, reason
        assert_equals_full_rebuild(loader, settings, tmp_path)

    # 1. The first run builds everything.
    load_and_compare("full")

    # 2. New calls and late edits, some of which remove children.
    emu.advance(minutes=90, new_calls=40)
    edited = emu.edit_random(12)
    emu.edit_call(edited[0], completed_form_ids=[])
    emu.edit_call(
        edited[1],
        completed_form_ids=[],
        interactions=[{"offset_seconds": 0, "type": "Hangup", "description": "dropped"}],
    )
    load_and_compare("incremental")
    assert fct_call(loader.duckdb_path, edited[1])["interaction_count"] == 1

    # 3. A repeat pair straddling the rebuilt days: a new call from the number of a call days
    # before the look-back (its day is not re-read) makes that earlier call a repeat call.
    with duckdb.connect(str(loader.duckdb_path), read_only=True) as conn:
        earlier = conn.execute(
            """
            SELECT call_id, client_id, caller_number
            FROM analytics.fct_calls
            WHERE is_incoming AND NOT is_repeat_call AND client_id <> '(unknown)'
                AND regexp_replace(caller_number, '[^0-9]', '', 'g') <> ''
                AND start_time_utc BETWEEN ?::TIMESTAMPTZ - INTERVAL 6 DAY
                    AND ?::TIMESTAMPTZ - INTERVAL 4 DAY
            ORDER BY call_id
            LIMIT 1
            """,
            [emu.now.isoformat(), emu.now.isoformat()],
        ).fetchone()
    assert earlier is not None
    emu.advance(minutes=30, new_calls=5)
    repeat_id = emu.add_call(earlier[1], emu.now - timedelta(minutes=10), earlier[2])
    load_and_compare("incremental")
    flagged = fct_call(loader.duckdb_path, earlier[0])
    assert (flagged["is_repeat_call"], flagged["repeat_call_id"]) == (True, repeat_id)

    # 4. A backfill of an old range across the US DST change, carrying a late edit there.
    truth = emu.truth()
    with_forms = {form["call_id"] for form in truth.completed_form_ids}
    old = next(
        c
        for c in truth.calls
        if c["start_time_local"].date().isoformat() == "2024-03-10" and c["id"] in with_forms
    )
    emu.edit_call(old["id"], completed_form_ids=[], notes="corrected weeks later")
    backfill = loader.cli("backfill", "--start", "2024-03-09", "--end", "2024-03-12")
    assert backfill.returncode == 0, backfill.stderr
    compare("incremental")
    assert fct_call(loader.duckdb_path, old["id"])["forms_completed"] == 0

    # 5. Other settings rebuild everything once, then refreshes continue under them.
    monkeypatch.setenv("TRANSFORMS__REPEAT_CALL_WINDOW_HOURS", "72")
    monkeypatch.setenv("TRANSFORMS__INTERVAL_MINUTES", "30")
    settings = MetricSettings(repeat_call_window_hours=72, interval_minutes=30)
    emu.advance(minutes=60, new_calls=20)
    load_and_compare("full")
    emu.advance(minutes=60, new_calls=20)
    emu.edit_random(6)
    load_and_compare("incremental")

    # 6. A kill mid-transform leaves the previous analytics and watermark; the next run catches
    # up on both loads.
    _, _, watermark = refresh_state(loader.duckdb_path)
    emu.advance(minutes=60, new_calls=30)
    emu.edit_random(6)
    crashed = kill_mid_transform(loader)
    assert crashed.returncode == -9, f"the kill point was not reached: {crashed.stderr}"
    assert refresh_state(loader.duckdb_path)[2] == watermark
    load_and_compare("incremental")
