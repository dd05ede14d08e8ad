"""The calls the vendor-data edge tests add to the 12 of ``raw_fixture``, on days those calls
do not use, so the marts' other rows (checked in ``test_marts.py``) are untouched."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb

from .raw_fixture import insert_call

D12 = date(2024, 3, 12)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def call(
    call_id: str,
    start_utc: str,
    *,
    client: str | None = "K1",
    center: str | None = "C1",
    agent: str | None = "bob",
    ring: float = 5,
    talk: float = 0,
    hold: float = 0,
    hold_count: int = 0,
    duration: float | None = None,
) -> tuple[Any, ...]:
    """An incoming ``raw_fixture.CALLS``-shaped row; duration defaults to ring + talk + hold.
    The caller number is made of the id's character codes: no two test calls are repeat calls."""
    if duration is None:
        duration = ring + talk + hold
    caller = "+1" + "".join(f"{ord(ch):03d}" for ch in call_id)
    return (call_id, client, center, start_utc, "Incoming", agent, caller,
            ring, talk, hold, hold_count, 0, 0, duration, False, None)  # fmt: skip


def add(conn: duckdb.DuckDBPyConnection, *rows: tuple[Any, ...]) -> None:
    for row in rows:
        insert_call(conn, row, "hostedsuite")
