"""The CLI on a DuckLake (PostgreSQL catalog; data in a local folder, or in a bucket of the
tests' S3 server): load, backfill (with its incremental refresh), a full transforms rebuild and
verify, configured with dlt's env vars only.

Raw tables are compared with the emulator's truth, analytics tables with a DuckDB run of the
same data (and, after ``transform --full``, with the lake's own incremental result).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hostedsuite_emulator import Emulator
from tests.cli import ROOT, run_cli
from tests.pipeline.emulator_changes import late_edits
from tests.pipeline.loader import Loader
from tests.pipeline.warehouse import assert_matches_truth

from .lake import Lake, differing_analytics, make_lake, make_s3_lake

EMULATOR: dict[str, Any] = {"calls": 240, "seed": 61, "start": "2024-03-04", "days": 14}


def storage_lake(storage: str, request: pytest.FixtureRequest, dsn: str, folder: Path) -> Lake:
    """The lake of a test parametrized over its data path: a folder, or a bucket on S3."""
    if storage == "folder":
        return make_lake(dsn, folder)
    s3 = request.getfixturevalue("s3_server")
    return make_s3_lake(dsn, folder, s3, request.getfixturevalue("s3_bucket"))


@pytest.mark.parametrize("storage", ["folder", "s3"])
def test_load_transform_verify_backfill_on_a_lake(
    emulator_factory: Callable[..., Emulator],
    postgres_dsn: str,
    tmp_path: Path,
    storage: str,
    request: pytest.FixtureRequest,
) -> None:
    emulator = emulator_factory(**EMULATOR)
    lake = storage_lake(storage, request, postgres_dsn, tmp_path)
    # the same data into a DuckDB file, in-process: the reference for the analytics tables
    duck = Loader(emulator, tmp_path / "warehouse.duckdb", tmp_path / "duck-pipelines")

    # offline: an empty home (DuckDB installs into ~/.duckdb), and nothing may be installed there
    home = tmp_path / "home"
    home.mkdir()
    first = lake.load(duck, env={"HOME": str(home)})
    assert list(home.iterdir()) == []
    assert "full rebuild: first refresh" in first
    assert "serving: none for a DuckLake; readers attach the lake at snapshot" in first
    if lake.s3 is not None:  # the Parquet files are in the bucket, under the lake's prefix
        bucket = str(lake.data).removeprefix("s3://").split("/")[0]
        keys = lake.s3.keys(bucket)
        for table in ("hostedsuite/calls/", "hostedsuite/calls__interactions/",
                      "analytics/fct_calls/", "analytics/lake_publication/"):  # fmt: skip
            assert any(
                k.startswith(f"hostedsuite-lake/{table}") and k.endswith(".parquet") for k in keys
            ), (table, keys[:10])
        assert not (tmp_path / "lake-data").exists() and not (ROOT / "hostedsuite-lake").exists()
    duck.load(transform=True)
    snap = lake.snapshot(tmp_path / "lake-1.duckdb")
    assert_matches_truth(snap, emulator.truth())
    assert differing_analytics(snap, duck.duckdb_path) == {}

    # what `python -m pipelines.ducklake <catalog>` prints attaches the published snapshot
    printed = run_cli(lake.catalog, module="pipelines.ducklake")
    assert printed.returncode == 0, printed.stderr
    assert "READ_ONLY" in printed.stdout and "SNAPSHOT_VERSION" in printed.stdout
    with duckdb.connect() as analyst:
        if lake.s3 is not None:  # the analyst's own S3 secret first, as the README says
            analyst.execute(printed.stdout.split("ATTACH")[0])  # the LOADs (httpfs)
            for statement in lake.reader_setup():
                analyst.execute(statement)
        analyst.execute(printed.stdout)
        fct_calls = analyst.execute("SELECT count(*) FROM analytics.fct_calls").fetchall()
    assert fct_calls == [(len(emulator.truth().calls),)]

    # late edits, new calls and an edit weeks back, all loaded by a backfill of the whole range
    # (the look-back of a scheduled load would miss the old edit): an incremental refresh
    old = min(emulator.truth().calls, key=lambda c: c["start_time"])
    emulator.edit_call(old["id"], notes="corrected by a backfill")
    late_edits(duck, 9)
    whole = [
        "--start",
        EMULATOR["start"],
        "--end",
        (emulator.now + timedelta(days=1)).date().isoformat(),
    ]
    backfill = lake.cli(duck, "backfill", *whole)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert "incremental:" in backfill.stdout
    reference = duck.cli("backfill", *whole)
    assert reference.returncode == 0, reference.stderr[-3000:]
    incremental = lake.snapshot(tmp_path / "lake-2.duckdb")
    assert_matches_truth(incremental, emulator.truth())
    assert differing_analytics(incremental, duck.duckdb_path) == {}
    with lake.reader() as conn:
        notes = conn.execute("SELECT notes FROM hostedsuite.calls WHERE id = ?", [old["id"]])
        assert notes.fetchall() == [("corrected by a backfill",)]

    # a full rebuild of the lake gives the very rows the incremental refresh left
    full = lake.cli(duck, "transform", "--full")
    assert full.returncode == 0, full.stderr[-3000:]
    assert "full rebuild: asked for (--full)" in full.stdout
    assert differing_analytics(lake.snapshot(tmp_path / "lake-3.duckdb"), incremental) == {}

    # verify: 7 local days per center, all equal to the API's counts
    verify = lake.cli(duck, "verify")
    assert verify.returncode == 0, verify.stderr[-3000:]
    centers = len(emulator.truth().centers)
    assert f"{centers * 7} center-days checked, 0 differ" in verify.stdout
    with lake.reader() as conn:
        statuses = conn.execute(
            "SELECT status, count(*) FROM analytics.completeness GROUP BY status"
        ).fetchall()
    assert statuses == [("ok", centers * 7)]
