"""The measured programs of the benchmark, each run in its own child process.

``python -m bench.children <kind> <url> <duckdb> <json args>`` prints one JSON line with the
seconds the work took (measured inside the child, interpreter start excluded) and the rows
loaded, and its peak RSS (VmHWM). Each program imports the libraries only it uses inside its
function: what a child imports is part of its peak RSS, and reference 1 must not pay for dlt.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
import requests


def ours(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    from pipelines.pipeline import open_pipeline
    from pipelines.steps.load import load_incremental

    pipeline = open_pipeline(path, options["pipelines_dir"])
    started = time.perf_counter()
    # a first load: `hostedsuite load` holds no single DuckDB connection for it (is_small_run)
    summary = load_incremental(pipeline, options["source"])
    return {
        "seconds": time.perf_counter() - started,
        "calls": summary.row_counts.get("calls", 0),
        "batches": len(summary.batch_calls),
    }


def _pages(url: str, options: dict[str, Any]) -> Any:
    """Every page of one big window, sequentially: the simplest correct client."""
    session = requests.Session()
    source = options["source"]
    page = 0
    while True:
        body = {
            "CustomerName": source["customer_name"],
            "UserName": source["user_name"],
            "Password": source["password"],
            "StartDate": options["start_date"],
            "EndDate": options["end_date"],
            "SortField": "StartTime",
            "SortDir": "Asc",
            "Page": page,
            "ItemsPerPage": source["page_size"],
        }
        response = session.post(
            url + "/api/calls",
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        response.raise_for_status()
        table = pa_json.read_json(
            pa.py_buffer(response.content),
            read_options=pa_json.ReadOptions(block_size=len(response.content) + 1),
        )
        items = pc.list_flatten(table.column("Items").combine_chunks())
        if len(items) == 0:
            return
        yield items
        page = int(table.column("Page")[0].as_py()) + 1


def reference_arrow(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Reference 1: requests + PyArrow's JSON reader + DuckDB, no dlt, three tables."""
    started = time.perf_counter()
    con = duckdb.connect(path)
    created = False
    count = 0
    for items in _pages(url, options):
        fields = {name: items.field(name) for name in items.type.names}
        ids = fields["Id"]
        calls = pa.table(
            {k: v for k, v in fields.items() if k not in ("Interactions", "CompletedFormIds")}
        )
        inter = fields["Interactions"]
        parents = pc.list_parent_indices(inter)
        interactions = pa.table({"call_id": ids.take(parents), "item": pc.list_flatten(inter)})
        forms_list = fields["CompletedFormIds"]
        forms = pa.table(
            {
                "call_id": ids.take(pc.list_parent_indices(forms_list)),
                "form_id": pc.list_flatten(forms_list),
            }
        )
        for name, table in (("calls", calls), ("interactions", interactions), ("forms", forms)):
            con.register("page", table)
            if not created:
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM page")
            else:
                con.execute(f"INSERT INTO {name} SELECT * FROM page")
            con.unregister("page")
        created = True
        count += len(items)
    con.close()
    return {"seconds": time.perf_counter() - started, "calls": count}


def fetch_only(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Fetch (and parse) every window's pages with the product's client and N workers."""
    import pendulum

    from pipelines.hostedsuite.directory import CenterDirectory
    from pipelines.hostedsuite.paging import (
        CallsQuery,
        WindowDone,
        fetch_concurrently,
        iter_window_pages,
    )
    from pipelines.hostedsuite.source import make_client
    from pipelines.hostedsuite.windows import split_windows

    source = options["source"]
    client = make_client(url, source["customer_name"], source["user_name"], source["password"])
    started = time.perf_counter()
    zones = CenterDirectory(client, "UTC").all_zones()
    windows = split_windows(
        pendulum.instance(datetime.fromisoformat(source["start_date"]), tz="UTC"),
        pendulum.instance(datetime.fromisoformat(source["until"]), tz="UTC"),
        source["window_hours"],
    )
    query = CallsQuery(source["page_size"])

    def fetch(window: Any) -> Any:
        return iter_window_pages(client, query, window, zones)

    seen: set[str] = set()
    for item in fetch_concurrently(windows, fetch, source["workers"], count=lambda p: len(p.items)):
        if not isinstance(item, WindowDone):
            seen.update(item.items.field("Id").to_pylist())
    return {"seconds": time.perf_counter() - started, "calls": len(seen)}


def naive_dlt(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Reference 2: what a user gets from dlt's defaults: dicts, nested tables, insert_values."""
    import dlt

    @dlt.resource(name="calls", primary_key="Id", write_disposition="merge")
    def calls() -> Any:
        for items in _pages(url, options):
            yield items.to_pylist()

    pipeline = dlt.pipeline(
        "naive",
        destination=dlt.destinations.duckdb(path),
        dataset_name="naive",
        pipelines_dir=options["pipelines_dir"],
    )
    started = time.perf_counter()
    info = pipeline.run(calls())
    info.raise_on_failed_jobs()
    trace = pipeline.last_trace
    counts = trace.last_normalize_info.row_counts if trace and trace.last_normalize_info else {}
    return {"seconds": time.perf_counter() - started, "calls": counts.get("calls", 0)}


def transforms_only(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    from transforms import DuckDBExecutor, run_transforms

    con = duckdb.connect(path)
    started = time.perf_counter()
    # full: the row measures a rebuild of all history, whatever the file held before
    run_transforms(DuckDBExecutor(con), raw_schema="hostedsuite", full=True)
    seconds = time.perf_counter() - started
    calls = con.execute("SELECT count(*) FROM analytics.fct_calls").fetchone()
    con.close()
    return {"seconds": seconds, "calls": calls[0] if calls else 0}


def staffing_only(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Rebuilds fct_staffing_interval alone over marts already built (the Erlang C recursion
    and its scan of fct_calls; the rollup's extra grouping set is in the full-rebuild row)."""
    from transforms.project import MODELS, model_sql, render, sql_body

    model = next(m for m in MODELS if m.name == "fct_staffing_interval")
    con = duckdb.connect(path)
    started = time.perf_counter()
    con.execute(
        f"CREATE OR REPLACE TABLE analytics.{model.name} AS "
        + sql_body(render(model_sql(model), '"hostedsuite"', {}))
    )
    seconds = time.perf_counter() - started
    con.close()
    return {"seconds": seconds, "calls": 0}


def publish_copy(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Publishes a whole serving copy of the warehouse at ``path`` (as the first publish, or
    one after an erasure, does), at a path of its own, then removes it."""
    import shutil

    import pendulum

    from pipelines.config import PIPELINE_NAME
    from pipelines.serving import publish
    from pipelines.serving_generations import Generations
    from transforms import DuckDBExecutor

    live = Path(path)
    serving = live.with_name("bench-publish.duckdb")
    with duckdb.connect(path) as con:
        published = publish(
            live,
            serving,
            DuckDBExecutor(con),
            "hostedsuite",
            # stamping load_health needs the pipeline's name; the rest of a health may be missing
            {"pipeline_name": PIPELINE_NAME},
            lambda: pendulum.now("UTC"),
            full=True,
        )
    with duckdb.connect(str(serving), read_only=True) as con:
        calls = con.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
    serving.unlink()
    shutil.rmtree(Generations(serving).folder)
    return {
        "seconds": published.seconds,
        "calls": calls[0] if calls else 0,
        "copy_mb": published.size_bytes / 1e6,
        "live_mb": live.stat().st_size / 1e6,
    }


def copy_database(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """The alternative we measured and did not take: DuckDB rewrites the whole database."""
    target = Path(path).with_name("copied.duckdb")
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{path}' AS live (READ_ONLY)")
        con.execute(f"ATTACH '{target}' AS copy")
        con.execute("COPY FROM DATABASE live TO copy")
        con.execute("DETACH copy")
    seconds = time.perf_counter() - started
    with duckdb.connect(str(target), read_only=True) as con:
        calls = con.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
    size = target.stat().st_size / 1e6
    target.unlink()
    return {"seconds": seconds, "calls": calls[0] if calls else 0, "copy_mb": size}


def ours_postgres(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """``ours`` into PostgreSQL, configured as an operator would (env vars), from empty."""
    dsn = options["postgres_dsn"]
    _execute(
        dsn,
        "DROP SCHEMA IF EXISTS hostedsuite, hostedsuite_staging, staging, "
        "intermediate, analytics CASCADE",
    )
    os.environ["DESTINATION_NAME"] = "postgres"
    os.environ["DESTINATION__POSTGRES__CREDENTIALS"] = dsn
    return ours(url, "", options)


def transforms_postgres(url: str, path: str, options: dict[str, Any]) -> dict[str, Any]:
    """A full transforms rebuild on the PostgreSQL database, through a psycopg2 connection."""
    import psycopg2

    from transforms import DbApiExecutor, run_transforms

    conn = psycopg2.connect(options["postgres_dsn"])
    conn.autocommit = True  # the runner sends its own BEGIN and COMMIT
    try:
        started = time.perf_counter()
        run_transforms(DbApiExecutor(conn), raw_schema="hostedsuite", full=True)
        seconds = time.perf_counter() - started
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM analytics.fct_calls")
            calls = cursor.fetchone()
    finally:
        conn.close()
    return {"seconds": seconds, "calls": calls[0] if calls else 0}


def _execute(dsn: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


KINDS = {
    "publish": publish_copy,
    "copy_database": copy_database,
    "ours": ours,
    "reference_arrow": reference_arrow,
    "fetch_only": fetch_only,
    "naive_dlt": naive_dlt,
    "transforms": transforms_only,
    "staffing": staffing_only,
    "ours_postgres": ours_postgres,
    "transforms_postgres": transforms_postgres,
}


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM). ru_maxrss would not do: Linux carries it over
    exec from the forked parent, whose emulator holds a lot of memory."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    kind, url, path, raw = sys.argv[1:5]
    result = KINDS[kind](url, path, json.loads(raw))
    print(json.dumps({**result, "peak_mb": peak_rss_mb()}))
