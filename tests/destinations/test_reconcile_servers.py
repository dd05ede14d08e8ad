"""``reconcile`` on PostgreSQL and a DuckLake: a deleted call is marked (kept in the raw table,
gone from the marts), and un-marked when the API serves it again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostedsuite_emulator import Emulator
from tests.pipeline.loader import Loader
from tests.pipeline.warehouse import postgres_rows

from .lake import make_lake
from .test_erasure_servers import cli_output, destination_env

EMULATOR: dict[str, Any] = {"calls": 300, "seed": 14, "start": "2024-03-04", "days": 6}


@pytest.mark.parametrize("name", ["postgres", "ducklake"])
def test_reconcile_marks_and_unmarks(
    name: str,
    emulator_factory: Callable[..., Emulator],
    postgres_dsn: str,
    tmp_path: Path,
) -> None:
    emulator = emulator_factory(**EMULATOR)
    loader = Loader(emulator, tmp_path / "unused.duckdb", tmp_path / "pipelines")
    env = destination_env(name, postgres_dsn, tmp_path)
    paths = ["--pipelines-dir", str(loader.pipelines_dir)]
    span = ["--start", EMULATOR["start"], "--end", "2024-03-10"]
    cli_output(loader, env, "load", "--until", emulator.now.isoformat(), *paths)
    calls = sorted(emulator.truth().calls, key=lambda c: c["start_time"])
    gone = {calls[5]["id"], calls[-2]["id"]}

    def read(sql: str) -> set[Any]:
        if name == "postgres":
            return {r[0] for r in postgres_rows(postgres_dsn, sql)}
        with make_lake(postgres_dsn, tmp_path).reader() as reader:
            return {r[0] for r in reader.execute(sql).fetchall()}

    emulator.delete_calls(sorted(gone))
    out = cli_output(loader, env, "reconcile", *span, *paths)
    assert "marked deleted: 2;" in out
    assert read("SELECT id FROM hostedsuite.calls WHERE is_deleted") == gone
    assert len(read("SELECT id FROM hostedsuite.calls")) == len(calls)
    assert read("SELECT call_id FROM analytics.fct_calls") == {c["id"] for c in calls} - gone

    emulator.restore_calls(sorted(gone))
    out = cli_output(loader, env, "reconcile", *span, *paths)
    assert "returned again (un-marked): 2;" in out
    assert read("SELECT id FROM hostedsuite.calls WHERE is_deleted") == set()
    assert read("SELECT call_id FROM analytics.fct_calls") == {c["id"] for c in calls}
