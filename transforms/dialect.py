"""The few SQL constructs the models, checks and runner write differently per destination.

The models are written once, in the SQL DuckDB and PostgreSQL share, plus named helpers the
runner fills per destination: ``{{ epoch(ts) }}``, ``{{ count_if(cond) }}``, ... (``HELPERS``).
DuckDB's rendering is the SQL the models had before they were portable, so its plans (and the
benchmarked refresh time) do not change; see ``transforms/README.md`` for why helpers and not a
transpiler. The runner's own statements (create or replace, insert by name, the day keys of an
incremental refresh) come from ``Dialect`` too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

DialectName = Literal["duckdb", "postgres"]


DIALECTS: Final[tuple[DialectName, ...]] = ("duckdb", "postgres")


class _Executor(Protocol):
    def execute_sql(self, sql: str) -> Sequence[Sequence[Any]] | None: ...


Helper = Callable[[list[str]], str]


# Each helper: (DuckDB rendering, PostgreSQL rendering), from the placeholder's arguments.
HELPERS: Final[dict[str, tuple[Helper, Helper]]] = {
    # seconds since 1970 as a double (PostgreSQL's extract gives numeric)
    "epoch": (
        lambda a: f"epoch({a[0]})",
        lambda a: f"cast(extract(epoch from {a[0]}) as double precision)",
    ),
    "count_if": (
        lambda a: f"count_if({a[0]})",
        lambda a: f"count(*) filter (where {a[0]})",
    ),
    # the value of the first argument at the row with the smallest second argument
    "arg_min": (
        lambda a: f"arg_min({a[0]}, {a[1]})",
        lambda a: f"(array_agg({a[0]} order by {a[1]}))[1]",
    ),
    # an instant plus a number of seconds, to the microsecond
    "add_seconds": (
        lambda a: f"{a[0]} + to_microseconds(cast(round({a[1]} * 1e6) as bigint))",
        lambda a: f"{a[0]} + cast(round({a[1]} * 1e6) as bigint) * interval '1 microsecond'",
    ),
    # a local timestamp floored to whole intervals of a number of minutes within its day
    "interval_floor": (
        lambda a: (
            f"date_trunc('day', {a[0]}) + to_minutes(cast((hour({a[0]}) * 60 + minute({a[0]})) "
            f"// {a[1]} * {a[1]} as bigint))"
        ),
        lambda a: (
            f"date_trunc('day', {a[0]}) + cast(extract(hour from {a[0]}) * 60 "
            f"+ extract(minute from {a[0]}) as bigint) / {a[1]} * {a[1]} * interval '1 minute'"
        ),
    ),
    # a sum of seconds that does not depend on the order of its rows: each value is rounded to
    # the nanosecond and added as a decimal (exact), then given back as a double. A double sum
    # differs in its last bits with the order of the rows, so an incremental refresh (rows
    # added in another order) would not equal a full rebuild exactly.
    "exact_sum": (
        lambda a: f"cast(sum(cast({a[0]} as decimal(38, 9))) as double)",
        lambda a: f"cast(sum(cast({a[0]} as numeric(38, 9))) as double precision)",
    ),
    # one row per integer in [first, last]
    "integer_rows": (
        lambda a: f"unnest(generate_series({a[0]}, {a[1]}))",
        lambda a: f"generate_series({a[0]}, {a[1]})",
    ),
    # a timestamptz, or NULL for text that is not one (DuckDB); PostgreSQL has no try_cast,
    # and dlt loads these columns as timestamptz there already
    "try_timestamptz": (
        lambda a: f"try_cast({a[0]} as timestamptz)",
        lambda a: f"cast({a[0]} as timestamptz)",
    ),
}


# arguments hold no "{{": nested helpers are filled innermost first
_HELPER_CALL: Final = re.compile(r"\{\{\s*(\w+)\(((?:(?!\{\{).)*?)\)\s*\}\}", re.DOTALL)


def fill_helpers(sql: str, dialect: DialectName) -> str:
    """Replaces every ``{{ helper(args) }}``; an unknown helper fails."""
    index = DIALECTS.index(dialect)

    def sub(match: re.Match[str]) -> str:
        if match[1] not in HELPERS:
            raise ValueError(f"unknown SQL helper: {match[1]!r}")
        return HELPERS[match[1]][index](split_arguments(match[2]))

    while True:
        filled = _HELPER_CALL.sub(sub, sql)
        if filled == sql:
            return filled
        sql = filled


def split_arguments(text: str) -> list[str]:
    """Splits on the commas outside parentheses and quotes."""
    parts: list[str] = []
    depth, quoted, current = 0, False, ""
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == ",":
            parts.append(current.strip())
            current = ""
            continue
        current += char
    return [*parts, current.strip()]


@dataclass(frozen=True)
class Dialect:
    """The runner's statements for one destination."""

    name: DialectName

    @property
    def is_duckdb(self) -> bool:
        return self.name == "duckdb"

    def create_or_replace(self, kind: str, name: str, sql: str) -> list[str]:
        """Statements that (re)create a view or table from a query."""
        if self.is_duckdb:
            return [f"CREATE OR REPLACE {kind} {name} AS\n{sql}"]
        # CASCADE: the views that read it are recreated later in the same transaction
        return [f"DROP {kind} IF EXISTS {name} CASCADE", f"CREATE {kind} {name} AS\n{sql}"]

    @property
    def cascade(self) -> str:
        """What a DROP adds so that the views reading the object go too (recreated after)."""
        return "" if self.is_duckdb else "CASCADE"

    def insert_by_name(self, table: str) -> str:
        # PostgreSQL inserts by position: the table was created from the same query, so the
        # columns are in the query's order (the SQL hash makes any change a full rebuild)
        return f"INSERT INTO {table} BY NAME" if self.is_duckdb else f"INSERT INTO {table}"

    def day_keys(self, days_table: str, null_dates: bool = True) -> str:
        """(center_id, local_date) is among ``days_table``'s, NULLs matching NULLs;
        ``null_dates``: whether ``days_table`` may hold a NULL date (False: it holds none)."""
        if self.is_duckdb:
            # Struct equality matches NULL fields. Without NULL dates, a plain semi join on the
            # date comes first: DuckDB hands the dates' range to the scan, whose zone maps then
            # skip the row groups of other days (a 10M-call fct_calls: 2 ms instead of 0.3 s
            # counted, far more when every column is read). "OR local_date IS NULL" would stop
            # that, so a day without a date (a grain error) takes the slow form.
            by_date = (
                "" if null_dates else (f"local_date IN (SELECT local_date FROM {days_table}) AND ")
            )
            return (
                f"{by_date}struct_pack(center_id, local_date) IN "
                f"(SELECT struct_pack(center_id, local_date) FROM {days_table})"
            )
        # a row value IN would never match a NULL: NULL becomes a value no real row holds
        keys = "coalesce(center_id, ''), coalesce(local_date, '-infinity'::date)"
        return f"({keys}) IN (SELECT {keys} FROM {days_table})"


def detect_dialect(execute: _Executor) -> DialectName:
    """DuckDB or PostgreSQL, from the server's own version string."""
    try:
        rows = execute.execute_sql("SELECT version()")
    except Exception:  # any driver's error: the server has no version() at all
        rows = None
    version = str(rows[0][0]) if rows else "a server without version()"
    if version.startswith("PostgreSQL"):
        return "postgres"
    if version.startswith("v"):
        return "duckdb"
    raise RuntimeError(f"transforms support DuckDB and PostgreSQL, not {version[:40]!r}")
