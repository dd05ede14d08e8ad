"""Where an incremental refresh's rows lie in the time- and load-ordered tables, as conditions
the zone maps test before any search by call id runs: the scope's range of start times
(``affected_calls.sql``), the per-call tables' deletes in parts, the calls whose interactions lie
far from them, and the raw tables' load floor. At 10M calls each of these replaced a scan of
4-30M rows (0.1-0.5 s) with a read of a few row groups; ``incremental_build.py`` runs them.
"""

from __future__ import annotations

from typing import Final

from .project import (
    ANALYTICS_SCHEMA,
    CALL_TABLES,
    INTERMEDIATE_SCHEMA,
    LOAD_ID_COLUMN,
    SqlExecutor,
    literal,
)

# Where the rebuilt calls' rows of each per-call table lie in time (affected_calls.sql), so
# that their deletes read the scope's range of start times through the zone maps of these
# time-ordered tables instead of searching every row by call id (at 10M calls: 0.15 s in
# fct_calls, 0.26-0.30 s in fct_call_interactions, 0.07 s in each table of hold segments):
# - a call's row starts within the range, before and after the edit, or has no start
#   (``is_without_start``, searched for apart);
# - its interactions and holds are timed by their own events, within ``NEAR_SECONDS`` of the
#   call's start, except those of the calls in ``FAR_TIMED``, searched for apart.
STARTS_IN_SCOPE: Final = f"{ANALYTICS_SCHEMA}.fct_calls"
EVENTS_NEAR_START: Final = {
    f"{ANALYTICS_SCHEMA}.fct_call_interactions": "started_at_utc",
    f"{INTERMEDIATE_SCHEMA}.int_hold_segments": "hold_started_at_utc",
    f"{ANALYTICS_SCHEMA}.fct_hold_segments": "hold_started_at_utc",
}
# A day: an interaction timed further from its call's start is an error of the vendor's data
# (at 10M calls of the emulator's, the furthest is 1,904 s away; a call lasts minutes).
NEAR_SECONDS: Final = 86_400
# The rebuilt calls with an interaction in the marts further than NEAR_SECONDS from its call's
# start, or no offset (no start time, or no call row yet): their interactions' and holds' rows
# may lie anywhere in time. Most refreshes have none.
FAR_TIMED: Final = "temp.main.far_timed_calls"


def far_timed_calls() -> str:
    """``FAR_TIMED``'s query: the rebuilt calls' interactions as the marts hold them before the
    refresh, in three filters on ``offset_seconds`` alone, which the zone maps test before the
    search by id runs (an OR of them would read every row group; at 10M calls none has such a
    row). The interactions and the holds of one call are built together from the same events
    (a hold starts at its Hold interaction), so the interactions say it for the holds too.

    The calls new to ``fct_calls`` (``is_new``) are searched too: interactions loaded before
    their call row are in the marts already, without an offset, and a refresh that skipped them
    kept them beside the call's new rows (``test_incremental_refresh.py``)."""
    rebuilt = (
        f"call_id IN (SELECT call_id FROM {INTERMEDIATE_SCHEMA}.affected_calls WHERE is_rebuilt)"
    )
    interactions = f"{ANALYTICS_SCHEMA}.fct_call_interactions"
    return "\nUNION\n".join(
        f"SELECT call_id FROM {interactions} WHERE {far} AND {rebuilt}"
        for far in (
            f"offset_seconds > {NEAR_SECONDS}",
            f"offset_seconds < -{NEAR_SECONDS}",
            "offset_seconds IS NULL",
        )
    )


def replaced_parts(table: str, rebuilt: str, replaced: str, far_timed: bool) -> tuple[str, ...]:
    """``replaced`` (``replaced_keys`` of the calls) in parts whose union is the same rows: those
    within the scope's range of start times (by ``NEAR_SECONDS`` more for interactions and
    holds), and those searched for apart (an OR would keep the zone maps from narrowing the
    first; the second finds nothing to search for in most refreshes). ``far_timed``: the
    refresh has ``FAR_TIMED`` (DuckDB and DuckLake); without it (PostgreSQL) the interactions
    and holds are searched by id among all the ``rebuilt`` calls (``affected_keys``), the new
    ones included."""
    if table == STARTS_IN_SCOPE:
        return (
            f"{in_scope_range('start_time_utc')} AND {replaced}",
            f"start_time_utc IS NULL AND call_id IN (SELECT call_id FROM "
            f"{INTERMEDIATE_SCHEMA}.affected_calls "
            "WHERE is_rebuilt AND NOT is_new AND is_without_start)",
        )
    column = EVENTS_NEAR_START.get(table)
    if column is None:
        return (replaced,)
    if not far_timed:
        # by id, the calls new to fct_calls too: interactions loaded before their call row
        # are in these tables already (see far_timed_calls)
        return (rebuilt,)
    # one second more: the offsets are differences of doubles
    return (
        f"{in_scope_range(column, NEAR_SECONDS + 1)} AND {replaced}",
        f"call_id IN (SELECT call_id FROM {FAR_TIMED})",
    )


def in_scope_range(column: str, widened_seconds: int = 0) -> str:
    """``column`` within the scope's range of start times (``affected_calls.sql``), widened by
    ``widened_seconds`` on both sides, whose bounds the zone maps of a time-ordered table test
    before any id search runs."""
    affected = f"{INTERMEDIATE_SCHEMA}.affected_calls"
    first = f"(SELECT min(scope_first_start_utc) FROM {affected})"
    last = f"(SELECT max(scope_last_start_utc) FROM {affected})"
    if widened_seconds:
        widening = f"INTERVAL '{int(widened_seconds)} seconds'"
        first, last = f"{first} - {widening}", f"{last} + {widening}"
    return f"{column} BETWEEN {first} AND {last}"


def raw_load_floor(execute: SqlExecutor, raw: str, watermark: str) -> str | None:
    """The oldest ``_dlt_load_id`` among the raw rows of the refresh's calls, children included;
    None when one of them has none (loaded before the column existed) or there are none.

    The raw tables are in load order, so a constant floor on the load id lets the staging reads
    skip history through the zone maps. A call's children carry its row's load id: a load that
    writes a call writes all of its children again, in the same package (a re-read call's
    tombstones make the merge replace them, see ``stg_call_interactions``). Children without a
    call row are in the scope only as changed rows, loaded after ``watermark``.

    The calls' rows are searched for within the scope's range of start times
    (``affected_calls.scope_first_start_utc``..``scope_last_start_utc``), whose zone maps skip
    history, not by id over every raw call: a changed call's row was loaded after ``watermark``
    (the first terms), and every other call of the scope, and every changed call's row before
    the edit, starts within the range.
    """
    newer = ", ".join(
        f"(select min({LOAD_ID_COLUMN}) from {raw}.{table} "
        f"where {LOAD_ID_COLUMN} > {literal(watermark)})"
        for table in CALL_TABLES
    )
    rows = execute.execute_sql(
        f"select least(min({LOAD_ID_COLUMN}), {newer}), count(*) - count({LOAD_ID_COLUMN}) "
        f"from {raw}.calls where {in_scope_range('start_time')} "
        f"and cast(id as varchar) in (select call_id from {INTERMEDIATE_SCHEMA}.affected_calls)"
    )
    if not rows or rows[0][0] is None or rows[0][1]:
        return None
    return str(rows[0][0])
