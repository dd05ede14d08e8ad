"""kill -9 at deliberate points, then one plain rerun: warehouse == truth, no orphans."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .loader import Loader
from .warehouse import assert_matches_truth, rows


def _crash(loader: Loader, point: str) -> subprocess.CompletedProcess[str]:
    return loader.crash(point, *loader.load_until_now())


def _assert_no_orphans(loader: Loader) -> None:
    for table in ("calls__interactions", "calls__completed_form_ids"):
        orphans = rows(
            loader.duckdb_path,
            f"""
            SELECT count(*) FROM hostedsuite.{table} t
            LEFT JOIN hostedsuite.calls c ON c.id = t.call_id WHERE c.id IS NULL
        """,
        )[0][0]
        assert orphans == 0, f"{orphans} orphan rows in {table}"


@pytest.mark.parametrize("point", ["extract", "after_normalize", "load", "transforms"])
def test_one_rerun_after_kill_is_exact(loader_factory, point: str) -> None:
    loader = loader_factory(calls=1500, seed=21)
    first = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert first.returncode == 0, first.stderr
    loader.emulator.edit_random(20)
    new_ids = loader.emulator.advance(minutes=120, new_calls=60)

    crashed = _crash(loader, point)
    assert crashed.returncode == -9, f"the kill point {point} was not reached: {crashed.stderr}"

    rerun = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert rerun.returncode == 0, rerun.stderr
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    _assert_no_orphans(loader)
    stored = {r[0] for r in rows(loader.duckdb_path, "SELECT call_id FROM analytics.fct_calls")}
    assert set(new_ids) <= stored, "the analytics tables were not rebuilt after recovery"


def test_pending_package_is_loaded_then_new_calls_in_the_same_run(loader_factory) -> None:
    loader = loader_factory(calls=800, seed=22)
    crashed = _crash(loader, "after_normalize")
    assert crashed.returncode == -9
    new_ids = loader.emulator.advance(minutes=60, new_calls=25)
    rerun = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert rerun.returncode == 0, rerun.stderr
    assert "pending load package" in rerun.stdout + rerun.stderr
    stored = {r[0] for r in rows(loader.duckdb_path, "SELECT id FROM hostedsuite.calls")}
    assert set(new_ids) <= stored
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_a_rebuild_in_slices_killed_midway_is_redone_and_the_copy_kept(loader_factory) -> None:
    # A full rebuild in slices commits each slice: killed in its second slice, it leaves the
    # first slice's marts in the warehouse, marked unfinished; the analysts' copy stays the
    # last one published, and the next run rebuilds everything and publishes.
    loader = loader_factory(calls=1500, seed=23)
    first = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert first.returncode == 0, first.stderr
    serving = loader.duckdb_path.with_name("warehouse.serving.duckdb")
    published = os.path.realpath(serving)
    copy_before = Path(published).read_bytes()
    calls = len(loader.emulator.truth().calls)

    slices = {"TRANSFORMS__REBUILD_SLICE_CALLS": "500"}  # 1,500 calls: 3 slices
    crashed = loader.crash("second_slice", "transform", "--full", env=slices)
    assert crashed.returncode == -9, f"the second slice was not reached: {crashed.stderr}"
    partial = rows(loader.duckdb_path, "SELECT count(*) FROM analytics.fct_calls")[0][0]
    assert 0 < partial < calls
    state = rows(loader.duckdb_path, "SELECT sql_hash FROM analytics.transform_state")
    assert state == [("unfinished full rebuild",)]
    assert os.path.realpath(serving) == published
    assert Path(published).read_bytes() == copy_before

    rerun = loader.cli("load", "--until", loader.emulator.now.isoformat(), env=slices)
    assert rerun.returncode == 0, rerun.stderr
    assert "full rebuild: an earlier full rebuild did not finish" in rerun.stdout, rerun.stdout
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    stored = rows(loader.duckdb_path, "SELECT count(*) FROM analytics.fct_calls")[0][0]
    assert stored == calls
    copied = rows(serving, "SELECT count(*) FROM analytics.fct_calls")[0][0]
    assert copied == calls
