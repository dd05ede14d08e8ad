"""``make bench ARGS="--only ducklake"``: the DuckLake destination against a DuckDB file.

Rows, each lake row next to its DuckDB row of the same session: the 100k-call full load, and the
full transforms rebuild at 1M calls. The lake is a PostgreSQL catalog on 127.0.0.1 (a throw-away
server, ``tests/postgres_server.py``) and a local data folder; each run gets a fresh catalog
database and folder. For the 1M-call transforms the lake's raw tables are copied from the DuckDB
load (untimed): a 1M-call load into the lake would only measure the load again.

``python -m bench.ducklake_bench <kind> <url> <json args>`` is the measured child process; as in
``bench.children``, each of its programs imports what only it uses inside its function (part of
its peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from bench.children import peak_rss_mb
from bench.harness import (
    DATA_START,
    ROOT,
    EmulatorLike,
    Ratios,
    Row,
    measure,
    run_child,
    source_options,
)
from hostedsuite_emulator import Emulator
from tests.postgres_server import PostgresServer, start_postgres


def section(args: argparse.Namespace, rows: dict[str, Row]) -> Ratios:
    """The lake rows and their DuckDB counterparts, with the lake ÷ DuckDB ratio as a note."""
    server = start_postgres()
    try:
        print("generating 100k calls ...", file=sys.stderr)
        n = 100_000
        with Emulator(calls=n, seed=1, start=DATA_START) as emulator:
            options = source_options(emulator)
            rows["duck100k"] = measure(
                Row("DuckDB file: full load, 100k calls", n), "ours", emulator, args.runs, **options
            )
            rows["lake100k"] = measure_lake(
                Row("DuckLake: full load, 100k calls", n), "load", emulator, server, args, options
            )
        if not args.skip_1m:
            transforms_1m(args, rows, server)
    finally:
        server.stop()
    for duck, lake in (("duck100k", "lake100k"), ("ducktx1m", "laketx1m")):
        if duck in rows and lake in rows:
            ratio = rows[lake].median_seconds / rows[duck].median_seconds
            rows[lake].note = f"÷ DuckDB = {ratio:.2f}"
    return {}


def transforms_1m(args: argparse.Namespace, rows: dict[str, Row], server: PostgresServer) -> None:
    print("generating 1M calls ...", file=sys.stderr)
    n = 1_000_000
    with Emulator(calls=n, seed=3, start=DATA_START) as emulator:
        keep = Path(tempfile.mkdtemp(prefix="hs-bench-lake-1m-")) / "big.duckdb"
        options = source_options(emulator)
        run_child("ours", emulator, {**options, "duckdb": str(keep)})
        try:
            rows["ducktx1m"] = measure(
                Row("DuckDB file: transforms on 1M calls (full rebuild)", n),
                "transforms",
                emulator,
                args.runs,
                **options,
                duckdb=str(keep),
            )
            rows["laketx1m"] = measure_lake(
                Row("DuckLake: transforms on 1M calls (full rebuild)", n),
                "transforms",
                emulator,
                server,
                args,
                {"raw_from": str(keep)},
            )
        finally:
            shutil.rmtree(keep.parent, ignore_errors=True)


def measure_lake(
    row: Row,
    kind: str,
    emulator: EmulatorLike,
    server: PostgresServer,
    args: argparse.Namespace,
    options: dict[str, Any],
) -> Row:
    """``args.runs`` runs of ``kind`` in child processes, each on a new, empty lake."""
    for n in range(args.runs):
        workdir = Path(tempfile.mkdtemp(prefix="hs-bench-lake-"))
        database = f"bench_lake_{os.getpid()}_{n}"
        server.sql(f'DROP DATABASE IF EXISTS "{database}"')
        env = {
            **os.environ,
            "DESTINATION_NAME": "ducklake",
            "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG": server.create_database(database),
            "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__BUCKET_URL": str(workdir / "data"),
        }
        child = {**options, "pipelines_dir": str(workdir / "pipelines"), "data": str(workdir)}
        command = [sys.executable, "-m", "bench.ducklake_bench", kind, emulator.url]
        try:
            process = subprocess.run(
                [*command, json.dumps(child)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if process.returncode != 0:
            raise RuntimeError(f"{row.name} failed: {process.stderr.strip().splitlines()[-1:]}")
        result = json.loads(process.stdout.strip().splitlines()[-1])
        if result["calls"] != row.calls:
            raise RuntimeError(f"{row.name}: {result['calls']} calls, expected {row.calls}")
        row.seconds.append(result["seconds"])
        row.rss_mb.append(result["peak_mb"])
        print(f"  {row.name} run {n + 1}/{args.runs}: {result['seconds']:.2f} s", file=sys.stderr)
    return row


def lake_load(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Our full load into the lake configured in the environment (as ``bench.children.ours``)."""
    from pipelines.pipeline import open_pipeline
    from pipelines.steps.load import load_incremental

    pipeline = open_pipeline(None, options["pipelines_dir"])
    started = time.perf_counter()
    summary = load_incremental(pipeline, options["source"])
    return {"seconds": time.perf_counter() - started, "calls": summary.row_counts.get("calls", 0)}


def lake_transforms(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """A full transforms rebuild on the lake, its raw tables copied from a DuckDB file first."""
    from pipelines.destinations.ducklake import load_statements
    from transforms import DuckDBExecutor, run_transforms
    from transforms.project import RAW_TABLES

    conn = duckdb.connect()
    for statement in load_statements(remote_storage=False):
        conn.execute(statement)
    catalog = os.environ["DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG"]
    data = os.environ["DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__BUCKET_URL"]
    conn.execute(
        f"ATTACH 'ducklake:postgres:{catalog}' AS ducklake "
        f"(DATA_PATH '{data}', METADATA_SCHEMA 'ducklake')"
    )
    conn.execute("USE ducklake")
    conn.execute(f"ATTACH '{options['raw_from']}' AS raw (READ_ONLY)")
    conn.execute("CREATE SCHEMA hostedsuite")
    for table in RAW_TABLES:
        conn.execute(f"CREATE TABLE hostedsuite.{table} AS SELECT * FROM raw.hostedsuite.{table}")
    started = time.perf_counter()
    run_transforms(DuckDBExecutor(conn), full=True)
    seconds = time.perf_counter() - started
    calls = conn.execute("SELECT count(*) FROM analytics.fct_calls").fetchone()
    conn.close()
    return {"seconds": seconds, "calls": calls[0] if calls else 0}


KINDS = {"load": lake_load, "transforms": lake_transforms}


if __name__ == "__main__":
    kind, url, raw = sys.argv[1:4]
    result = KINDS[kind](url, json.loads(raw))
    print(json.dumps({**result, "peak_mb": peak_rss_mb()}))
