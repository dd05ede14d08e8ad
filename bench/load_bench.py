"""``make bench ARGS="--only load"``: our full loads against the practical limit and naive dlt.

Rows: the 100k-call full load against reference 1 (requests + PyArrow + DuckDB, no dlt), the
same with 50 ms of latency on 1 and N workers and fetching alone, the 20k-call load against
reference 2 (naive dlt), and (without ``--skip-1m``) the 1M-call load and a full transforms
rebuild of it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench.harness import DATA_START, Ratio, Ratios, Row, measure, run_child, source_options
from hostedsuite_emulator import Emulator


def section(args: argparse.Namespace, rows: dict[str, Row]) -> Ratios:
    load_rows(args, rows)
    if not args.skip_1m:
        big_rows(args, rows)
    return {
        "ours": Ratio("÷ ref 1", "ours", "ref1", per_call=True),
        "ours20": Ratio("÷ ref 2", "ours20", "ref2", per_call=True),
        # Per call, ours at 100k against reference 2 at 20k: ours has a fixed per-run cost
        # (~1.5 s of dlt bookkeeping) that dominates a 20k-call run.
        "ref2": Ratio("ours 100k ÷ this", "ours", "ref2", per_call=True),
        "latN": Ratio("÷ fetch-only", "latN", "fetchN"),
        "lat1": Ratio("÷ N workers", "lat1", "latN"),
        "staffing1m": Ratio("÷ full rebuild", "staffing1m", "tx1m"),
    }


def load_rows(args: argparse.Namespace, rows: dict[str, Row]) -> None:
    """Full loads against the practical limit (reference 1) and naive dlt (reference 2)."""
    print("generating 100k calls ...", file=sys.stderr)
    # The emulator serves exactly `calls` calls; measure() checks every run loaded them all.
    n = 100_000
    with Emulator(calls=n, seed=1, start=DATA_START) as emulator:
        rows["ours"] = measure(
            Row("our full load, 100k calls, pages of 1,000", n),
            "ours",
            emulator,
            args.runs,
            **source_options(emulator),
        )
        rows["ref1"] = measure(
            Row("reference 1: requests + PyArrow JSON -> DuckDB, no dlt", n),
            "reference_arrow",
            emulator,
            args.runs,
            **source_options(emulator),
        )
        emulator.faults.latency_ms = 50
        latency = source_options(emulator, window_hours=24)
        one = dict(latency, source={**latency["source"], "workers": 1})
        many = dict(latency, source={**latency["source"], "workers": args.workers})
        rows["lat1"] = measure(
            Row("50 ms latency: our load, 1 worker", n), "ours", emulator, args.runs, **one
        )
        rows["latN"] = measure(
            Row(f"50 ms latency: our load, {args.workers} workers", n),
            "ours",
            emulator,
            args.runs,
            **many,
        )
        rows["fetchN"] = measure(
            Row(f"50 ms latency: fetch only, {args.workers} workers", n),
            "fetch_only",
            emulator,
            args.runs,
            **many,
        )

    print("generating 20k calls ...", file=sys.stderr)
    n = 20_000
    with Emulator(calls=n, seed=2, start=DATA_START) as emulator:
        rows["ours20"] = measure(
            Row("our full load, 20k calls", n),
            "ours",
            emulator,
            args.runs,
            **source_options(emulator),
        )
        rows["ref2"] = measure(
            Row("reference 2: naive dlt (dicts, defaults), 20k calls", n),
            "naive_dlt",
            emulator,
            args.runs,
            **source_options(emulator),
        )


def big_rows(args: argparse.Namespace, rows: dict[str, Row]) -> None:
    """The 1M-call full load and a full transforms rebuild of it."""
    print("generating 1M calls ...", file=sys.stderr)
    n = 1_000_000
    with Emulator(calls=n, seed=3, start=DATA_START) as emulator:
        keep = Path(tempfile.mkdtemp(prefix="hs-bench-1m-")) / "big.duckdb"
        rows["ours1m"] = measure(
            Row("our full load, 1M calls", n),
            "ours",
            emulator,
            args.big_runs,
            **source_options(emulator),
        )
        opts = source_options(emulator)
        run_child("ours", emulator, {**opts, "duckdb": str(keep)})
        rows["tx1m"] = measure(
            Row("transforms on 1M calls (full rebuild)", n),
            "transforms",
            emulator,
            args.runs,
            **opts,
            duckdb=str(keep),
        )
        rows["staffing1m"] = measure(
            Row("staffing mart alone on 1M calls (fct_staffing_interval)", 0),
            "staffing",
            emulator,
            args.runs,
            **opts,
            duckdb=str(keep),
        )
        shutil.rmtree(keep.parent, ignore_errors=True)
