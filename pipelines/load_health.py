"""``analytics.load_health`` and the lake's ``analytics.lake_publication``: their one writer.

``load_health`` is one row that says how fresh and how complete the warehouse is:
- the last load and the cursor (``HEALTH``: from the pipeline, at the time of writing);
- what ``verify`` found last (``VERIFIED``: written by ``verify`` in the live warehouse, and
  carried over into each serving copy);
- ``published_at`` (only in a serving copy: when it was published).

A lake has no serving copy; ``lake_publication`` records the snapshot readers attach instead.
Every statement is portable SQL with literal values (``sql_literals``), run through whatever
executes SQL on the target: dlt's ``execute_sql`` or a DuckDB connection's ``execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from pipelines import sql_literals as lit

Execute = Callable[[str], Any]

TABLE: Final = "analytics.load_health"
LAKE_TABLE: Final = "analytics.lake_publication"
# (column, type) of each part of the row, in order.
HEALTH: Final = (
    ("pipeline_name", "VARCHAR"),
    ("last_successful_load_at", "TIMESTAMPTZ"),
    ("newest_call_start", "TIMESTAMPTZ"),
    ("cursor_complete_through", "TIMESTAMPTZ"),
)
VERIFIED: Final = (
    ("verified_complete_through", "DATE"),
    ("checked_from", "DATE"),
    ("checked_to", "DATE"),
    ("days_with_differences", "BIGINT"),
    ("checked_at", "TIMESTAMPTZ"),
)


@dataclass(frozen=True)
class Verification:
    """What one ``verify`` run found."""

    verified_complete_through: date | None
    checked_from: date
    checked_to: date
    days_with_differences: int
    checked_at: datetime


def _health_values(health: dict[str, Any]) -> list[str]:
    return [
        f"CAST({lit.text(health['pipeline_name'])} AS VARCHAR)",
        lit.instant(health.get("last_successful_load_at")),
        lit.instant(health.get("newest_call_start")),
        lit.instant(health.get("complete_through")),
    ]


def _select(values: Sequence[str], columns: Sequence[tuple[str, str]]) -> str:
    return ",\n    ".join(
        f"{value} AS {name}" for value, (name, _) in zip(values, columns, strict=True)
    )


def write_verified(execute: Execute, health: dict[str, Any], found: Verification) -> None:
    """Rewrites the live warehouse's ``load_health`` after ``verify``."""
    verified = [
        lit.day(found.verified_complete_through),
        lit.day(found.checked_from),
        lit.day(found.checked_to),
        f"CAST({int(found.days_with_differences)} AS BIGINT)",
        lit.instant(found.checked_at),
    ]
    execute("CREATE SCHEMA IF NOT EXISTS analytics")
    execute(f"DROP TABLE IF EXISTS {TABLE}")
    execute(
        f"CREATE TABLE {TABLE} AS SELECT\n    "
        + _select([*_health_values(health), *verified], [*HEALTH, *VERIFIED])
    )


def stamp_published(
    execute: Execute,
    catalog: str,
    health: dict[str, Any],
    published_at: datetime,
) -> None:
    """Rewrites ``load_health`` in a serving copy attached as ``catalog``: the health now, what
    ``verify`` last wrote (carried over when the copy's ``load_health`` has it), and when the
    copy was published."""
    table = f"{catalog}.{TABLE}"
    present = {
        row[0]
        for row in execute(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_catalog = {lit.text(catalog)} AND table_schema = 'analytics' "
            "AND table_name = 'load_health'"
        )
        or ()
    }
    carried = [
        f"(SELECT {name} FROM {table} LIMIT 1)::{kind}" if name in present else f"NULL::{kind}"
        for name, kind in VERIFIED
    ]
    execute(f"CREATE SCHEMA IF NOT EXISTS {catalog}.analytics")
    execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT\n    "
        + _select(
            [*_health_values(health), *carried, lit.instant(published_at)],
            [*HEALTH, *VERIFIED, ("published_at", "TIMESTAMPTZ")],
        )
    )


def record_lake_publication(execute: Execute, health: dict[str, Any]) -> None:
    """Rewrites the lake's ``lake_publication`` in the snapshot readers will attach."""
    execute(
        f"CREATE OR REPLACE TABLE {LAKE_TABLE} AS SELECT\n    "
        + _select(_health_values(health)[1:], HEALTH[1:])
        + ",\n    now() AS published_at"
    )
