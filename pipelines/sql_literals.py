"""SQL literals every supported destination reads the same way (DuckDB, PostgreSQL, DuckLake).

dlt's ``execute_sql`` takes the driver's own placeholders (``?`` for DuckDB, ``%s`` for
psycopg2), so placeholders would tie a statement to one destination; values written by these
functions are quoted or typed, never spliced raw.
"""

from __future__ import annotations

from datetime import date, datetime


def text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def day(value: date | None) -> str:
    return "CAST(NULL AS DATE)" if value is None else f"DATE '{value.isoformat()}'"


def number(value: int | None) -> str:
    return "CAST(NULL AS BIGINT)" if value is None else str(int(value))


def instant(value: datetime | str | None) -> str:
    """A TIMESTAMPTZ literal from a datetime or an ISO 8601 string (the dlt state's)."""
    if value is None:
        return "CAST(NULL AS TIMESTAMPTZ)"
    written = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"CAST({text(written)} AS TIMESTAMPTZ)"
