"""The transform project: where the SQL lives, the models in build order with their grains,
the placeholders a model may use, and the small SQL helpers the runner and checks share.

Placeholders substituted in the models:

* ``{{ raw }}`` -> the (quoted) raw schema, since dlt's dataset name is configurable;
* ``{{ col:table.column }}`` -> the column if the raw table has it, else ``NULL``: dlt creates a
  column only once it has seen a non-null value, so an optional field (or the tombstone flag of
  a child table) may legitimately be missing;
* ``{{ affected_calls:column }}`` -> ``true`` in a full rebuild, else "``column`` is one of the
  calls the refresh reads" (``intermediate.affected_calls``), on a raw table also "and the row
  was loaded at or after the scope's load floor" when the refresh knows one
  (``scope_ranges.raw_load_floor``); in one slice of a full rebuild in slices
  (``sliced_build.py``), "``column`` is one of this slice's calls" (``CallSlice``);
* ``{{ affected_days }}`` -> ``true`` in a full rebuild, else "(center_id, local_date) is one of
  the center-days the refresh replaces" (``intermediate.affected_days``);
* ``{{ helper(args) }}`` -> the destination's SQL for a construct DuckDB and PostgreSQL write
  differently (``dialect.HELPERS``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from .dialect import Dialect, DialectName, fill_helpers

PACKAGE_DIR: Final = Path(__file__).resolve().parent


MODELS_DIR: Final = PACKAGE_DIR / "models"


CHECKS_DIR: Final = PACKAGE_DIR / "checks"


INCREMENTAL_DIR: Final = PACKAGE_DIR / "incremental"


STAGING_SCHEMA: Final = "staging"


INTERMEDIATE_SCHEMA: Final = "intermediate"


ANALYTICS_SCHEMA: Final = "analytics"


RAW_TABLES: Final = (
    "calls",
    "calls__interactions",
    "calls__completed_form_ids",
    "centers",
    "clients",
)


LOAD_ID_COLUMN: Final = "_dlt_load_id"


CALL_TABLES: Final = ("calls", "calls__interactions", "calls__completed_form_ids")


Materialization = Literal["view", "table"]


Severity = Literal["error", "warn"]


# How an incremental refresh updates a table: its rows of the affected calls ("call", keyed by
# call_id), of the affected center-days ("day", keyed by center_id and local_date), or all of it
# ("full": small tables that depend on more than the calls).
IncrementalKey = Literal["call", "day", "full"]


@dataclass(frozen=True)
class Model:
    """One SQL file and where/how it is built."""

    layer: str
    name: str
    materialization: Materialization
    incremental_key: IncrementalKey = "full"

    @property
    def schema(self) -> str:
        return {"staging": STAGING_SCHEMA, "intermediate": INTERMEDIATE_SCHEMA}.get(
            self.layer, ANALYTICS_SCHEMA
        )

    @property
    def path(self) -> Path:
        return MODELS_DIR / self.layer / f"{self.name}.sql"


# Explicit build order: views bind their dependencies when created, so a view must come after
# everything it reads. Intermediate models are views unless several models read them and they
# are expensive (hold segments: a window over every interaction). Marts are tables (analysts
# query them often; a 1M-call window function must not be recomputed per query). The aggregates
# read analytics.fct_calls so the per-call logic (repeat-call window, flags) runs exactly once per
# refresh; int_call_metrics_rollup computes the daily and interval measures in one pass for both
# marts, which is why an intermediate table comes after a mart here.
MODELS: Final[tuple[Model, ...]] = (
    Model("staging", "stg_calls", "view"),
    Model("staging", "stg_call_interactions", "view"),
    Model("staging", "stg_call_forms", "view"),
    Model("staging", "stg_centers", "view"),
    Model("staging", "stg_clients", "view"),
    Model("intermediate", "int_settings", "view"),
    Model("intermediate", "int_interaction_offsets", "view"),
    Model("intermediate", "int_hold_segments", "table", "call"),
    Model("intermediate", "int_call_interaction_summary", "view"),
    Model("intermediate", "int_repeat_calls", "view"),
    Model("intermediate", "int_call_flags", "view"),
    Model("marts", "fct_calls", "table", "call"),
    Model("marts", "fct_call_interactions", "table", "call"),
    Model("marts", "fct_hold_segments", "table", "call"),
    Model("marts", "dim_centers", "table"),
    Model("marts", "dim_clients", "table"),
    Model("intermediate", "int_call_metrics_rollup", "table", "day"),
    Model("marts", "fct_call_metrics_daily", "table", "day"),
    Model("marts", "fct_call_metrics_interval", "table", "day"),
    Model("marts", "fct_staffing_interval", "table", "day"),
    Model("marts", "fct_agent_metrics_daily", "table", "day"),
)


# The grain of every analytics table: checked unique and not null after each build.
GRAIN_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "fct_calls": ("call_id",),
    "fct_call_interactions": ("call_id", "seq"),
    "fct_hold_segments": ("call_id", "hold_seq"),
    "dim_centers": ("center_id",),
    "dim_clients": ("client_id",),
    "fct_call_metrics_daily": ("client_id", "center_id", "local_date", "direction"),
    # interval_start_utc: the DST fall-back day repeats the local intervals of one hour
    "fct_call_metrics_interval": (
        "center_id",
        "interval_start_local",
        "interval_start_utc",
        "direction",
    ),
    # the interval mart's intervals, all directions together
    "fct_staffing_interval": ("center_id", "interval_start_local", "interval_start_utc"),
    "fct_agent_metrics_daily": ("agent", "center_id", "local_date"),
    "metric_settings": ("setting_name",),
}


_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_RAW_PLACEHOLDER: Final = re.compile(r"\{\{\s*raw\s*\}\}")


_COL_PLACEHOLDER: Final = re.compile(r"\{\{\s*col:(\w+)\.(\w+)\s*\}\}")


_AFFECTED_CALLS_PLACEHOLDER: Final = re.compile(r"\{\{\s*affected_calls:(\w+)\s*\}\}")


_AFFECTED_DAYS_PLACEHOLDER: Final = re.compile(r"\{\{\s*affected_days\s*\}\}")


_TEMPLATE_VAR: Final = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class CallSlice:
    """A slice of the calls: those whose id ``table`` lists (its column ``call_id``). Every row
    of a call, in any table, holds the same id, so lands in the same slice (a duplicated id
    too)."""

    table: str

    def predicate(self, column: str) -> str:
        return f'cast("{column}" as varchar) IN (SELECT call_id FROM {self.table})'


class SqlExecutor(Protocol):
    """What the runner needs from a connection; dlt's ``pipeline.sql_client()`` provides it.

    The return type is dlt's own (``Sequence[Sequence[Any]]``) so that its client type-checks as
    an executor; rows are tuples in practice.
    """

    def execute_sql(self, sql: str) -> Sequence[Sequence[Any]] | None: ...


class DuckDBExecutor:
    """Adapts a raw ``duckdb`` connection (tests, benchmarks, notebooks) to ``SqlExecutor``."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute_sql(self, sql: str) -> Sequence[Sequence[Any]] | None:
        cursor = self.conn.execute(sql)
        # Same contract as dlt's client: rows when the statement has a result set, else None.
        if cursor.description is None:
            return None
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


class DbApiExecutor:
    """Adapts a DB-API connection in autocommit mode (psycopg2's, for PostgreSQL in tests and
    benchmarks) to ``SqlExecutor``: the runner sends its own BEGIN and COMMIT."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute_sql(self, sql: str) -> Sequence[Sequence[Any]] | None:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
            if cursor.description is None:
                return None
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        finally:
            cursor.close()


def render(
    sql: str,
    raw: str,
    columns: dict[str, set[str]],
    incremental: bool = False,
    dialect: DialectName = "duckdb",
    null_dates: bool = True,
    call_slice: CallSlice | None = None,
    load_floor: str | None = None,
) -> str:
    """Substitutes the placeholders (see the module docstring); unknown placeholders fail.

    ``incremental``: restrict to the refresh's scope tables rather than reading everything.
    ``dialect``: the destination whose SQL the helpers write. ``null_dates``: whether the
    affected days may hold a NULL date (see ``Dialect.day_keys``). ``call_slice``: restrict the
    calls to one slice instead (DuckDB; the days as ``incremental`` says). ``load_floor``: with
    ``incremental``, for a model that reads the raw tables: the oldest ``_dlt_load_id`` of the
    scope's raw rows (``scope_ranges.raw_load_floor``).
    """

    def column(match: re.Match[str]) -> str:
        table, name = match[1], match[2]
        return f'"{name}"' if name in columns.get(table, set()) else "NULL"

    def affected_calls(match: re.Match[str]) -> str:
        if call_slice is not None:
            return call_slice.predicate(match[1])
        if not incremental:
            return "true"
        # the load id first: a constant the scan tests against its zone maps, so the id search
        # runs on the last loads' row groups instead of all of history
        floor = f"{LOAD_ID_COLUMN} >= {literal(load_floor)} and " if load_floor else ""
        return (
            f'{floor}cast("{match[1]}" as varchar) in '
            f"(select call_id from {INTERMEDIATE_SCHEMA}.affected_calls)"
        )

    affected_days = affected_keys("day", dialect, null_dates) if incremental else "true"
    sql = _COL_PLACEHOLDER.sub(column, _RAW_PLACEHOLDER.sub(raw, sql))
    sql = _AFFECTED_CALLS_PLACEHOLDER.sub(affected_calls, sql)
    sql = fill_helpers(_AFFECTED_DAYS_PLACEHOLDER.sub(affected_days, sql), dialect)
    if "{{" in sql:
        raise ValueError(f"unknown placeholder in SQL: {sql[sql.index('{{') :][:60]!r}")
    return sql


def has_null_dates(execute: SqlExecutor, days_table: str) -> bool:
    """Whether a table of center-days holds a day without a date (see ``Dialect.day_keys``)."""
    return scalar(execute, f"SELECT count(*) FROM {days_table} WHERE local_date IS NULL") > 0


def renamed(sql: str, names: dict[str, str]) -> str:
    """``sql`` reading ``names``' values in place of its keys (``schema.object`` references)."""
    for qualified, name in names.items():
        sql = re.sub(rf"(?<![\w.]){re.escape(qualified)}\b", name, sql)
    return sql


def model_files() -> set[Path]:
    """Every model file on disk (a test asserts each is in ``MODELS``)."""
    return set(MODELS_DIR.glob("*/*.sql"))


def model_sql(model: Model) -> str:
    return model.path.read_text(encoding="utf-8")


def incremental_sql(name: str) -> str:
    return (INCREMENTAL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def fill_template(template: str, variables: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        return variables[match[1]]

    return _TEMPLATE_VAR.sub(sub, template)


def sql_body(sql: str) -> str:
    # Models end with a newline and maybe a ';' for editors; neither is valid inside AS (...).
    return sql.strip().rstrip(";").rstrip()


def scalar(execute: SqlExecutor, sql: str) -> int:
    rows = execute.execute_sql(sql)
    return int(rows[0][0]) if rows else 0


def number_literal(value: float) -> str:
    return repr(float(value))


def literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def quote_identifier(identifier: str) -> str:
    # The raw schema comes from configuration: only plain identifiers, never SQL.
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"raw schema must be a plain identifier, got {identifier!r}")
    return f'"{identifier}"'


def replaced_keys(key: IncrementalKey, dialect: DialectName, null_dates: bool = True) -> str:
    """The rows an incremental refresh deletes: ``affected_keys`` but for the calls new to the
    per-call tables, which have none (``affected_calls.is_new``)."""
    if key == "call":
        return (
            f"call_id IN (SELECT call_id FROM {INTERMEDIATE_SCHEMA}.affected_calls "
            "WHERE is_rebuilt AND NOT is_new)"
        )
    return affected_keys(key, dialect, null_dates)


def affected_keys(key: IncrementalKey, dialect: DialectName, null_dates: bool = True) -> str:
    """The rows an incremental refresh replaces, per IncrementalKey. Column names unqualified:
    the same condition serves the DELETE and the filter on the model's rows. Days match NULL
    fields (``Dialect.day_keys``), so a call without a local date (a grain-check error) is
    replaced like any other rather than silently kept or dropped."""
    if key == "call":
        return (
            f"call_id IN (SELECT call_id FROM {INTERMEDIATE_SCHEMA}.affected_calls "
            "WHERE is_rebuilt)"
        )
    if key == "day":
        return Dialect(dialect).day_keys(f"{INTERMEDIATE_SCHEMA}.affected_days", null_dates)
    raise ValueError(f"a {key!r} table is rebuilt whole")


# Every call the refresh reads (rebuilt or only read for the repeat window).
AFFECTED_CALLS: Final = f"call_id IN (SELECT call_id FROM {INTERMEDIATE_SCHEMA}.affected_calls)"


def table_keys() -> dict[str, IncrementalKey]:
    """Each table model's IncrementalKey, by table name."""
    return {m.name: m.incremental_key for m in MODELS if m.materialization == "table"}
