"""The full rebuild in slices (DuckDB file): the same tables as ``full_build.build_full``, built
a slice of the history at a time, so that its memory does not grow with the history.

Built in one go, a 10M-call rebuild ran out of the 1 GB cap (the default then) in
``int_hold_segments`` (a window partitioned by call over every hold event) and needed 15 GB
without a cap. In slices, every statement's working set is one slice's:

1. The per-call tables (``Model.incremental_key == "call"``) are created empty, then filled one
   slice of the calls at a time: consecutive calls by start time (an id's earliest, so a
   duplicated id has one slice; ``project.CallSlice``; every row of a call, raw or derived,
   carries the same id, so lands in the same slice). Slices by time leave the tables in time
   order, as loads do, so the zone maps of their dates keep serving the incremental refreshes
   that follow. The models read restricted copies of the views, the connection's temporary
   views (``materialize.scope_view_names``; staging's read a Parquet file of the slice's
   rows, ``slice_files``, so each slice searches the raw tables once), so the views themselves
   are created once, unrestricted, exactly as a rebuild in one go leaves them.
   ``int_repeat_calls`` must see every call (a call's next call may be in another slice): it
   is computed once for the whole history into files, a bucket of callers at a time
   (``BUCKET_SLICES``), and each slice reads its own calls' rows of them.
2. The small tables are rebuilt whole, as in one go.
3. The day-keyed tables are created empty, then filled a slice of center-days at a time,
   through the incremental refresh's ``{{ affected_days }}`` placeholder (on a temporary table
   of the slice's center-days). In one go each of them fitted the cap at 10M calls, but only
   at 1.1-1.2 GB of process memory; a slice of about as many calls as a call slice keeps the
   aggregates' hash tables a slice's size, and costs a scan of fct_calls per slice.

Every slice INSERTs its rows, in ``MODELS`` order, and commits (``_commit``): in one
transaction the uncommitted rows made the rebuild's memory grow with the history. Until the
last commit the state says the rebuild is unfinished (``refresh.mark_unfinished``), so a
rebuild that stops is redone by the next run. What a slice only reads is in files
(``slice_files``: a transaction keeps every temporary table it replaced until its end).
"""

from __future__ import annotations

import logging
import math
from itertools import pairwise
from typing import Final

from .dialect import Dialect
from .full_build import drop_scope_tables, replace_model
from .materialize import create_scope_copy, scope_kind, scope_view_names
from .project import (
    ANALYTICS_SCHEMA,
    CALL_TABLES,
    INTERMEDIATE_SCHEMA,
    MODELS,
    STAGING_SCHEMA,
    CallSlice,
    Model,
    SqlExecutor,
    affected_keys,
    has_null_dates,
    literal,
    model_sql,
    renamed,
    render,
    scalar,
    sql_body,
)
from .refresh import mark_unfinished
from .slice_files import SliceFiles

# a child of the CLI's logger: its progress lines (a rebuild at 10M calls takes minutes)
logger = logging.getLogger("hostedsuite.transforms")

# The connection's temporary views over the rebuild's files (slice_files) and temporary tables
# (they vanish with it; nothing is written to the warehouse).
REPEAT_CALLS: Final = "temp.main.slice_repeat_calls"
CALL_STARTS: Final = "temp.main.slice_call_starts"
SLICE_CALLS: Final = "temp.main.slice_calls"
DAY_SLICES: Final = "temp.main.slice_days"
SLICE_DAYS: Final = "temp.main.slice_affected_days"
_REPEAT_VIEW: Final = f"{INTERMEDIATE_SCHEMA}.int_repeat_calls"
_REPEAT_SOURCE: Final = f"{STAGING_SCHEMA}.stg_calls"
# The two whole-history windows run in buckets of about this many slices' calls each, so that
# their memory does not grow with the history either (in one go each ran out of a 512 MB cap at
# 10M calls): the repeat calls by caller (int_repeat_calls partitions its window by client and
# the number's digits, so a partition's calls are all in one bucket; _CALLER_KEY must be a
# function of that key, or the test of slices against one go fails), the calls' earliest
# start times by call id. The uniqueness checks use the same count (checks.load_checks).
BUCKET_SLICES: Final = 10
_CALLER_KEY: Final = "hash(client_id, nullif(regexp_replace(caller_number, '[^0-9]', '', 'g'), ''))"


def call_slice_count(execute: SqlExecutor, raw: str, slice_calls: int) -> int:
    """How many slices of at most about ``slice_calls`` raw calls the history makes (>= 1)."""
    calls = scalar(execute, f"SELECT count(*) FROM {raw}.calls")
    return max(1, math.ceil(calls / slice_calls))


def bucket_count(slices: int) -> int:
    """How many buckets a rebuild in ``slices`` (> 1) slices computes its whole-history windows
    and its uniqueness checks in (``BUCKET_SLICES``); at least two: at 1M calls (4 slices)
    under a 256 MB cap, the uniqueness check of 3M interactions ran out of memory in one
    GROUP BY, and completed in two."""
    return max(2, math.ceil(slices / BUCKET_SLICES))


def build_sliced(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    existing: dict[tuple[str, str], str],
    slices: int,
    slice_calls: int,
    reason: str,
) -> int:
    """Builds every model as ``build_full`` does, the per-call tables in ``slices`` slices of
    the calls and the day-keyed ones in slices of about ``slice_calls`` calls' center-days;
    returns the number of day slices. DuckDB only (``approx_quantile``, temporary objects,
    ``COPY``).

    Commits as it goes (``_commit``), in the caller's transaction: first the emptied tables
    with the state of an unfinished rebuild (``refresh.mark_unfinished``, ``reason`` the
    rebuild's), then each slice. The caller's last transaction holds the rest of the run."""
    sql = Dialect("duckdb")
    last_per_call = max(i for i, m in enumerate(MODELS) if m.incremental_key == "call")
    per_call, rest = MODELS[: last_per_call + 1], MODELS[last_per_call + 1 :]
    for model in per_call:
        rendered = render(model_sql(model), raw, columns, dialect=sql.name)
        if model.incremental_key == "full":
            replace_model(execute, model, rendered, existing, sql)
        else:
            replace_model(execute, model, _empty(rendered), existing, sql)
    mark_unfinished(execute, reason)
    _commit(execute)
    views = scope_view_names()
    with SliceFiles(execute) as files:
        buckets = bucket_count(slices)
        logger.info("full rebuild: the repeat calls, in %d buckets of callers", buckets)
        files.write(REPEAT_CALLS, *_repeat_buckets(execute, raw, columns, buckets))
        ranges = _time_ranges(execute, files, raw, slices, buckets)
        for number, bounds in enumerate(ranges, 1):
            logger.info("full rebuild: the calls, slice %d of %d", number, len(ranges))
            files.write(SLICE_CALLS, f"SELECT call_id FROM {CALL_STARTS} WHERE {bounds}")
            _fill_call_slice(execute, files, per_call, raw, columns, views, CallSlice(SLICE_CALLS))
            _commit(execute)
        for model in rest:
            rendered = render(model_sql(model), raw, columns, dialect=sql.name)
            if model.incremental_key == "day":
                rendered = _empty(rendered)
            replace_model(execute, model, rendered, existing, sql)
        day_slices = _fill_day_slices(execute, rest, raw, columns, slice_calls)
        # the views read the files: gone with them
        bucket_views = [_bucket_view(k) for k in range(buckets)]
        for view in (*views.values(), REPEAT_CALLS, CALL_STARTS, SLICE_CALLS, *bucket_views):
            execute.execute_sql(f"DROP VIEW IF EXISTS {view}")
    for table in (DAY_SLICES, SLICE_DAYS):
        execute.execute_sql(f"DROP TABLE IF EXISTS {table}")
    drop_scope_tables(execute)
    return day_slices


def _commit(execute: SqlExecutor) -> None:
    """Commits what the rebuild wrote so far, and goes on in a new transaction. A transaction's
    uncommitted rows stay in DuckDB's memory and temporary storage until its end: in one
    transaction the rebuild's memory grew slice by slice (at 10M calls under a 512 MB cap it
    ran out at slice 33 of 40). Committed, the rows are the file's like any other."""
    execute.execute_sql("COMMIT")
    execute.execute_sql("BEGIN TRANSACTION")


def _repeat_buckets(
    execute: SqlExecutor, raw: str, columns: dict[str, set[str]], count: int
) -> list[str]:
    """The queries of ``int_repeat_calls``' rows, one per bucket of callers; each reads a
    temporary view of its bucket's calls in place of ``staging.stg_calls``."""
    model = next(m for m in MODELS if f"{m.schema}.{m.name}" == _REPEAT_VIEW)
    rendered = render(model_sql(model), raw, columns, dialect="duckdb")
    queries = []
    for k in range(count):
        execute.execute_sql(
            f"CREATE OR REPLACE TEMP VIEW {_bucket_view(k)} AS SELECT * FROM {_REPEAT_SOURCE} "
            f"WHERE {_CALLER_KEY} % {count} = {k}"
        )
        queries.append(sql_body(renamed(rendered, {_REPEAT_SOURCE: _bucket_view(k)})))
    return queries


def _bucket_view(k: int) -> str:
    return f"temp.main.slice_repeat_bucket_{k}"


def _time_ranges(
    execute: SqlExecutor, files: SliceFiles, raw: str, slices: int, buckets: int
) -> list[str]:
    """Writes ``CALL_STARTS`` (each call id and its earliest start), and returns the
    conditions on its ``first_start`` that split the calls into ``slices`` runs of consecutive
    start times of about equal size (approximate quantiles; calls without a start time, and
    child rows without a call, go with the first). Calls starting at one instant stay
    together.

    Each spills: the earliest start of each id is a window (a GROUP BY over 10M ids did not fit
    512 MB), computed in ``buckets`` buckets of ids, the orphaned child rows' ids an anti join,
    and ``approx_quantile`` keeps a small digest where ``quantile_disc`` holds every value
    outside the memory cap."""
    # child rows whose call row is missing are rebuilt too (as in one go): their ids have no
    # start time and go with the first slice
    calls = [
        "SELECT call_id, first_start FROM (SELECT cast(id AS VARCHAR) AS call_id, first_start, "
        "row_number() OVER (PARTITION BY id ORDER BY first_start NULLS LAST) AS n FROM (SELECT "
        f"id, cast(start_time AS TIMESTAMPTZ) AS first_start FROM {raw}.calls "
        f"WHERE hash(id) % {buckets} = {k}) AS typed) AS calls WHERE n = 1"
        for k in range(buckets)
    ]
    orphans = [
        "SELECT DISTINCT cast(o.call_id AS VARCHAR) AS call_id, "
        f"cast(NULL AS TIMESTAMPTZ) AS first_start FROM {raw}.{table} AS o "
        f"ANTI JOIN {raw}.calls AS k ON k.id = o.call_id"
        for table in CALL_TABLES[1:]
    ]
    files.write(CALL_STARTS, *calls, *orphans)
    fractions = ", ".join(str(k / slices) for k in range(1, slices))
    rows = execute.execute_sql(
        f"SELECT list_distinct(approx_quantile(first_start, [{fractions}])) FROM {CALL_STARTS}"
    )
    found = rows[0][0] if rows and rows[0][0] is not None else []
    bounds = [f"{literal(b.isoformat())}::TIMESTAMPTZ" for b in sorted(found)]
    if not bounds:
        return ["true"]
    ranges = [f"(first_start < {bounds[0]} OR first_start IS NULL)"]
    ranges += [f"first_start >= {lo} AND first_start < {hi}" for lo, hi in pairwise(bounds)]
    return [*ranges, f"first_start >= {bounds[-1]}"]


def _fill_call_slice(
    execute: SqlExecutor,
    files: SliceFiles,
    models: tuple[Model, ...],
    raw: str,
    columns: dict[str, set[str]],
    views: dict[str, str],
    call_slice: CallSlice,
) -> None:
    """Points the temporary views at the slice's calls (staging's as files, which several
    models read), then inserts each per-call table's rows of them (a table read by a later
    model already holds the slice's rows then)."""
    for model in models:
        qualified = f"{model.schema}.{model.name}"
        if model.materialization != "view":
            continue
        if qualified == _REPEAT_VIEW:
            body = f"SELECT * FROM {REPEAT_CALLS} WHERE {call_slice.predicate('call_id')}"
        else:
            body = sql_body(_rendered_slice(model, raw, columns, views, call_slice))
        if scope_kind(model) == "TABLE":
            files.write(views[qualified], body)
        else:
            create_scope_copy(execute, model, views[qualified], body)
    for model in models:
        if model.incremental_key == "call":
            rows = sql_body(_rendered_slice(model, raw, columns, views, call_slice))
            insert = Dialect("duckdb").insert_by_name(f"{model.schema}.{model.name}")
            execute.execute_sql(f"{insert}\n{rows}")


def _rendered_slice(
    model: Model,
    raw: str,
    columns: dict[str, set[str]],
    views: dict[str, str],
    call_slice: CallSlice,
) -> str:
    return renamed(render(model_sql(model), raw, columns, call_slice=call_slice), views)


def _fill_day_slices(
    execute: SqlExecutor,
    models: tuple[Model, ...],
    raw: str,
    columns: dict[str, set[str]],
    slice_calls: int,
) -> int:
    """Inserts the day-keyed tables' rows a slice of center-days at a time: consecutive
    center-days (by date) of about ``slice_calls`` calls together, a bigger one alone."""
    execute.execute_sql(
        f"CREATE OR REPLACE TEMP TABLE {DAY_SLICES} AS\n"
        "SELECT center_id, local_date, cast((sum(calls) OVER (ORDER BY local_date NULLS LAST, "
        "center_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - calls) "
        f"// {slice_calls} AS BIGINT) AS slice_no\n"
        "FROM (SELECT center_id, local_date, count(*) AS calls "
        f"FROM {ANALYTICS_SCHEMA}.fct_calls GROUP BY center_id, local_date) AS days"
    )
    numbers = execute.execute_sql(f"SELECT DISTINCT slice_no FROM {DAY_SLICES} ORDER BY 1") or []
    # the models' {{ affected_days }} and the incremental refresh's filter of their rows, both
    # on this slice's center-days rather than intermediate.affected_days
    days = {f"{INTERMEDIATE_SCHEMA}.affected_days": SLICE_DAYS}
    for done, (number,) in enumerate(numbers, 1):
        logger.info("full rebuild: the center-days, slice %d of %d", done, len(numbers))
        execute.execute_sql(
            f"CREATE OR REPLACE TEMP TABLE {SLICE_DAYS} AS SELECT center_id, local_date "
            f"FROM {DAY_SLICES} WHERE slice_no = {int(number)}"
        )
        null_dates = has_null_dates(execute, SLICE_DAYS)
        keys = renamed(affected_keys("day", "duckdb", null_dates), days)
        for model in models:
            if model.incremental_key != "day":
                continue
            rendered = render(model_sql(model), raw, columns, True, "duckdb", null_dates)
            rendered = renamed(rendered, days)
            insert = Dialect("duckdb").insert_by_name(f"{model.schema}.{model.name}")
            execute.execute_sql(
                f"{insert}\nSELECT * FROM (\n{sql_body(rendered)}\n) AS model WHERE {keys}"
            )
        _commit(execute)
    return len(numbers)


def _empty(rendered: str) -> str:
    """The model's query without rows: its table is created with the columns and types a
    rebuild in one go gives it, and the slices fill it."""
    return f"SELECT * FROM (\n{sql_body(rendered)}\n) AS model WHERE false"
