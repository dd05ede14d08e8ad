"""Incremental runs: nothing new adds nothing, new calls land, late edits replace children."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pendulum

from pipelines.summary import summary_lines

from .warehouse import assert_matches_truth, form_ids, interactions, rows


def _count(loader, table: str) -> int:
    return int(rows(loader.duckdb_path, f"SELECT count(*) FROM hostedsuite.{table}")[0][0])


def test_second_run_with_nothing_new_changes_nothing(loader_factory) -> None:
    loader = loader_factory(calls=1000, seed=4)
    first = loader.load()
    before = {
        t: _count(loader, t) for t in ("calls", "calls__interactions", "calls__completed_form_ids")
    }
    second = loader.load()
    after = {t: _count(loader, t) for t in before}
    assert after == before
    assert second.complete_through == first.complete_through
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_new_calls_arrive_and_are_added(loader_factory) -> None:
    loader = loader_factory(calls=800, seed=6)
    loader.load()
    new_ids = loader.emulator.advance(minutes=90, new_calls=40)
    summary = loader.load()
    stored = {r[0] for r in rows(loader.duckdb_path, "SELECT id FROM hostedsuite.calls")}
    assert set(new_ids) <= stored
    assert summary.complete_through is not None
    assert pendulum.parse(summary.complete_through) == loader.emulator.now
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_late_edits_inside_lookback_replace_call_and_children(loader_factory) -> None:
    loader = loader_factory(calls=1000, seed=8)
    loader.load()
    truth = loader.emulator.truth()
    # Inside the default 48 h look-back before the cursor (the emulator's clock).
    recent = [
        c for c in truth.calls if c["start_time"] >= loader.emulator.now - timedelta(hours=40)
    ]
    by_forms = {
        c["id"]: [f["form_id"] for f in truth.completed_form_ids if f["call_id"] == c["id"]]
        for c in recent
    }
    with_forms = [i for i, forms in by_forms.items() if forms]
    counts = Counter(i["call_id"] for i in truth.interactions)
    with_interactions = [c["id"] for c in recent if counts[c["id"]] >= 3]
    cleared, extended = with_forms[0], with_forms[1]
    shortened = next(i for i in with_interactions if i not in (cleared, extended))
    loader.emulator.edit_call(cleared, completed_form_ids=[], notes="forms withdrawn — «ok»")
    loader.emulator.edit_call(
        extended,
        completed_form_ids=[*by_forms[extended], "FORM-NEW"],
        flagged=True,
        flag_notes="late flag",
        work_time_in_seconds=99.5,
    )
    old = [i for i in truth.interactions if i["call_id"] == shortened]
    loader.emulator.edit_call(
        shortened,
        interactions=[
            {"offset_seconds": 0.0, "type": "Answer", "description": "answered"},
            {"offset_seconds": 30.0, "type": "Hangup", "description": "caller hung up"},
        ],
    )
    loader.load()
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    forms = form_ids(loader.duckdb_path)
    assert not [k for k in forms if k[0] == cleared], "a stale form id survived"
    assert forms[(extended, "FORM-NEW")] == 1
    stored = [k for k in interactions(loader.duckdb_path) if k[0] == shortened]
    assert len(stored) == 2 and len(old) >= 3
    call = rows(
        loader.duckdb_path,
        "SELECT flagged, flag_notes, work_time_in_seconds FROM hostedsuite.calls "
        f"WHERE id = '{extended}'",
    )
    assert call == [(True, "late flag", 99.5)]
    # The children's deletes ran on their call's key alone (see pipelines/destinations/
    # duckdb_merge.py): a "(call_id, seq) OR call_id" condition does not scale in DuckDB. The
    # calls' job deletes the old children too, so its file is read as well.
    deletes = [
        line
        for sql in loader.pipelines_dir.rglob("calls*.sql")
        for line in sql.read_text().splitlines()
        if line.startswith('DELETE FROM "hostedsuite"."calls__interactions"')
    ]
    assert deletes and all(" OR " not in d and '"call_key_hi"' in d for d in deletes), deletes


def test_random_edits_and_new_calls_over_several_runs_stay_exact(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=9)
    loader.load()
    for _ in range(3):
        loader.emulator.edit_random(25)
        loader.emulator.advance(minutes=45, new_calls=30)
        loader.load()
        assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def _load_ids(loader) -> dict[str, str]:
    return dict(rows(loader.duckdb_path, "SELECT id, _dlt_load_id FROM hostedsuite.calls"))


def test_a_reread_rewrites_only_the_calls_that_changed(loader_factory) -> None:
    loader = loader_factory(calls=1000, seed=11)
    loader.load()
    loader.load()  # the first re-read stores each call's digest (rewriting the look-back once)
    cursor = loader.emulator.now
    look_back = [
        c for c in loader.emulator.truth().calls if cursor - timedelta(hours=48) <= c["start_time"]
    ]
    counts = Counter(i["call_id"] for i in loader.emulator.truth().interactions)
    edited = next(c["id"] for c in look_back if counts[c["id"]] >= 3)
    loader.emulator.edit_call(
        edited,
        interactions=[
            {"offset_seconds": 0.0, "type": "Answer", "description": "answered"},
            {"offset_seconds": 12.0, "type": "Hangup", "description": "caller hung up"},
        ],
    )
    new_ids = loader.emulator.advance(minutes=30, new_calls=5)
    before = _load_ids(loader)

    summary = loader.load()

    after = _load_ids(loader)
    rewritten = {call_id for call_id, load_id in after.items() if before.get(call_id) != load_id}
    assert rewritten == {edited, *new_ids}
    assert summary.row_counts["calls"] == 6
    assert summary.unchanged_calls == len(look_back) - 1
    assert f"re-read and unchanged (not rewritten): {len(look_back) - 1:,} calls" in (
        summary_lines([summary])
    )
    assert len([k for k in interactions(loader.duckdb_path) if k[0] == edited]) == 2
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
