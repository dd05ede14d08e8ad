"""Data-quality checks: the grain checks every analytics table gets (from two templates) and
the SQL files of ``transforms/checks``, run in one statement into ``analytics.dq_findings``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from .dialect import Dialect, DialectName
from .project import (
    AFFECTED_CALLS,
    ANALYTICS_SCHEMA,
    CHECKS_DIR,
    GRAIN_KEYS,
    INTERMEDIATE_SCHEMA,
    Severity,
    SqlExecutor,
    affected_keys,
    fill_template,
    has_null_dates,
    literal,
    renamed,
    render,
    sql_body,
    table_keys,
)
from .slice_files import SliceFiles

_HEADER: Final = re.compile(r"^--\s*(check|severity|table):\s*(\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Check:
    """A check query returning (table_name, record_key, call_id, details) per failing row, and
    also (center_id, local_date) if ``has_day``: the grain checks, whose day-keyed findings an
    incremental refresh replaces by center-day."""

    name: str
    severity: Severity
    table_name: str
    sql: str
    has_day: bool = False
    # the check in parts whose findings together are its own, each over a bucket of the keys
    # (a full rebuild in slices runs a grain's uniqueness over 10M calls this way: in one
    # GROUP BY it ran out of a 512 MB cap); empty: run ``sql`` whole
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckOutcome:
    """One data-quality check and how many rows failed it."""

    check_name: str
    severity: Severity
    table_name: str
    failing_rows: int


def load_checks(
    raw: str,
    columns: dict[str, set[str]],
    incremental: bool = False,
    dialect: DialectName = "duckdb",
    new_rows: dict[str, str] | None = None,
    buckets: int = 1,
) -> list[Check]:
    """Every check; ``incremental``: those of the per-call tables read the affected calls only,
    from ``new_rows`` (``schema.table`` -> the temporary table of its new rows) when given,
    where the day tables' grain checks read their new rows too. ``buckets`` > 1 (DuckDB): the
    uniqueness checks also come in that many parts, by a hash of the key."""
    checks: list[Check] = []
    incremental_keys = table_keys()
    new_rows = new_rows if incremental else None
    template_sql = {
        kind: (CHECKS_DIR / f"grain_{kind}.template.sql").read_text(encoding="utf-8")
        for kind in ("unique", "not_null")
    }
    for table, keys in GRAIN_KEYS.items():
        source = f"{ANALYTICS_SCHEMA}.{table}"
        key = incremental_keys.get(table)
        if new_rows and key in ("call", "day"):
            source = f"{new_rows[source]} AS {table}"
        elif incremental and key == "call":
            source = f"(SELECT * FROM {source} WHERE {AFFECTED_CALLS}) AS {table}"
        variables = {
            "table": source,
            "table_name": table,
            "key_columns": ", ".join(keys),
            # The key as one readable string, e.g. "c01|3" for (call_id, seq).
            "key_text": " || '|' || ".join(f"coalesce(cast({k} AS VARCHAR), '∅')" for k in keys),
            "any_key_null": " OR ".join(f"{k} IS NULL" for k in keys),
            "call_id": "call_id" if "call_id" in keys else "NULL",
            "center_id": "center_id" if key == "day" else "NULL",
        }
        for kind, template in template_sql.items():
            # a day table's row has its day; a duplicated key (a group) has one day too, as
            # every day-table key holds center_id and the local day or an interval within it
            date = "local_date" if kind == "not_null" or "local_date" in keys else "min(local_date)"
            variables["local_date"] = date if key == "day" else "NULL"
            sql = fill_template(template, variables)
            parts: tuple[str, ...] = ()
            if kind == "unique" and buckets > 1:
                parts = tuple(
                    fill_template(
                        template,
                        variables | {"table": _hashed_bucket(source, table, keys, k, buckets)},
                    )
                    for k in range(buckets)
                )
            checks.append(Check(f"{kind}_{table}", "error", table, sql, True, parts))
    for path in sorted(CHECKS_DIR.glob("*.sql")):
        if path.name.endswith(".template.sql"):
            continue
        text = path.read_text(encoding="utf-8")
        header = dict(_HEADER.findall(text))
        severity = header.get("severity")
        if severity not in ("error", "warn") or "check" not in header or "table" not in header:
            raise ValueError(f"{path.name}: needs '-- check:', '-- table:' and '-- severity:'")
        sql = render(text, raw, columns, incremental, dialect)
        if new_rows and incremental_keys.get(header["table"]) == "call":
            sql = renamed(sql, new_rows)
        checks.append(Check(header["check"], severity, header["table"], sql))
    return checks


def _hashed_bucket(
    source: str, table: str, keys: tuple[str, ...], bucket: int, buckets: int
) -> str:
    """The rows of ``source`` in bucket ``bucket`` of ``buckets`` by a hash of the key, and of
    those only the rows whose key's hash occurs more than once (DuckDB's ``hash``).

    A key's rows all fall in one bucket, so each duplicate is found whole; and a duplicated key
    has a duplicated hash, so the second filter keeps every duplicate. It lets the grouping by
    the key itself, whose string keys DuckDB 1.4 spills poorly (under a 256 MB cap it ran out of
    memory on 1.5M keys of 3M interactions), run over the few rows left: the grouping by a
    64-bit hash that finds them holds 8-byte keys."""
    key_hash = f"hash({', '.join(keys)})"
    in_bucket = f"{key_hash} % {buckets} = {bucket}"
    repeated = (
        f"SELECT {key_hash} AS key_hash FROM {source} WHERE {in_bucket} "
        "GROUP BY key_hash HAVING count(*) > 1"
    )
    return f"(SELECT * FROM {source} WHERE {in_bucket} AND {key_hash} IN ({repeated})) AS {table}"


def run_checks(
    execute: SqlExecutor,
    raw: str,
    columns: dict[str, set[str]],
    incremental: bool = False,
    dialect: DialectName = "duckdb",
    new_rows: dict[str, str] | None = None,
    by_file: bool = False,
    buckets: int = 1,
) -> list[CheckOutcome]:
    """Runs every check into ``dq_findings``; ``dq_summary`` counts them.

    Incremental: the checks of the per-call tables run over the rebuilt calls only, replacing
    those calls' findings. That is exact: the other calls' rows did not change, and a duplicate
    key needs a rebuilt call on one side (only rebuilt calls' rows were inserted). Their findings
    must carry the call_id (every such check does). ``new_rows`` (DuckDB): the per-call checks
    read the rebuilt calls' new rows there rather than search the marts for them, and the day
    tables' grain checks read the affected center-days' new rows and replace those days'
    findings, which carry their center_id and local_date (a duplicated key of a day table lies
    within one center-day). Without it (PostgreSQL) the day tables' checks run over the whole
    tables; the small tables' checks always do.

    ``by_file`` (a full rebuild in slices, DuckDB): one check at a time, each into a file
    (``slice_files``), and ``dq_findings`` from the files, so that the checks' working set is
    one check's, not every check's at once; the uniqueness checks in ``buckets`` parts each
    (only ``by_file`` runs parts: 1 otherwise).
    """
    checked_at = datetime.now(UTC).isoformat()
    checks = load_checks(raw, columns, incremental, dialect, new_rows, buckets)
    statements = Dialect(dialect)
    keys = table_keys()
    per_call = {c.name for c in checks if incremental and keys.get(c.table_name) == "call"}
    # On DuckDB, the day tables' grain checks read their affected days' new rows and replace
    # those days' findings; elsewhere they run over whole tables.
    per_day = {c.name for c in checks if new_rows and keys.get(c.table_name) == "day"}
    days = f"{INTERMEDIATE_SCHEMA}.affected_days"
    day_affected = (
        Dialect(dialect).day_keys(days, has_null_dates(execute, days)) if per_day else "false"
    )
    # Without new_rows: every call the refresh read; the read-only ones' rows did not change,
    # so replacing their findings too is harmless, and it lets each check filter on the same set
    # as the models. With new_rows, which hold the rebuilt calls only: those calls, so that the
    # read-only calls' findings are kept, not dropped.
    affected = affected_keys("call", dialect) if new_rows else AFFECTED_CALLS

    def select(check: Check, part: str | None = None) -> str:
        sql = (
            f"SELECT {literal(check.name)} AS check_name, {literal(check.severity)} AS severity, "
            "cast(f.table_name AS VARCHAR) AS table_name, "
            "cast(f.record_key AS VARCHAR) AS record_key, "
            "cast(f.call_id AS VARCHAR) AS call_id, "
            + (
                "cast(f.center_id AS VARCHAR) AS center_id, "
                "cast(f.local_date AS DATE) AS local_date"
                if check.has_day
                else "cast(NULL AS VARCHAR) AS center_id, cast(NULL AS DATE) AS local_date"
            )
            + ", cast(f.details AS VARCHAR) AS details FROM (\n"
            + sql_body(check.sql if part is None else part)
            + "\n) AS f"
        )
        # the outer filter keeps the DELETE below and the INSERT symmetric whatever the check's
        # own SQL restricts (its {{ affected_calls }} placeholder is what makes it fast)
        if check.name in per_call:
            return f"SELECT * FROM ({sql}) AS f WHERE {affected}"
        if check.name in per_day:
            return f"SELECT * FROM ({sql}) AS f WHERE {day_affected}"
        return sql

    # One statement appends all checks' findings: fewer passes, and it sidesteps a DuckDB 1.4
    # problem seen on 1M calls where rows appended by a later INSERT (after several empty ones)
    # were invisible to a SELECT in the same transaction.
    selects = [select(check) for check in checks]
    findings = "\nUNION ALL\n".join(selects)
    if incremental:
        replaced = ", ".join(literal(name) for name in sorted(per_call | per_day)) or "NULL"
        by_day = ", ".join(literal(name) for name in sorted(per_day)) or "NULL"
        execute.execute_sql(
            f"DELETE FROM {ANALYTICS_SCHEMA}.dq_findings WHERE check_name NOT IN ({replaced}) "
            f"OR {affected} OR (check_name IN ({by_day}) AND {day_affected})"
        )
        insert = statements.insert_by_name(f"{ANALYTICS_SCHEMA}.dq_findings")
        if new_rows:
            _insert_one_check_at_a_time(execute, insert, selects)
        else:
            execute.execute_sql(f"{insert}\n{findings}")
    elif by_file:
        with SliceFiles(execute) as files:
            views = [f"temp.main.check_{number}" for number in range(len(checks))]
            for view, check in zip(views, checks, strict=True):
                files.write(view, *(select(check, part) for part in check.parts or (None,)))
            union = "\nUNION ALL\n".join(f"SELECT * FROM {view}" for view in views)
            execute.execute_sql(
                f"CREATE OR REPLACE TABLE {ANALYTICS_SCHEMA}.dq_findings AS {union}"
            )
            for view in views:
                execute.execute_sql(f"DROP VIEW {view}")
    else:
        for statement in statements.create_or_replace(
            "TABLE", f"{ANALYTICS_SCHEMA}.dq_findings", findings
        ):
            execute.execute_sql(statement)
    counted = execute.execute_sql(
        f"SELECT check_name, count(*) FROM {ANALYTICS_SCHEMA}.dq_findings GROUP BY check_name"
    )
    failing = {str(name): int(n) for name, n in counted or []}
    outcomes = [
        CheckOutcome(check.name, check.severity, check.table_name, failing.get(check.name, 0))
        for check in checks
    ]
    summary = ",\n  ".join(
        f"({literal(o.check_name)}, {literal(o.severity)}, {literal(o.table_name)}, "
        f"CAST({o.failing_rows} AS BIGINT), TIMESTAMPTZ {literal(checked_at)})"
        for o in outcomes
    )
    rows = (
        f"SELECT * FROM (VALUES\n  {summary}\n) AS s(check_name, severity, table_name, "
        "failing_rows, checked_at)"
    )
    for statement in statements.create_or_replace("TABLE", f"{ANALYTICS_SCHEMA}.dq_summary", rows):
        execute.execute_sql(statement)
    return outcomes


def _insert_one_check_at_a_time(execute: SqlExecutor, insert: str, findings: list[str]) -> None:
    """``insert`` (an INSERT's head) of every query of ``findings``, each query run alone into a
    temporary table first (DuckDB). In one statement, each check's grouping and joins hold
    their hash tables until the statement ends, and a hash table has a floor of its own
    whatever its rows: 40-odd of them side by side ran out of a 160 MB cap on the few rows of
    a scheduled run. One INSERT of the temporary tables then appends the findings: not one
    INSERT per check (see the note on DuckDB 1.4 above)."""
    tables = [f"temp.main.check_findings_{number}" for number in range(len(findings))]
    for table, query in zip(tables, findings, strict=True):
        execute.execute_sql(f"CREATE OR REPLACE TEMP TABLE {table} AS {query}")
    union = "\nUNION ALL\n".join(f"SELECT * FROM {table}" for table in tables)
    execute.execute_sql(f"{insert}\n{union}")
    for table in tables:
        execute.execute_sql(f"DROP TABLE {table}")
