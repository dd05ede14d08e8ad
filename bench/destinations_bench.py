"""``make bench`` rows for the PostgreSQL destination (``bench/run.py --only destinations``).

The 100k-call full load and the 1M-call full transforms rebuild, each on DuckDB and on a
throw-away PostgreSQL server on loopback (``tests/postgres_server.py``), in the same session so
the ratio PostgreSQL ÷ DuckDB compares like with like on a shared machine. Every run of a
PostgreSQL row starts from an empty database, as every DuckDB run starts from a new file. The
loads' target: PostgreSQL at most 1.5× DuckDB (issue #25; it was 3-4× with INSERT statements).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import DATA_START, Ratio, Ratios, Row, measure, source_options
from hostedsuite_emulator import Emulator
from tests.postgres_server import PostgresServer, start_postgres

LOAD_TARGET = 1.5  # a PostgreSQL load takes at most this times the DuckDB load


def section(args: argparse.Namespace, rows: dict[str, Row]) -> Ratios:
    """Adds the rows; returns each PostgreSQL row's ratio to its DuckDB row."""
    server = start_postgres()
    try:
        _load_rows(args, rows, server)
        if not args.skip_1m:
            _transform_rows(args, rows, server)
    finally:
        server.stop()
    return {
        "pg_load100k": Ratio("÷ DuckDB", "pg_load100k", "duck_load100k", target=LOAD_TARGET),
        "pg_tx1m": Ratio("÷ DuckDB", "pg_tx1m", "duck_tx1m"),
        "pg_load1m": Ratio("÷ DuckDB", "pg_load1m", "duck_load1m", target=LOAD_TARGET),
    }


def _load_rows(args: argparse.Namespace, rows: dict[str, Row], server: PostgresServer) -> None:
    n = 100_000
    print("generating 100k calls ...", file=sys.stderr)
    with Emulator(calls=n, seed=1, start=DATA_START) as emulator:
        options = source_options(emulator)
        rows["duck_load100k"] = measure(
            Row("DuckDB: our full load, 100k calls", n), "ours", emulator, args.runs, **options
        )
        dsn = server.create_database("bench_load100k")
        rows["pg_load100k"] = measure(
            Row("PostgreSQL: our full load, 100k calls", n),
            "ours_postgres",
            emulator,
            args.runs,
            **options,
            postgres_dsn=dsn,
        )


def _transform_rows(args: argparse.Namespace, rows: dict[str, Row], server: PostgresServer) -> None:
    n = 1_000_000
    print("generating 1M calls ...", file=sys.stderr)
    with Emulator(calls=n, seed=3, start=DATA_START) as emulator:
        options: dict[str, Any] = source_options(emulator)
        keep = Path(tempfile.mkdtemp(prefix="hs-bench-1m-")) / "big.duckdb"
        try:
            rows["duck_load1m"] = measure(
                Row("DuckDB: our full load, 1M calls", n),
                "ours",
                emulator,
                1,  # one load, kept for the transforms rows (a second would be a merge)
                **options,
                duckdb=str(keep),
            )
            rows["duck_tx1m"] = measure(
                Row("DuckDB: transforms on 1M calls (full rebuild)", n),
                "transforms",
                emulator,
                args.runs,
                **options,
                duckdb=str(keep),
            )
        finally:
            shutil.rmtree(keep.parent, ignore_errors=True)
        dsn = server.create_database("bench_1m")
        # one load, kept for the transforms rows
        rows["pg_load1m"] = measure(
            Row("PostgreSQL: our full load, 1M calls", n),
            "ours_postgres",
            emulator,
            1,
            **options,
            postgres_dsn=dsn,
        )
        rows["pg_tx1m"] = measure(
            Row("PostgreSQL: transforms on 1M calls (full rebuild)", n),
            "transforms_postgres",
            emulator,
            args.runs,
            **options,
            postgres_dsn=dsn,
        )
