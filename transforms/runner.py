"""A small ordered runner for the SQL models and data-quality checks.

Why not dbt: the whole transform layer is ~20 SQL files over one DuckDB database. A fixed list
run through the pipeline's own ``sql_client`` needs no extra dependency, no project compilation
or startup cost, reuses the single DuckDB connection dlt already holds (DuckDB allows one writer
process), and lets the whole refresh run in one transaction: analysts never see half-built marts.

Models are plain ``SELECT`` files. A full rebuild wraps them in ``CREATE OR REPLACE VIEW|TABLE``.
An incremental refresh (the default once the marts exist) rebuilds only what the loads since the
last refresh could have changed: the runner computes the affected calls and center-days
(``transforms/incremental``), restricts the models' inputs to them, and replaces those keys in
each table (delete, then insert the model's rows for the keys); see ``transforms/README.md``.
Placeholders substituted in the models:

* ``{{ raw }}`` -> the (quoted) raw schema, since dlt's dataset name is configurable;
* ``{{ col:table.column }}`` -> the column if the raw table has it, else ``NULL``: dlt creates a
  column only once it has seen a non-null value, so an optional field (or the tombstone flag of
  a child table) may legitimately be missing;
* ``{{ affected_calls:column }}`` -> ``true`` in a full rebuild, else "``column`` is one of the
  calls the refresh reads" (``intermediate.affected_calls``);
* ``{{ affected_days }}`` -> ``true`` in a full rebuild, else "(center_id, local_date) is one of
  the center-days the refresh replaces" (``intermediate.affected_days``).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from .settings import MetricSettings

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

# What the marts reflect: the newest raw _dlt_load_id and the hash of the SQL that built them.
STATE_TABLE: Final = "transform_state"
LOAD_ID_COLUMN: Final = "_dlt_load_id"
CALL_TABLES: Final = ("calls", "calls__interactions", "calls__completed_form_ids")
# Bump when the runner's incremental logic changes in a way the SQL hash cannot see: the next
# refresh is then a full rebuild.
STATE_VERSION: Final = 1

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
    "fct_agent_metrics_daily": ("agent", "center_id", "local_date"),
    "metric_settings": ("setting_name",),
}

_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RAW_PLACEHOLDER: Final = re.compile(r"\{\{\s*raw\s*\}\}")
_COL_PLACEHOLDER: Final = re.compile(r"\{\{\s*col:(\w+)\.(\w+)\s*\}\}")
_AFFECTED_CALLS_PLACEHOLDER: Final = re.compile(r"\{\{\s*affected_calls:(\w+)\s*\}\}")
_AFFECTED_DAYS_PLACEHOLDER: Final = re.compile(r"\{\{\s*affected_days\s*\}\}")
_TEMPLATE_VAR: Final = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_HEADER: Final = re.compile(r"^--\s*(check|severity|table):\s*(\S+)\s*$", re.MULTILINE)


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


@dataclass(frozen=True)
class CheckOutcome:
    """One data-quality check and how many rows failed it."""

    check_name: str
    severity: Severity
    table_name: str
    failing_rows: int


@dataclass
class TransformResult:
    """What a run built and found; the CLI prints ``format_summary`` of it."""

    row_counts: dict[str, int] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    settings: MetricSettings = field(default_factory=MetricSettings)
    # "full" or "incremental", and why a full rebuild was needed
    refresh: str = "full"
    reason: str = ""
    # incremental refreshes: calls replaced, calls only read (repeat window), center-days replaced
    calls_rebuilt: int = 0
    calls_read_only: int = 0
    days_rebuilt: int = 0

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.failing_rows > 0]

    @property
    def errors(self) -> list[CheckOutcome]:
        return [c for c in self.failed_checks if c.severity == "error"]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [c for c in self.failed_checks if c.severity == "warn"]


class TransformCheckError(Exception):
    """A grain check failed: the marts were written but must not be trusted."""

    def __init__(self, result: TransformResult) -> None:
        self.result = result
        listed = ", ".join(f"{c.check_name} ({c.failing_rows} rows)" for c in result.errors)
        super().__init__(
            f"data-quality errors in the analytics schema: {listed}; "
            f"see {ANALYTICS_SCHEMA}.dq_findings"
        )


@dataclass(frozen=True)
class Check:
    """A check query returning (table_name, record_key, call_id, details) per failing row."""

    name: str
    severity: Severity
    table_name: str
    sql: str


@dataclass(frozen=True)
class RefreshPlan:
    """Full rebuild or incremental refresh, and the watermark the refresh starts from."""

    full: bool
    reason: str = ""
    # the newest raw load id the marts reflect; "" when they reflect only unstamped rows
    watermark: str = ""


def run_transforms(
    execute: SqlExecutor,
    raw_schema: str = "hostedsuite",
    settings: MetricSettings | None = None,
    full: bool = False,
) -> TransformResult:
    """Refreshes ``staging``, ``intermediate`` and ``analytics`` from ``raw_schema``, then checks.

    Incremental (only what changed since the last refresh) unless ``full`` or a full rebuild is
    needed: no previous refresh, other settings, other model SQL, unstamped raw tables.
    Everything, including the check results and the new watermark, is committed in one
    transaction: a crash leaves the previous marts and watermark, and the next run redoes the
    same changes. Grain-check failures raise ``TransformCheckError`` after the commit (the
    findings tables must survive for the analyst to read); reconciliation findings are only
    reported in the result.
    """
    started = time.perf_counter()
    settings = settings or MetricSettings()
    settings.validate()
    raw = _quote(raw_schema)
    result = TransformResult(settings=settings)
    with _unordered_inserts(execute), _transaction(execute):
        columns = _raw_columns(execute, raw_schema)
        missing = [t for t in RAW_TABLES if t not in columns]
        if missing:
            raise RuntimeError(
                f"raw tables missing from schema {raw_schema!r}: {', '.join(missing)}; "
                "load the pipeline first"
            )
        for schema in (STAGING_SCHEMA, INTERMEDIATE_SCHEMA, ANALYTICS_SCHEMA):
            execute.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        sql_hash = _sql_hash(raw, columns)
        existing = _existing_objects(execute)
        plan = _plan(execute, columns, settings, sql_hash, existing, full)
        # read before anything is written: the refresh then reflects at least this much
        new_watermark = _newest_load_id(execute, raw, columns)
        _write_settings(execute, settings)
        result.refresh = "full" if plan.full else "incremental"
        result.reason = plan.reason
        if plan.full:
            _build_full(execute, raw, columns, existing)
        else:
            _build_incremental(execute, raw, columns, settings, plan.watermark, result)
        result.checks = _run_checks(execute, raw, columns, incremental=not plan.full)
        _write_state(execute, new_watermark, sql_hash, result)
        for table in GRAIN_KEYS:
            result.row_counts[table] = _scalar(
                execute, f"SELECT count(*) FROM {ANALYTICS_SCHEMA}.{table}"
            )
    result.elapsed_seconds = time.perf_counter() - started
    if result.errors:
        raise TransformCheckError(result)
    return result


def _build_full(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    existing: dict[tuple[str, str], str],
) -> None:
    for model in MODELS:
        kind = "VIEW" if model.materialization == "view" else "TABLE"
        other = existing.get((model.schema, model.name))
        if other is not None and other != kind:
            # CREATE OR REPLACE cannot turn a view into a table (or back) when a model's
            # materialization changes between releases.
            execute.execute_sql(f"DROP {other} {model.schema}.{model.name}")
        _create(execute, model, render(_model_sql(model), raw, columns))
    # the scope tables of an earlier incremental refresh no longer describe anything
    for table in ("affected_calls", "affected_days"):
        execute.execute_sql(f"DROP TABLE IF EXISTS {INTERMEDIATE_SCHEMA}.{table}")


def _build_incremental(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    settings: MetricSettings,
    watermark: str,
    result: TransformResult,
) -> None:
    """Replaces, in every table, the rows of the calls and center-days the loads since
    ``watermark`` could have changed; the views end up unrestricted again."""
    views = [m for m in MODELS if m.materialization == "view"]
    # The scope is computed from the unrestricted staging views (their columns may be new).
    for model in views:
        _create(execute, model, render(_model_sql(model), raw, columns))
    scope = {
        "raw": raw,
        "watermark": _literal(watermark),
        "repeat_window_seconds": _number_literal(settings.repeat_call_window_hours * 3600),
    }
    affected_calls = _fill(_incremental_sql("affected_calls"), scope)
    execute.execute_sql(
        f"CREATE OR REPLACE TABLE {INTERMEDIATE_SCHEMA}.affected_calls AS\n{_body(affected_calls)}"
    )
    days = _body(_incremental_sql("affected_days"))
    # where the rebuilt calls were; where they are now is added once fct_calls is replaced
    execute.execute_sql(f"CREATE OR REPLACE TABLE {INTERMEDIATE_SCHEMA}.affected_days AS\n{days}")
    for model in views:
        _create(execute, model, render(_model_sql(model), raw, columns, incremental=True))
    days_added = False
    for model in MODELS:
        if model.materialization == "view":
            continue
        sql = render(_model_sql(model), raw, columns, incremental=True)
        if model.incremental_key == "full":
            _create(execute, model, sql)
            continue
        # every "day" table reads fct_calls, which MODELS builds before them
        if model.incremental_key == "day" and not days_added:
            execute.execute_sql(f"INSERT INTO {INTERMEDIATE_SCHEMA}.affected_days\n{days}")
            days_added = True
        keys = _AFFECTED_KEYS[model.incremental_key]
        table = f"{model.schema}.{model.name}"
        # the same filter on both: what is deleted is exactly what the model may insert again
        execute.execute_sql(f"DELETE FROM {table} WHERE {keys}")
        execute.execute_sql(
            f"INSERT INTO {table} BY NAME\nSELECT * FROM (\n{_body(sql)}\n) AS model WHERE {keys}"
        )
    for model in views:
        _create(execute, model, render(_model_sql(model), raw, columns))
    counted = execute.execute_sql(
        "SELECT count_if(is_rebuilt), count_if(NOT is_rebuilt), "
        "(SELECT count(DISTINCT (center_id, local_date)) "
        f"FROM {INTERMEDIATE_SCHEMA}.affected_days) FROM {INTERMEDIATE_SCHEMA}.affected_calls"
    )
    if counted:
        rebuilt, read_only, days_rebuilt = counted[0]
        result.calls_rebuilt = int(rebuilt or 0)
        result.calls_read_only = int(read_only or 0)
        result.days_rebuilt = int(days_rebuilt or 0)


# The rows an incremental refresh replaces, per IncrementalKey. Column names unqualified: the
# same condition serves the DELETE and the filter on the model's rows. Days compare as a struct,
# not a row value: struct equality matches NULL fields, so a call without a local date (a
# grain-check error) is replaced like any other rather than silently kept or dropped.
_AFFECTED_KEYS: Final[dict[str, str]] = {
    "call": (
        f"call_id IN (SELECT call_id FROM {INTERMEDIATE_SCHEMA}.affected_calls WHERE is_rebuilt)"
    ),
    "day": (
        "struct_pack(center_id, local_date) IN "
        f"(SELECT struct_pack(center_id, local_date) FROM {INTERMEDIATE_SCHEMA}.affected_days)"
    ),
}
# Every call the refresh reads (rebuilt or only read for the repeat window).
_AFFECTED_CALLS: Final = f"call_id IN (SELECT call_id FROM {INTERMEDIATE_SCHEMA}.affected_calls)"


def _plan(
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
    if previous_hash != sql_hash:
        return RefreshPlan(True, "model or check SQL changed")
    written = execute.execute_sql(
        f"SELECT setting_name, setting_value FROM {ANALYTICS_SCHEMA}.metric_settings"
    )
    previous = {(str(name), str(value)) for name, value in written or []}
    if previous != {(row[0], row[1]) for row in settings.as_rows()}:
        return RefreshPlan(True, "metric settings changed")
    return RefreshPlan(False, "", str(watermark or ""))


def _newest_load_id(execute: SqlExecutor, raw: str, columns: dict[str, set[str]]) -> str | None:
    stamped = [t for t in CALL_TABLES if LOAD_ID_COLUMN in columns.get(t, set())]
    if not stamped:
        return None
    newest = " UNION ALL ".join(
        f"SELECT max({LOAD_ID_COLUMN}) AS id FROM {raw}.{t}" for t in stamped
    )
    rows = execute.execute_sql(f"SELECT max(id) FROM ({newest}) AS newest")
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def _write_state(
    execute: SqlExecutor, watermark: str | None, sql_hash: str, result: TransformResult
) -> None:
    # Written in the refresh's transaction: the marts and the watermark they reflect commit
    # together, so a crash anywhere before the commit leaves both as they were.
    execute.execute_sql(
        f"CREATE OR REPLACE TABLE {ANALYTICS_SCHEMA}.{STATE_TABLE} AS SELECT "
        f"CAST({_literal(watermark) if watermark is not None else 'NULL'} AS VARCHAR) "
        "AS raw_load_id, "
        f"{_literal(sql_hash)} AS sql_hash, "
        f"{_literal(result.refresh)} AS last_refresh, "
        f"{_literal(result.reason)} AS full_rebuild_reason, "
        f"CAST({result.calls_rebuilt} AS BIGINT) AS calls_rebuilt, "
        f"CAST({result.days_rebuilt} AS BIGINT) AS days_rebuilt, "
        "now() AS refreshed_at"
    )


def _sql_hash(raw: str, columns: dict[str, set[str]]) -> str:
    """The SQL a full rebuild would run (placeholders filled), the model list and the runner's
    state version: any change to them makes the next refresh a full one. Rendered text, so a raw
    column that appears for the first time (NULL -> the column) counts as a change too."""
    digest = hashlib.sha256(f"{STATE_VERSION}|{MODELS!r}|{GRAIN_KEYS!r}".encode())
    for model in MODELS:
        digest.update(render(_model_sql(model), raw, columns).encode())
    for check in _load_checks(raw, columns):
        digest.update(check.sql.encode())
    for path in sorted(INCREMENTAL_DIR.glob("*.sql")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _table_keys() -> dict[str, IncrementalKey]:
    """Each table model's IncrementalKey, by table name."""
    return {m.name: m.incremental_key for m in MODELS if m.materialization == "table"}


def _model_sql(model: Model) -> str:
    return model.path.read_text(encoding="utf-8")


def _incremental_sql(name: str) -> str:
    return (INCREMENTAL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _create(execute: SqlExecutor, model: Model, sql: str) -> None:
    kind = "VIEW" if model.materialization == "view" else "TABLE"
    execute.execute_sql(f"CREATE OR REPLACE {kind} {model.schema}.{model.name} AS\n{_body(sql)}")


def format_summary(result: TransformResult) -> list[str]:
    """Lines for the CLI: row counts, failing checks, elapsed time."""
    lines = [
        f"transforms: {len(result.row_counts)} analytics tables in {result.elapsed_seconds:.2f}s"
    ]
    if result.refresh == "incremental":
        lines.append(
            f"  incremental: {result.calls_rebuilt:,} calls and {result.days_rebuilt:,} "
            f"center-days rebuilt ({result.calls_read_only:,} calls read for repeat calls)"
        )
    else:
        lines.append(f"  full rebuild: {result.reason}")
    lines += [f"  {table}: {count:,} rows" for table, count in result.row_counts.items()]
    for check in result.failed_checks:
        lines.append(
            f"  {check.severity.upper()}: {check.check_name} on {check.table_name}: "
            f"{check.failing_rows:,} rows (see {ANALYTICS_SCHEMA}.dq_findings)"
        )
    if not result.failed_checks:
        lines.append(f"  data-quality checks: all {len(result.checks)} passed")
    return lines


def render(sql: str, raw: str, columns: dict[str, set[str]], incremental: bool = False) -> str:
    """Substitutes the placeholders (see the module docstring); unknown placeholders fail.

    ``incremental``: restrict to the refresh's scope tables rather than reading everything.
    """

    def column(match: re.Match[str]) -> str:
        table, name = match[1], match[2]
        return f'"{name}"' if name in columns.get(table, set()) else "NULL"

    def affected_calls(match: re.Match[str]) -> str:
        if not incremental:
            return "true"
        return (
            f'cast("{match[1]}" as varchar) in '
            f"(select call_id from {INTERMEDIATE_SCHEMA}.affected_calls)"
        )

    affected_days = _AFFECTED_KEYS["day"] if incremental else "true"
    sql = _COL_PLACEHOLDER.sub(column, _RAW_PLACEHOLDER.sub(raw, sql))
    sql = _AFFECTED_CALLS_PLACEHOLDER.sub(affected_calls, sql)
    sql = _AFFECTED_DAYS_PLACEHOLDER.sub(affected_days, sql)
    if "{{" in sql:
        raise ValueError(f"unknown placeholder in SQL: {sql[sql.index('{{') :][:60]!r}")
    return sql


def model_files() -> set[Path]:
    """Every model file on disk (a test asserts each is in ``MODELS``)."""
    return set(MODELS_DIR.glob("*/*.sql"))


@contextmanager
def _transaction(execute: SqlExecutor) -> Iterator[None]:
    execute.execute_sql("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        # dlt's client rolls back by itself when a statement fails; a second ROLLBACK then
        # errors with "no transaction is active", which must not hide the original error.
        with suppress(Exception):
            execute.execute_sql("ROLLBACK")
        raise
    execute.execute_sql("COMMIT")


@contextmanager
def _unordered_inserts(execute: SqlExecutor) -> Iterator[None]:
    # Tables have no order; letting DuckDB write CREATE TABLE AS results in parallel without
    # preserving the input order saves ~10 % of a 1M-call refresh. The connection may be dlt's,
    # so the session's own setting is put back afterwards.
    rows = execute.execute_sql("SELECT current_setting('preserve_insertion_order')")
    previous = bool(rows[0][0]) if rows else True
    execute.execute_sql("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        execute.execute_sql(f"SET preserve_insertion_order = {str(previous).lower()}")


def _raw_columns(execute: SqlExecutor, raw_schema: str) -> dict[str, set[str]]:
    rows = execute.execute_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = '{raw_schema}' AND table_catalog = current_database()"
    )
    columns: dict[str, set[str]] = {}
    for table, column in rows or []:
        columns.setdefault(str(table), set()).add(str(column))
    return columns


def _existing_objects(execute: SqlExecutor) -> dict[tuple[str, str], str]:
    rows = execute.execute_sql(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        f"WHERE table_schema IN ('{STAGING_SCHEMA}', '{INTERMEDIATE_SCHEMA}', "
        f"'{ANALYTICS_SCHEMA}') AND table_catalog = current_database()"
    )
    return {
        (str(schema), str(name)): "VIEW" if str(kind) == "VIEW" else "TABLE"
        for schema, name, kind in rows or []
    }


def _write_settings(execute: SqlExecutor, settings: MetricSettings) -> None:
    # Values are validated numbers or a formula from a fixed list, so literal SQL is safe here.
    values = ",\n  ".join(
        "(" + ", ".join(_literal(v) for v in row) + ")" for row in settings.as_rows()
    )
    execute.execute_sql(
        f"CREATE OR REPLACE TABLE {ANALYTICS_SCHEMA}.metric_settings AS\n"
        "SELECT * FROM (VALUES\n  "
        + values
        + "\n) AS s(setting_name, setting_value, unit, description)"
    )


def _load_checks(raw: str, columns: dict[str, set[str]], incremental: bool = False) -> list[Check]:
    """Every check; ``incremental``: those of the per-call tables read the affected calls only."""
    checks: list[Check] = []
    incremental_keys = _table_keys()
    grain_unique = (CHECKS_DIR / "grain_unique.template.sql").read_text(encoding="utf-8")
    grain_not_null = (CHECKS_DIR / "grain_not_null.template.sql").read_text(encoding="utf-8")
    for table, keys in GRAIN_KEYS.items():
        source = f"{ANALYTICS_SCHEMA}.{table}"
        if incremental and incremental_keys.get(table) == "call":
            source = f"(SELECT * FROM {source} WHERE {_AFFECTED_CALLS}) AS {table}"
        variables = {
            "table": source,
            "table_name": table,
            "key_columns": ", ".join(keys),
            # The key as one readable string, e.g. "c01|3" for (call_id, seq).
            "key_text": " || '|' || ".join(f"coalesce(cast({k} AS VARCHAR), '∅')" for k in keys),
            "any_key_null": " OR ".join(f"{k} IS NULL" for k in keys),
            "call_id": "call_id" if "call_id" in keys else "NULL",
        }
        checks.append(Check(f"unique_{table}", "error", table, _fill(grain_unique, variables)))
        checks.append(Check(f"not_null_{table}", "error", table, _fill(grain_not_null, variables)))
    for path in sorted(CHECKS_DIR.glob("*.sql")):
        if path.name.endswith(".template.sql"):
            continue
        text = path.read_text(encoding="utf-8")
        header = dict(_HEADER.findall(text))
        severity = header.get("severity")
        if severity not in ("error", "warn") or "check" not in header or "table" not in header:
            raise ValueError(f"{path.name}: needs '-- check:', '-- table:' and '-- severity:'")
        sql = render(text, raw, columns, incremental)
        checks.append(Check(header["check"], severity, header["table"], sql))
    return checks


def _run_checks(
    execute: SqlExecutor, raw: str, columns: dict[str, set[str]], incremental: bool = False
) -> list[CheckOutcome]:
    """Runs every check into ``dq_findings``; ``dq_summary`` counts them.

    Incremental: the checks of the per-call tables run over the rebuilt calls only, replacing
    those calls' findings. That is exact: the other calls' rows did not change, and a duplicate
    key needs a rebuilt call on one side (only rebuilt calls' rows were inserted). Their findings
    must carry the call_id (every such check does). The checks of the aggregate and small tables
    stay global: they read far fewer rows than fct_calls, and a day-keyed finding has no column
    to replace it by.
    """
    checked_at = datetime.now(UTC).isoformat()
    checks = _load_checks(raw, columns, incremental)
    keys = _table_keys()
    per_call = {c.name for c in checks if incremental and keys.get(c.table_name) == "call"}
    # every call the refresh read: the read-only ones' rows did not change, so replacing their
    # findings too is harmless, and it lets each check filter on the same set as the models
    affected = _AFFECTED_CALLS

    def select(check: Check) -> str:
        sql = (
            f"SELECT {_literal(check.name)} AS check_name, {_literal(check.severity)} AS severity, "
            "cast(f.table_name AS VARCHAR) AS table_name, "
            "cast(f.record_key AS VARCHAR) AS record_key, "
            "cast(f.call_id AS VARCHAR) AS call_id, cast(f.details AS VARCHAR) AS details "
            f"FROM (\n{_body(check.sql)}\n) AS f"
        )
        # the outer filter keeps the DELETE below and the INSERT symmetric whatever the check's
        # own SQL restricts (its {{ affected_calls }} placeholder is what makes it fast)
        return f"SELECT * FROM ({sql}) AS f WHERE {affected}" if check.name in per_call else sql

    # One statement for all checks: fewer passes, and it sidesteps a DuckDB 1.4 problem seen on
    # 1M calls where rows appended by a later INSERT (after several empty ones) were invisible
    # to a SELECT in the same transaction.
    findings = "\nUNION ALL\n".join(select(check) for check in checks)
    if incremental:
        replaced = ", ".join(_literal(name) for name in sorted(per_call)) or "NULL"
        execute.execute_sql(
            f"DELETE FROM {ANALYTICS_SCHEMA}.dq_findings WHERE check_name NOT IN ({replaced}) "
            f"OR {affected}"
        )
        execute.execute_sql(f"INSERT INTO {ANALYTICS_SCHEMA}.dq_findings BY NAME\n{findings}")
    else:
        execute.execute_sql(
            f"CREATE OR REPLACE TABLE {ANALYTICS_SCHEMA}.dq_findings AS\n{findings}"
        )
    counted = execute.execute_sql(
        f"SELECT check_name, count(*) FROM {ANALYTICS_SCHEMA}.dq_findings GROUP BY ALL"
    )
    failing = {str(name): int(n) for name, n in counted or []}
    outcomes = [
        CheckOutcome(check.name, check.severity, check.table_name, failing.get(check.name, 0))
        for check in checks
    ]
    summary = ",\n  ".join(
        f"({_literal(o.check_name)}, {_literal(o.severity)}, {_literal(o.table_name)}, "
        f"CAST({o.failing_rows} AS BIGINT), TIMESTAMPTZ {_literal(checked_at)})"
        for o in outcomes
    )
    execute.execute_sql(
        f"CREATE OR REPLACE TABLE {ANALYTICS_SCHEMA}.dq_summary AS\n"
        f"SELECT * FROM (VALUES\n  {summary}\n) AS s(check_name, severity, table_name, "
        "failing_rows, checked_at)"
    )
    return outcomes


def _fill(template: str, variables: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        return variables[match[1]]

    return _TEMPLATE_VAR.sub(sub, template)


def _body(sql: str) -> str:
    # Models end with a newline and maybe a ';' for editors; neither is valid inside AS (...).
    return sql.strip().rstrip(";").rstrip()


def _scalar(execute: SqlExecutor, sql: str) -> int:
    rows = execute.execute_sql(sql)
    return int(rows[0][0]) if rows else 0


def _number_literal(value: float) -> str:
    return repr(float(value))


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    # The raw schema comes from configuration: only plain identifiers, never SQL.
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"raw schema must be a plain identifier, got {identifier!r}")
    return f'"{identifier}"'
