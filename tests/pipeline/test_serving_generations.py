"""The serving copy is kept in step by updating the earlier generation, not by copying the file.

Real processes throughout: the CLI against the emulator. Every comparison reads both files
table by table (rows ``EXCEPT``-ed both ways, duplicates counted), independently of how the
copy was brought up to date.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import duckdb

from tests.artefacts import files_under, holding
from tests.privacy_cases import KEY, distinctive_callers
from tests.process_events import Helper, answered

from .emulator_changes import late_edits
from .loader import Loader

# A copy's load_health has the column published_at that the warehouse's lacks.
STAMPED = ("analytics", "load_health")


def serving_path(loader: Loader) -> Path:
    return loader.duckdb_path.with_name("warehouse.serving.duckdb")


def generations(loader: Loader) -> Path:
    return loader.duckdb_path.with_name(".warehouse.serving.duckdb.generations")


def load(loader: Loader) -> str:
    run = loader.cli("load", "--until", loader.emulator.now.isoformat(), "--db-wait", "0")
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("serving: ")]
    assert len(lines) == 1, run.stdout
    return lines[0]


def settled(loader_factory: Callable[..., Loader], calls: int, seed: int) -> Loader:
    """A warehouse loaded, then loaded again (late edits) until a publish updated a generation:
    both generations exist and the next publish updates the earlier one."""
    loader = loader_factory(calls=calls, seed=seed)
    load(loader)
    settle(loader)
    return loader


def settle(loader: Loader) -> None:
    """Loads (with late edits) until a publish updates the earlier generation: the first two
    publishes copy the file, and so does the one after a run that saw a new field."""
    for _ in range(4):
        late_edits(loader, 6)
        if "updated " in load(loader):
            return
    raise AssertionError("no publish updated the earlier generation")


def differences(live: Path, copy: Path) -> dict[str, tuple[int, int]]:
    """Per table of either file: (rows only in the warehouse, rows only in the copy), counting
    duplicates; tables missing on one side count all their rows."""
    conn = duckdb.connect()
    try:
        conn.execute(f"ATTACH '{live}' AS live (READ_ONLY)")
        conn.execute(f"ATTACH '{copy}' AS copy (READ_ONLY)")

        def tables(db: str) -> set[tuple[str, str]]:
            rows = conn.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?",
                [db],
            ).fetchall()
            return {(str(s), str(t)) for s, t in rows} - {STAMPED}

        found: dict[str, tuple[int, int]] = {}
        for schema, table in sorted(tables("live") | tables("copy")):
            name = f'"{schema}"."{table}"'
            if (schema, table) not in tables("copy") or (schema, table) not in tables("live"):
                found[name] = (-1, -1)
                continue
            only = [
                conn.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {a}.{name} EXCEPT ALL "
                    f"SELECT * FROM {b}.{name})"
                ).fetchone()[0]  # type: ignore[index]
                for a, b in (("live", "copy"), ("copy", "live"))
            ]
            if only != [0, 0]:
                found[name] = (only[0], only[1])
        return found
    finally:
        conn.close()


def test_each_publish_after_the_first_updates_the_earlier_generation(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=51)
    serving = serving_path(loader)
    first = load(loader)
    assert "copied whole: no earlier generation" in first
    assert os.path.islink(serving)
    assert differences(loader.duckdb_path, serving) == {}
    targets = []
    lines = []
    for n in range(5):
        if n == 3:
            # a quiet run: five minutes without a call, every re-read call as stored, so the
            # refresh rebuilds the dimensions only; the next update catches up on both runs
            loader.emulator.advance(minutes=5, new_calls=0)
        else:
            late_edits(loader, 12)
        lines.append(load(loader))
        assert differences(loader.duckdb_path, serving) == {}, n
        targets.append(os.path.realpath(serving))
        # two generations at most: the current one and the one before it
        files = sorted(p.name for p in generations(loader).glob("*.duckdb"))
        assert len(files) == 2, files
    # The second publish has no earlier generation; the third's earlier generation predates a
    # column the second run's load added, so it is copied whole too. From then on each
    # publish updates the earlier generation. (What that writes is the benchmark's: in a file
    # this small every table is one DuckDB row group, rewritten whole when any row changes.)
    assert "copied whole: no earlier generation" in lines[0], lines[0]
    assert "copied whole: the warehouse's tables or views changed shape" in lines[1], lines[1]
    for line in lines[2:]:
        assert "updated " in line, line
    # updates alternate between the two files
    assert targets[-1] == targets[-3] != targets[-2]
    # a full rebuild replaces every mart row: the earlier generation is not updated but copied
    # (here in slices of 500 calls, which it shows as it goes)
    full = loader.cli("transform", "--full", env={"TRANSFORMS__REBUILD_SLICE_CALLS": "500"})
    assert full.returncode == 0, full.stderr
    assert "copied whole: a full rebuild since the copy" in full.stdout, full.stdout
    assert differences(loader.duckdb_path, serving) == {}
    # and the analysts' view is the emulator's truth
    conn = duckdb.connect(str(serving), read_only=True)
    try:
        calls = conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
        truth = len(loader.emulator.truth().calls)
        assert calls == (truth,)
    finally:
        conn.close()
    slices = -(-truth // 500)  # ceil: 1,500 calls and the runs' new ones, in slices of 500
    assert slices > 3
    shown = [
        line.split("full rebuild: ")[1]
        for line in full.stderr.splitlines()
        if "full rebuild: the calls" in line
    ]
    assert shown == [f"the calls, slice {n} of {slices}" for n in range(1, slices + 1)]


def test_a_held_earlier_generation_is_copied_around_not_written(loader_factory, tmp_path) -> None:
    loader = settled(loader_factory, 600, 52)
    serving = serving_path(loader)
    # the analyst opens the current generation and keeps it open ...
    stop = tmp_path / "held.stop"
    held = Helper("tests.pipeline.analyst_driver", ["held", str(serving), str(stop)], stop)
    try:
        held.wait_for("a held query", answered)
        late_edits(loader, 6)
        updated = load(loader)  # the other generation is free: updated
        assert "updated " in updated, updated
        held_calls = len(loader.emulator.truth().calls) - 40
        late_edits(loader, 6)
        # ... which is now the earlier generation: it is not written, the file is copied
        copied = load(loader)
        assert "copied whole: an analyst holds the earlier generation open" in copied, copied
        held.wait_for("a held query after the publishes", answered, after=held.seen())
    finally:
        events = held.stop()
    assert {e["held_calls"] for e in events} == {held_calls}, "the held session kept its data"
    assert differences(loader.duckdb_path, serving) == {}


def test_kill_while_updating_keeps_the_current_copy_and_the_next_run_catches_up(
    loader_factory,
) -> None:
    loader = settled(loader_factory, 800, 53)
    serving = serving_path(loader)
    before_target = os.path.realpath(serving)
    before = differences(loader.duckdb_path, serving)
    assert before == {}
    late_edits(loader, 6)
    killed = loader.crash("publish_update", *loader.load_until_now())
    assert killed.returncode == -9, killed.stderr
    # the serving path still shows the last published generation, whole and readable
    assert os.path.realpath(serving) == before_target
    assert differences(loader.duckdb_path, serving) != {}, "the warehouse has the new calls"
    conn = duckdb.connect(str(serving), read_only=True)
    try:
        calls = conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
        assert calls == (len(loader.emulator.truth().calls) - 40,)
    finally:
        conn.close()
    line = load(loader)
    assert "updated " in line, line
    assert differences(loader.duckdb_path, serving) == {}


def test_a_generation_written_into_since_its_publish_is_replaced_not_updated(
    loader_factory,
) -> None:
    loader = settled(loader_factory, 600, 54)
    serving = serving_path(loader)
    # someone with the rights (root, or after a chmod) deletes rows in the earlier generation
    _write_into_earlier_generation(
        loader,
        "DELETE FROM analytics.fct_calls WHERE call_id IN (SELECT call_id FROM "
        "analytics.fct_calls LIMIT 5)",
    )
    late_edits(loader, 6)
    line = load(loader)
    assert "copied whole: the earlier generation changed since its publish" in line, line
    assert differences(loader.duckdb_path, serving) == {}


def test_an_update_that_still_leaves_the_counts_different_copies_the_file(
    loader_factory,
) -> None:
    """A row the copy holds and the warehouse does not, unknown to the record: neither the
    update nor its second run with the rows searched by id removes it, so the file is copied."""
    loader = settled(loader_factory, 600, 57)
    serving = serving_path(loader)
    # the oldest call twice: no load since the copy wrote it, so no update searches for it
    earlier = _write_into_earlier_generation(
        loader,
        "INSERT INTO hostedsuite.calls SELECT * FROM hostedsuite.calls ORDER BY start_time LIMIT 1",
    )
    _record_as_published(loader, earlier)
    late_edits(loader, 6)
    line = load(loader)
    assert "copied whole: row counts differ after the update in hostedsuite.calls" in line, line
    assert differences(loader.duckdb_path, serving) == {}


def _earlier_generation(loader: Loader) -> Path:
    current = Path(os.path.realpath(serving_path(loader)))
    return next(p for p in generations(loader).glob("*.duckdb") if p != current)


def _write_into_earlier_generation(loader: Loader, statement: str) -> Path:
    """Runs ``statement`` in the earlier generation, as someone with the rights to its file (a
    publish leaves it read-only); returns its path."""
    earlier = _earlier_generation(loader)
    os.chmod(earlier, 0o644)
    conn = duckdb.connect(str(earlier))
    try:
        conn.execute(statement)
    finally:
        conn.close()
    return earlier


def _record_as_published(loader: Loader, generation: Path) -> None:
    """Records ``generation``'s size and time as a publish would have."""
    record = generations(loader) / "generations.json"
    data = json.loads(record.read_text(encoding="utf-8"))
    info = generation.stat()
    data[generation.name].update(size=info.st_size, mtime_ns=info.st_mtime_ns)
    record.write_text(json.dumps(data), encoding="utf-8")


def _grow_earlier_generation(loader: Loader, to_bytes: int) -> None:
    """Makes the earlier generation as large as an updated copy that kept ``to_bytes`` of
    freed space would be (a sparse tail, which DuckDB does not read), and records it so, as a
    publish would have."""
    earlier = _earlier_generation(loader)
    os.truncate(earlier, to_bytes)
    _record_as_published(loader, earlier)


def _publish_after_growth(loader: Loader, extra_bytes: int) -> str:
    """Grows the earlier generation to ``extra_bytes`` more than the warehouse, then publishes
    late edits; the copy must equal the warehouse either way. Returns the run's serving line."""
    _grow_earlier_generation(loader, loader.duckdb_path.stat().st_size + extra_bytes)
    late_edits(loader, 6)
    line = load(loader)
    assert differences(loader.duckdb_path, serving_path(loader)) == {}
    return line


def test_a_call_whose_start_time_moved_is_published_once_at_its_new_time(loader_factory) -> None:
    """The update searches the copy's rows of the re-loaded calls between the earliest and the
    latest start time written since the copy. A call the vendor moved out of that range keeps
    its old row there: the row counts differ, the update rolls back and runs again with the
    copy searched by id, and the copy holds the call once, at its new time."""
    loader = settled(loader_factory, 600, 56)
    serving = serving_path(loader)
    emulator = loader.emulator
    now = emulator.now
    # a call of a day ago (inside the 48 h look-back, older than every call the settling runs
    # changed), started an hour later at the source
    day_ago = [
        c
        for c in emulator.truth().calls
        if now.subtract(hours=30) <= c["start_time"] <= now.subtract(hours=20)
    ]
    moved = min(day_ago, key=lambda c: c["start_time"])
    emulator.move_call(moved["id"], 3600)
    for n in range(2):  # the copy updated, then the other generation, which held it too
        line = load(loader)
        assert "updated " in line, (n, line)
        assert differences(loader.duckdb_path, serving) == {}, n
        conn = duckdb.connect(str(serving), read_only=True)
        try:
            rows = conn.execute(
                "SELECT start_time FROM hostedsuite.calls WHERE id = ?", [moved["id"]]
            ).fetchall()
        finally:
            conn.close()
        assert rows == [(moved["start_time"] + timedelta(hours=1),)], n
        late_edits(loader, 6)


def test_an_earlier_generation_grown_past_the_limit_is_copied_afresh(loader_factory) -> None:
    loader = settled(loader_factory, 600, 54)
    # 1.25 times a warehouse of a few MB is little: a copy may grow by 64 MB before that counts
    grown = _publish_after_growth(loader, 60 * 2**20)
    assert "updated " in grown, grown
    late_edits(loader, 6)
    load(loader)  # the other generation's turn
    line = _publish_after_growth(loader, 70 * 2**20)
    assert "copied whole: the earlier generation grew past 1.25 times the warehouse" in line, line


def test_an_erasure_leaves_one_generation_without_the_caller(loader_factory) -> None:
    loader = settled(loader_factory, 600, 55)
    serving = serving_path(loader)
    env = {"PRIVACY__HASH_KEY": KEY}
    caller = distinctive_callers(loader.emulator.truth().calls, 1)[0]
    # both generations hold the caller before the erasure
    files = sorted(generations(loader).glob("*.duckdb"))
    assert len(files) == 2
    assert set(holding(files, [caller.number])[caller.number]) == {str(f) for f in files}

    erase = loader.cli(
        "erase", "--caller-number", caller.number, "--caller-name", caller.name, env=env
    )
    assert erase.returncode == 0, erase.stderr[-3000:]
    assert "copied whole: asked for" in erase.stdout, erase.stdout
    # one generation is left, the new one, and nothing in the folder holds the caller
    left = sorted(generations(loader).glob("*.duckdb"))
    assert left == [Path(os.path.realpath(serving))]
    assert holding(files_under(generations(loader)), caller.needles) == {}
    assert differences(loader.duckdb_path, serving) == {}
