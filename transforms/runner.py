"""A small ordered runner for the SQL models and data-quality checks.

Why not dbt: the whole transform layer is ~20 SQL files over one DuckDB database. A fixed list
run through the pipeline's own ``sql_client`` needs no extra dependency, no project compilation
or startup cost, reuses the single DuckDB connection dlt already holds (DuckDB allows one writer
process), and lets the whole rebuild run in one transaction: analysts never see half-built marts.

Models are plain ``SELECT`` files; the runner wraps them in ``CREATE OR REPLACE VIEW|TABLE`` so a
rerun replaces every object atomically and is idempotent. Two placeholders are substituted:

* ``{{ raw }}`` -> the (quoted) raw schema, since dlt's dataset name is configurable;
* ``{{ col:table.column }}`` -> the column if the raw table has it, else ``NULL``: dlt creates a
  column only once it has seen a non-null value, so an optional field (or the tombstone flag of
  a child table) may legitimately be missing.
"""

from __future__ import annotations

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

Materialization = Literal["view", "table"]
Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class Model:
    """One SQL file and where/how it is built."""

    layer: str
    name: str
    materialization: Materialization

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
    Model("intermediate", "int_hold_segments", "table"),
    Model("intermediate", "int_call_interaction_summary", "view"),
    Model("intermediate", "int_repeat_calls", "view"),
    Model("intermediate", "int_call_flags", "view"),
    Model("marts", "fct_calls", "table"),
    Model("marts", "fct_call_interactions", "table"),
    Model("marts", "fct_hold_segments", "table"),
    Model("marts", "dim_centers", "table"),
    Model("marts", "dim_clients", "table"),
    Model("intermediate", "int_call_metrics_rollup", "table"),
    Model("marts", "fct_call_metrics_daily", "table"),
    Model("marts", "fct_call_metrics_interval", "table"),
    Model("marts", "fct_agent_metrics_daily", "table"),
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


def run_transforms(
    execute: SqlExecutor,
    raw_schema: str = "hostedsuite",
    settings: MetricSettings | None = None,
) -> TransformResult:
    """Rebuilds ``staging``, ``intermediate`` and ``analytics`` from ``raw_schema``, then checks.

    Everything, including the check results, is committed in one transaction. Grain-check
    failures raise ``TransformCheckError`` after the commit (the findings tables must survive for
    the analyst to read); reconciliation findings are only reported in the result.
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
        _write_settings(execute, settings)
        existing = _existing_objects(execute)
        for model in MODELS:
            sql = render(model.path.read_text(encoding="utf-8"), raw, columns)
            kind = "VIEW" if model.materialization == "view" else "TABLE"
            other = existing.get((model.schema, model.name))
            if other is not None and other != kind:
                # CREATE OR REPLACE cannot turn a view into a table (or back) when a model's
                # materialization changes between releases.
                execute.execute_sql(f"DROP {other} {model.schema}.{model.name}")
            execute.execute_sql(
                f"CREATE OR REPLACE {kind} {model.schema}.{model.name} AS\n{_body(sql)}"
            )
        result.checks = _run_checks(execute, raw, columns)
        for table in GRAIN_KEYS:
            result.row_counts[table] = _scalar(
                execute, f"SELECT count(*) FROM {ANALYTICS_SCHEMA}.{table}"
            )
    result.elapsed_seconds = time.perf_counter() - started
    if result.errors:
        raise TransformCheckError(result)
    return result


def format_summary(result: TransformResult) -> list[str]:
    """Lines for the CLI: row counts, failing checks, elapsed time."""
    lines = [
        f"transforms: {len(result.row_counts)} analytics tables in {result.elapsed_seconds:.2f}s"
    ]
    lines += [f"  {table}: {count:,} rows" for table, count in result.row_counts.items()]
    for check in result.failed_checks:
        lines.append(
            f"  {check.severity.upper()}: {check.check_name} on {check.table_name}: "
            f"{check.failing_rows:,} rows (see {ANALYTICS_SCHEMA}.dq_findings)"
        )
    if not result.failed_checks:
        lines.append(f"  data-quality checks: all {len(result.checks)} passed")
    return lines


def render(sql: str, raw: str, columns: dict[str, set[str]]) -> str:
    """Substitutes ``{{ raw }}`` and ``{{ col:table.column }}``; unknown placeholders fail."""

    def column(match: re.Match[str]) -> str:
        table, name = match[1], match[2]
        return f'"{name}"' if name in columns.get(table, set()) else "NULL"

    sql = _COL_PLACEHOLDER.sub(column, _RAW_PLACEHOLDER.sub(raw, sql))
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


def _load_checks(raw: str, columns: dict[str, set[str]]) -> list[Check]:
    checks: list[Check] = []
    grain_unique = (CHECKS_DIR / "grain_unique.template.sql").read_text(encoding="utf-8")
    grain_not_null = (CHECKS_DIR / "grain_not_null.template.sql").read_text(encoding="utf-8")
    for table, keys in GRAIN_KEYS.items():
        variables = {
            "table": f"{ANALYTICS_SCHEMA}.{table}",
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
        checks.append(Check(header["check"], severity, header["table"], render(text, raw, columns)))
    return checks


def _run_checks(execute: SqlExecutor, raw: str, columns: dict[str, set[str]]) -> list[CheckOutcome]:
    checked_at = datetime.now(UTC).isoformat()
    checks = _load_checks(raw, columns)
    # One statement for all checks: fewer passes, and it sidesteps a DuckDB 1.4 problem seen on
    # 1M calls where rows appended by a later INSERT (after several empty ones) were invisible
    # to a SELECT in the same transaction.
    selects = [
        f"SELECT {_literal(check.name)} AS check_name, {_literal(check.severity)} AS severity, "
        "cast(f.table_name AS VARCHAR) AS table_name, cast(f.record_key AS VARCHAR) AS record_key, "
        "cast(f.call_id AS VARCHAR) AS call_id, cast(f.details AS VARCHAR) AS details "
        f"FROM (\n{_body(check.sql)}\n) AS f"
        for check in checks
    ]
    execute.execute_sql(
        f"CREATE OR REPLACE TABLE {ANALYTICS_SCHEMA}.dq_findings AS\n"
        + "\nUNION ALL\n".join(selects)
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


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    # The raw schema comes from configuration: only plain identifiers, never SQL.
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"raw schema must be a plain identifier, got {identifier!r}")
    return f'"{identifier}"'
