"""Reading a loaded warehouse back and comparing it with the emulator's truth.

A warehouse is a DuckDB file (a ``Path``) or a PostgreSQL database (its DSN, a ``str``); both
are read in UTC, so instants compare equal whichever destination holds them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

CALL_COLUMNS = [
    "id",
    "client_id",
    "client_name",
    "center_id",
    "start_time",
    "start_time_local",
    "caller_name",
    "caller_number",
    "transfer_to_name",
    "transfer_to_number",
    "notes",
    "duration_in_seconds",
    "ring_time_in_seconds",
    "hold_time_in_seconds",
    "hold_count",
    "answered_by",
    "server",
    "talk_time_in_seconds",
    "transfer_time_in_seconds",
    "screen_pop",
    "flagged",
    "flag_notes",
    "type",
    "work_time_in_seconds",
]
INTERACTION_COLUMNS = ["call_id", "seq", "start_time", "start_time_local", "type", "description"]


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(path), read_only=True)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


Warehouse = Path | str


def rows(path: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(path, str):
        return postgres_rows(path, sql)
    with connect(path) as conn:
        return conn.execute(sql).fetchall()


def postgres_rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]
    finally:
        conn.close()


# The raw tables that hold a call's rows: its own, and its children's.
RAW_CALL_TABLES = ("calls", "calls__interactions", "calls__completed_form_ids")


def call_id_column(table: str) -> str:
    """The column of a raw call table that holds the call's id."""
    return "id" if table == "calls" else "call_id"


def call_row_count(path: Path, table: str, call_id: str) -> int:
    """How many rows of the raw call table ``table`` (calls or a child table) are the call's."""
    query = f"SELECT count(*) FROM hostedsuite.{table} WHERE {call_id_column(table)} = '{call_id}'"
    return int(rows(path, query)[0][0])


def calls_by_id(path: Warehouse) -> dict[str, dict[str, Any]]:
    found = rows(path, f"SELECT {', '.join(CALL_COLUMNS)} FROM hostedsuite.calls")
    return {r[0]: dict(zip(CALL_COLUMNS, r, strict=True)) for r in found}


def interactions(path: Warehouse) -> Counter[tuple[Any, ...]]:
    sql = f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM hostedsuite.calls__interactions"
    return Counter(rows(path, sql))


def form_ids(path: Warehouse) -> Counter[tuple[Any, ...]]:
    return Counter(rows(path, "SELECT call_id, form_id FROM hostedsuite.calls__completed_form_ids"))


def assert_matches_truth(
    path: Warehouse,
    truth: Any,
    start: datetime | None = None,
    end: datetime | None = None,
    ignore_ids: frozenset[str] = frozenset(),
) -> None:
    """Every call, interaction and form id equal to the truth: nothing lost, nothing extra.

    With ``start``/``end``, only the truth's calls starting in [start, end) are expected.
    ``ignore_ids``: stored calls checked elsewhere (e.g. loaded with a data-quality flag).
    """
    if start is not None or end is not None:
        truth = _restricted(truth, start, end)
    stored = {k: v for k, v in calls_by_id(path).items() if k not in ignore_ids}
    ids = [r[0] for r in rows(path, "SELECT id FROM hostedsuite.calls")]
    assert len(ids) == len(set(ids)), "duplicate call ids in the warehouse"
    expected = {c["id"]: {k: c[k] for k in CALL_COLUMNS} for c in truth.calls}
    missing = expected.keys() - stored.keys()
    extra = stored.keys() - expected.keys()
    assert not missing and not extra, f"{len(missing)} missing, {len(extra)} extra calls"
    wrong = [i for i in expected if expected[i] != stored[i]]
    if wrong:
        first = wrong[0]
        diff = {
            k: (expected[first][k], stored[first][k])
            for k in CALL_COLUMNS
            if expected[first][k] != stored[first][k]
        }
        raise AssertionError(f"{len(wrong)} calls differ from the truth, e.g. {first}: {diff}")
    want_interactions = Counter(
        tuple(i[k] for k in INTERACTION_COLUMNS) for i in truth.interactions
    )
    got_interactions = Counter(
        {k: n for k, n in interactions(path).items() if k[0] not in ignore_ids}
    )
    assert got_interactions == want_interactions, (
        f"interactions differ: missing {list((want_interactions - got_interactions).items())[:3]}, "
        f"extra {list((got_interactions - want_interactions).items())[:3]}"
    )
    want_forms = Counter((f["call_id"], f["form_id"]) for f in truth.completed_form_ids)
    got_forms = Counter({k: n for k, n in form_ids(path).items() if k[0] not in ignore_ids})
    assert got_forms == want_forms, "completed form ids differ from the truth"


@dataclass
class _Restricted:
    calls: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    completed_form_ids: list[dict[str, Any]]


def _restricted(truth: Any, start: datetime | None, end: datetime | None) -> _Restricted:
    calls = [
        c
        for c in truth.calls
        if (start is None or c["start_time"] >= start) and (end is None or c["start_time"] < end)
    ]
    ids = {c["id"] for c in calls}
    return _Restricted(
        calls,
        [i for i in truth.interactions if i["call_id"] in ids],
        [f for f in truth.completed_form_ids if f["call_id"] in ids],
    )
