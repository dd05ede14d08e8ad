"""Where DuckDB's merge searches a re-loaded call's old rows (``pipelines/destinations/
duckdb_merge.py``, correction 3): among the rows of the loads that wrote its old call row, found
by one search of the calls' keys, not among every child row of history.

Real loads from the emulator into a DuckDB file; the merge jobs' SQL is dlt's own files from the
pipeline folder. Expected rows come from the emulator's truth and from counts taken before.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb

from .emulator_changes import recent_calls_with_children, reload_after_tampering
from .warehouse import RAW_CALL_TABLES as CALL_TABLES
from .warehouse import assert_matches_truth, call_id_column, call_row_count

# a load id no load wrote: older than any (load ids are Unix times of the load)
NO_LOAD = "1000000000.0"


def test_a_calls_old_children_are_searched_among_the_rows_of_its_old_load(
    loader_factory,
) -> None:
    """A child row stamped with another load than its call's row is outside the search: when
    the call is re-loaded, it stays beside the new rows. (A load never writes them apart; this
    shows which rows the delete reads. dlt's delete by id, or one by key over all rows,
    replaces it.) The call's other children, stamped as the load wrote them, are replaced."""
    loader = loader_factory(calls=400, seed=31)
    loader.load()
    call_id = recent_calls_with_children(loader)[0]
    interactions = call_row_count(loader.duckdb_path, "calls__interactions", call_id)
    forms = call_row_count(loader.duckdb_path, "calls__completed_form_ids", call_id)
    stamp = f"_dlt_load_id = '{NO_LOAD}'"
    reload_after_tampering(loader, "calls__interactions", call_id, stamp)
    assert interactions > 0 and forms > 0
    assert call_row_count(loader.duckdb_path, "calls__interactions", call_id) == 2 * interactions
    assert call_row_count(loader.duckdb_path, "calls__completed_form_ids", call_id) == forms
    assert call_row_count(loader.duckdb_path, "calls", call_id) == 1


def test_calls_from_old_loads_moved_or_unstamped_are_replaced_once(loader_factory) -> None:
    """The search's range reaches back to the oldest load of the calls re-loaded: a call whose
    start time the vendor moved ten days, into the look-back (its rows are the first load's,
    several loads back), and a call whose rows have no load id (written before dlt stamped
    them) are replaced, not kept beside their new rows, and the new calls are added."""
    loader = loader_factory(calls=600, seed=32, start="2024-03-04", days=20)
    loader.load()
    emulator = loader.emulator
    for _ in range(2):
        emulator.advance(minutes=30, new_calls=10)
        loader.load()
    moved = next(
        c
        for c in sorted(emulator.truth().calls, key=lambda c: c["start_time"])
        if timedelta(days=11) < emulator.now - c["start_time"] < timedelta(days=11, hours=12)
    )
    # ten days later: 1 to 1.5 days before the clock, inside the 48 h look-back
    emulator.move_call(moved["id"], 10 * 24 * 3600)
    unstamped = recent_calls_with_children(loader)[0]
    with duckdb.connect(str(loader.duckdb_path)) as con:
        for table in CALL_TABLES:
            con.execute(
                f"UPDATE hostedsuite.{table} SET _dlt_load_id = NULL "
                f"WHERE {call_id_column(table)} = '{unstamped}'"
            )
    emulator.edit_call(unstamped, notes="edited after its load id was lost")
    emulator.advance(minutes=30, new_calls=10)
    loader.load()
    assert_matches_truth(loader.duckdb_path, emulator.truth())
    for call_id in (moved["id"], unstamped):
        assert call_row_count(loader.duckdb_path, "calls", call_id) == 1


def _table_rows(path: Path) -> dict[str, Counter[tuple[object, ...]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: Counter(con.execute(f"SELECT * FROM hostedsuite.{t}").fetchall())
            for t in CALL_TABLES
        }


def test_a_merge_job_run_again_after_it_committed_changes_nothing(loader_factory) -> None:
    """dlt runs a job again when the process stopped after its transaction committed but before
    dlt recorded it. The last package's merge jobs, run again in either order (the child
    tables' first, then the calls', then the calls' once more; then the reverse), leave every
    row as it was: the calls' job leaves the children of its own load alone, a child table's
    job replaces the rows of its own load."""
    loader = loader_factory(calls=500, seed=33)
    loader.load()
    edited = recent_calls_with_children(loader)[:8]
    for n, call_id in enumerate(edited):
        loader.emulator.edit_call(call_id, notes=f"edit {n}", completed_form_ids=[f"F-{n}"])
    loader.emulator.advance(minutes=30, new_calls=15)
    loader.load()
    before = _table_rows(loader.duckdb_path)
    loaded = sorted((loader.pipelines_dir).rglob("loaded/*/completed_jobs"))[-1]
    jobs = {t: next(loaded.glob(f"{t}.*.sql")).read_text() for t in CALL_TABLES}
    children = list(CALL_TABLES[1:])
    for order in ([*children, "calls", "calls"], ["calls", *children, *children]):
        with duckdb.connect(str(loader.duckdb_path)) as con:
            for table in order:
                con.execute("BEGIN")
                # one statement a line, as dlt's SqlLoadJob runs a job's file
                for statement in filter(None, jobs[table].splitlines()):
                    con.execute(statement)
                con.execute("COMMIT")
        assert _table_rows(loader.duckdb_path) == before, order
    assert len(edited) == 8
    assert all(call_row_count(loader.duckdb_path, "calls", c) == 1 for c in edited)
    assert sum(before["calls__interactions"].values()) > 0
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
