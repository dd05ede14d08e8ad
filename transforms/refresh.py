"""Incremental refresh planning: whether a refresh may be incremental, the watermark it
starts from (the newest raw ``_dlt_load_id`` the marts reflect), and the state (watermark, SQL
hash) each refresh leaves for the next. The refresh itself is ``incremental_build.py``'s."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from .checks import load_checks
from .dialect import Dialect, DialectName
from .project import (
    ANALYTICS_SCHEMA,
    CALL_TABLES,
    GRAIN_KEYS,
    INCREMENTAL_DIR,
    LOAD_ID_COLUMN,
    MODELS,
    SqlExecutor,
    literal,
    model_sql,
    render,
)
from .result import TransformResult
from .settings import MetricSettings

# What the marts reflect: the newest raw _dlt_load_id and the hash of the SQL that built them.
STATE_TABLE: Final = "transform_state"


# Bump when the runner's incremental logic changes in a way the SQL hash cannot see: the next
# refresh is then a full rebuild.
STATE_VERSION: Final = 1
# The state a full rebuild in slices commits before its first slice (it commits slice by slice,
# see sliced_build.py): until it finishes, the marts are partial, and a refresh that finds this
# state rebuilds them all.
UNFINISHED_REBUILD: Final = "unfinished full rebuild"


@dataclass(frozen=True)
class RefreshPlan:
    """Full rebuild or incremental refresh, and the watermark the refresh starts from."""

    full: bool
    reason: str = ""
    # the newest raw load id the marts reflect; "" when they reflect only unstamped rows
    watermark: str = ""


def plan_refresh(
    execute: SqlExecutor,
    columns: dict[str, set[str]],
    settings: MetricSettings,
    sql_hash: str,
    existing: dict[tuple[str, str], str],
    full: bool,
) -> RefreshPlan:
    """Incremental when the marts are complete and were built by this SQL with these settings
    from stamped raw rows; else a full rebuild, with the reason."""
    if full:
        return RefreshPlan(True, "asked for (--full)")
    unstamped = [t for t in CALL_TABLES if LOAD_ID_COLUMN not in columns.get(t, set())]
    if unstamped:
        return RefreshPlan(True, f"raw {', '.join(unstamped)} without {LOAD_ID_COLUMN}")
    tables = [(m.schema, m.name) for m in MODELS if m.materialization == "table"]
    tables += [(ANALYTICS_SCHEMA, t) for t in (STATE_TABLE, "metric_settings", "dq_findings")]
    if any(existing.get(table) != "TABLE" for table in tables):
        return RefreshPlan(True, "first refresh (or a table is missing)")
    state = execute.execute_sql(
        f"SELECT raw_load_id, sql_hash FROM {ANALYTICS_SCHEMA}.{STATE_TABLE}"
    )
    if not state or len(state) != 1:
        return RefreshPlan(True, f"no watermark in {ANALYTICS_SCHEMA}.{STATE_TABLE}")
    watermark, previous_hash = state[0]
    if previous_hash == UNFINISHED_REBUILD:
        return RefreshPlan(True, "an earlier full rebuild did not finish")
    if previous_hash != sql_hash:
        return RefreshPlan(True, "model or check SQL changed")
    written = execute.execute_sql(
        f"SELECT setting_name, setting_value FROM {ANALYTICS_SCHEMA}.metric_settings"
    )
    previous = {(str(name), str(value)) for name, value in written or []}
    if previous != {(row[0], row[1]) for row in settings.as_rows()}:
        return RefreshPlan(True, "metric settings changed")
    return RefreshPlan(False, "", str(watermark or ""))


def newest_load_id(
    execute: SqlExecutor, raw: str, columns: dict[str, set[str]], since: str = ""
) -> str | None:
    """The newest load id of the raw call tables' rows; None when no row has one. ``since``: the
    watermark an incremental refresh starts from. Load ids only grow, so the newest is from it on,
    and the zone maps of the load-ordered raw tables skip the older row groups (at 10M calls the
    search of every row took 0.11 s); ``since`` itself when no row from it on is left (an
    erasure deleted them): no row loaded since the refresh lies between the two."""
    stamped = [t for t in CALL_TABLES if LOAD_ID_COLUMN in columns.get(t, set())]
    if not stamped:
        return None
    recent = f" WHERE {LOAD_ID_COLUMN} >= {literal(since)}" if since else ""
    newest = " UNION ALL ".join(
        f"SELECT max({LOAD_ID_COLUMN}) AS id FROM {raw}.{t}{recent}" for t in stamped
    )
    rows = execute.execute_sql(f"SELECT max(id) FROM ({newest}) AS newest")
    found = rows[0][0] if rows else None
    return str(found) if found is not None else (since or None)


def write_state(
    execute: SqlExecutor,
    watermark: str | None,
    sql_hash: str,
    result: TransformResult,
    dialect: DialectName = "duckdb",
) -> None:
    # Written in the refresh's transaction: the marts and the watermark they reflect commit
    # together, so a crash anywhere before the commit leaves both as they were.
    state = (
        "SELECT "
        f"CAST({literal(watermark) if watermark is not None else 'NULL'} AS VARCHAR) "
        "AS raw_load_id, "
        f"{literal(sql_hash)} AS sql_hash, "
        f"{literal(result.refresh)} AS last_refresh, "
        f"{literal(result.reason)} AS full_rebuild_reason, "
        f"CAST({result.calls_rebuilt} AS BIGINT) AS calls_rebuilt, "
        f"CAST({result.days_rebuilt} AS BIGINT) AS days_rebuilt, "
        "now() AS refreshed_at"
    )
    for statement in Dialect(dialect).create_or_replace(
        "TABLE", f"{ANALYTICS_SCHEMA}.{STATE_TABLE}", state
    ):
        execute.execute_sql(statement)


def mark_unfinished(execute: SqlExecutor, reason: str) -> None:
    """The state of a full rebuild that has begun committing (``UNFINISHED_REBUILD``): no
    watermark, and the next refresh is a full one."""
    write_state(execute, None, UNFINISHED_REBUILD, TransformResult(refresh="full", reason=reason))


def models_sql_hash(raw: str, columns: dict[str, set[str]], dialect: DialectName = "duckdb") -> str:
    """The SQL a full rebuild would run (placeholders filled), the model list and the runner's
    state version: any change to them makes the next refresh a full one. Rendered text, so a raw
    column that appears for the first time (NULL -> the column) counts as a change too."""
    digest = hashlib.sha256(f"{STATE_VERSION}|{MODELS!r}|{GRAIN_KEYS!r}".encode())
    for model in MODELS:
        digest.update(render(model_sql(model), raw, columns, dialect=dialect).encode())
    for check in load_checks(raw, columns, dialect=dialect):
        digest.update(check.sql.encode())
    for path in sorted(INCREMENTAL_DIR.glob("*.sql")):
        digest.update(path.read_bytes())
    return digest.hexdigest()
