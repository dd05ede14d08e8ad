"""Calls that disappear upstream: ``reconcile`` against the emulator's deletes and retention.

Deleted calls inside and outside the look-back are marked (never removed), leave the marts and
``verify``'s counts, and come back when the API serves them again (through ``reconcile`` or a
scheduled load's re-read); the guard refuses an answer with far fewer calls or none (the
vendor's retention looks like that) until ``--confirm``; and after each step the incremental
refresh equals a full rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum

from transforms import MetricSettings

from .loader import Loader
from .test_incremental_transforms import assert_equals_full_rebuild
from .warehouse import rows

EMULATOR: dict[str, Any] = {"calls": 900, "seed": 17, "start": "2024-03-04", "days": 20}
START, END = "2024-03-04", "2024-03-25"


def marked(path: Path) -> set[str]:
    found = rows(
        path, "SELECT id FROM hostedsuite.calls WHERE is_deleted AND deleted_at IS NOT NULL"
    )
    return {str(r[0]) for r in found}


def in_marts(path: Path) -> set[str]:
    return {str(r[0]) for r in rows(path, "SELECT call_id FROM analytics.fct_calls")}


def reconcile(loader: Loader, *extra: str) -> Any:
    return loader.cli("reconcile", "--start", START, "--end", END, *extra)


def test_deletes_are_marked_and_a_reappearing_call_is_unmarked(
    loader_factory: Any, tmp_path: Path
) -> None:
    loader: Loader = loader_factory(**EMULATOR)
    assert loader.cli(*loader.load_until_now()).returncode == 0
    calls = sorted(loader.emulator.truth().calls, key=lambda c: c["start_time"])
    old, recent = calls[10]["id"], calls[-3]["id"]  # outside and inside the 48 h look-back
    everything = {c["id"] for c in calls}
    loader.emulator.delete_calls([old, recent])

    # a scheduled run re-reads the look-back: a call it no longer sees is not deleted by it
    loader.emulator.advance(minutes=30, new_calls=5)
    assert loader.cli(*loader.load_until_now()).returncode == 0
    run = reconcile(loader)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "marked deleted: 2;" in run.stdout
    assert marked(loader.duckdb_path) == {old, recent}
    stored = {str(r[0]) for r in rows(loader.duckdb_path, "SELECT id FROM hostedsuite.calls")}
    assert everything <= stored  # nothing physically deleted
    assert not in_marts(loader.duckdb_path) & {old, recent}
    interactions = rows(
        loader.duckdb_path,
        "SELECT count(*) FROM analytics.fct_call_interactions "
        f"WHERE call_id IN ('{old}', '{recent}')",
    )
    assert interactions[0][0] == 0
    verify = loader.cli("verify", "--start", START, "--end", "2024-03-23")
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    settings = MetricSettings()
    assert_equals_full_rebuild(loader, settings, tmp_path)

    # the old call comes back: reconcile un-marks it; the recent one: the look-back re-reads it
    loader.emulator.restore_calls([old, recent])
    run = reconcile(loader)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "returned again (un-marked): 2;" in run.stdout
    assert marked(loader.duckdb_path) == set()
    assert {old, recent} <= in_marts(loader.duckdb_path)

    loader.emulator.delete_calls([recent])
    assert reconcile(loader).returncode == 0
    assert marked(loader.duckdb_path) == {recent}
    loader.emulator.restore_calls([recent])
    loader.emulator.advance(minutes=30, new_calls=5)
    loader.emulator.edit_random(4)
    assert loader.cli(*loader.load_until_now()).returncode == 0
    assert marked(loader.duckdb_path) == set()
    assert recent in in_marts(loader.duckdb_path)
    assert_equals_full_rebuild(loader, settings, tmp_path)


def test_the_guard_refuses_mass_deletes_and_empty_answers(loader_factory: Any) -> None:
    loader: Loader = loader_factory(**EMULATOR)
    assert loader.cli(*loader.load_until_now()).returncode == 0
    calls = loader.emulator.truth().calls
    loader.emulator.delete_calls([c["id"] for c in calls[: len(calls) // 4]])

    refused = reconcile(loader)
    assert refused.returncode == 6
    [line] = refused.stderr.strip().splitlines()
    assert f"{len(calls) // 4:,} of the warehouse's {len(calls):,} calls" in line
    assert "--confirm" in line
    columns = rows(
        loader.duckdb_path,
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'is_deleted'",
    )
    assert columns[0][0] == 0  # nothing was written

    # the vendor stops serving everything (a revoked permission looks the same)
    loader.emulator.settings.retention_days = 0
    empty = reconcile(loader)
    assert empty.returncode == 6
    assert "returned no calls for a range where the warehouse holds" in empty.stderr

    loader.emulator.settings.retention_days = None
    confirmed = reconcile(loader, "--confirm")
    assert confirmed.returncode == 0, confirmed.stderr[-3000:]
    assert marked(loader.duckdb_path) == {c["id"] for c in calls[: len(calls) // 4]}


def test_retention_is_refused_then_confirmed(loader_factory: Any) -> None:
    loader: Loader = loader_factory(**EMULATOR)
    assert loader.cli(*loader.load_until_now()).returncode == 0
    loader.emulator.settings.retention_days = 12
    boundary = pendulum.instance(loader.emulator.now).subtract(days=12)
    expired = {c["id"] for c in loader.emulator.truth().calls if c["start_time"] < boundary}
    assert 300 < len(expired) < 700

    assert reconcile(loader).returncode == 6
    confirmed = reconcile(loader, "--confirm")
    assert confirmed.returncode == 0, confirmed.stderr[-3000:]
    assert marked(loader.duckdb_path) == expired
    assert not in_marts(loader.duckdb_path) & expired
