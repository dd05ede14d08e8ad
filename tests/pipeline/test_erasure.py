"""Erasing one caller from a DuckDB warehouse: every artefact's bytes, before and after.

The warehouse is loaded through the CLI (with a report after the load), then a caller is
erased by a differently formatted number and their name. Before the erasure the byte search
finds their number and name in the warehouse, the serving copy and the pipeline folder (so the
search can see them); after it, in no file at all (free blocks and dlt's load packages
included), the marts hold exactly the remaining calls, a scheduled run whose look-back re-reads
them and a backfill of the whole range do not land them again (nor a new call of the number),
the report written before is listed, and a second erasure changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.artefacts import files_under, holding
from tests.destinations.lake import differing_analytics
from tests.privacy_cases import KEY, digits, distinctive_callers

from .loader import Loader
from .warehouse import rows

EMULATOR: dict[str, Any] = {"calls": 1500, "seed": 5, "start": "2024-03-04", "days": 20}
ENV = {"PRIVACY__HASH_KEY": KEY, "REPORT__AFTER_LOAD": "true"}


def ids_in(path: Path, sql: str) -> set[str]:
    return {str(r[0]) for r in rows(path, sql)}


def test_erasure_leaves_no_trace_in_any_duckdb_artefact(
    loader_factory: Any, tmp_path: Path
) -> None:
    loader: Loader = loader_factory(**EMULATOR)
    load = loader.cli(*loader.load_until_now(), env=ENV)
    assert load.returncode == 0, load.stderr[-3000:]
    truth = loader.emulator.truth()
    caller = distinctive_callers(truth.calls, 1)[0]
    assert len(caller.call_ids) >= 3, "the chosen caller should have several calls"
    folder = loader.duckdb_path.parent
    serving = folder / "warehouse.serving.duckdb"
    report = folder / "report.html"
    assert report.is_file()

    before = holding(files_under(folder), [caller.number, caller.name])
    for needle in (caller.number, caller.name):
        assert str(loader.duckdb_path) in before.get(needle, []), needle
        # the serving path is a link to the copy's current generation file
        assert os.path.realpath(serving) in before.get(needle, []), needle
        assert any("/pipelines/" in path for path in before.get(needle, [])), needle

    # the number as an operator may type it: digits in groups, no "+"
    typed = " ".join(digits(caller.number)[i : i + 3] for i in range(0, 12, 3)).strip()
    erase = loader.cli("erase", "--caller-number", typed, "--caller-name", caller.name, env=ENV)
    assert erase.returncode == 0, erase.stderr[-3000:]
    assert f"erase: {len(caller.call_ids):,} calls of the caller removed" in erase.stdout
    assert str(report) in erase.stdout  # written before: listed for the operator
    output = erase.stdout + erase.stderr
    assert not [n for n in caller.needles if n in output]

    remaining = {c["id"] for c in truth.calls} - caller.call_ids
    artefacts = [p for p in files_under(folder) if p != report]
    assert holding(artefacts, caller.needles) == {}
    assert ids_in(loader.duckdb_path, "SELECT id FROM hostedsuite.calls") == remaining
    assert ids_in(serving, "SELECT call_id FROM analytics.fct_calls") == remaining
    offered = rows(serving, "SELECT sum(calls_offered) FROM analytics.fct_call_metrics_daily")
    assert offered[0][0] == len(remaining)
    assert (
        not ids_in(
            serving,
            "SELECT call_id FROM analytics.fct_call_interactions UNION "
            "SELECT call_id FROM hostedsuite.calls__interactions",
        )
        - remaining
    )

    # a scheduled run re-reads the look-back (the newest calls), a backfill everything
    loader.emulator.advance(minutes=60, new_calls=20)
    again = loader.cli(*loader.load_until_now(), env=ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    backfill = loader.cli("backfill", "--start", EMULATOR["start"], "--end", "2024-03-25", env=ENV)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    # a new call of the erased number (its pool calls again) does not land either
    expected = {
        c["id"]
        for c in loader.emulator.truth().calls
        if digits(c["caller_number"]) != digits(caller.number) and c["caller_name"] != caller.name
    }
    assert ids_in(loader.duckdb_path, "SELECT id FROM hostedsuite.calls") == expected
    assert holding([p for p in files_under(folder) if p != report], caller.needles) == {}

    # the incremental refresh after the erasure equals a full rebuild
    rebuilt = tmp_path / "rebuilt.duckdb"
    rebuilt.write_bytes(loader.duckdb_path.read_bytes())
    full = loader.cli("transform", "--full", "--duckdb", str(rebuilt), "--serving", "", env=ENV)
    assert full.returncode == 0, full.stderr[-3000:]
    assert differing_analytics(loader.duckdb_path, rebuilt) == {}

    second = loader.cli("erase", "--caller-number", caller.number, env=ENV)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "erase: 0 calls of the caller removed" in second.stdout
    assert "erasure list: 0 new keyed hashes" in second.stdout
