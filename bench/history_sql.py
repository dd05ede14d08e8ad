"""Extends a warehouse's raw history in SQL: ``python -m bench.history_sql <file> <copies>``.

A year of calls loaded through the pipeline becomes ``copies + 1`` years: copy ``k`` (1..copies)
of every call gets a new id (a UUID derived from the old id and ``k``) and a start time ``k``
years earlier; its interactions and completed forms follow it (``call_id`` remapped, each
interaction moved by its call's own shift, so it stays where it was within the call; the child
tables are keyed by ``call_id`` and ``seq``, and no raw call table has dlt's ``_dlt_id``). Local
wall-clock columns are the shifted instant in the call's zone (``calls.time_zone_id``), as a load
writes them, and the call key (``call_key_hi``/``call_key_lo``) is the new id's, as a load computes
it. Centers, clients, agents and caller numbers stay: repeat callers and the centers'
zones stay as realistic as the year they come from. ``_dlt_load_id`` is the source row's, ``k``
years older (``LOAD_ID_YEAR`` seconds each), as years of loads would have left it: older than
any later load, so no incremental refresh takes the copies for new data, and older than the
loaded year's, so the copies are not among a refresh's recent loads either. (Until 2026-12-07
the copies kept the source row's id: the copies of the first load's last batch shared its id, so
a refresh whose scope reached a call of that batch read the row groups of those copies too,
through the load floor of ``transforms/scope_ranges.py``: 369k calls of the copies and their
children, 0.3 s of a run's staging reads at 10M calls.)

Each table is rewritten oldest copy first and the loaded year last, so it is time-ordered as
years of loads would leave it. Run on the file with no other connection open; prints one JSON
line (rows per table, seconds).
"""

from __future__ import annotations

import json
import sys
import time

import duckdb

from pipelines.destinations.duckdb_merge import CALL_KEY_SQL
from pipelines.hostedsuite.settings import CALL_KEY_COLUMNS

RAW = "hostedsuite"
CALLS = "calls"
CHILDREN = ("calls__interactions", "calls__completed_form_ids")
# copy k's id: a UUID made of md5(old id, k)
NEW_ID = (
    "printf('%s-%s-%s-%s-%s', substr(h, 1, 8), substr(h, 9, 4), substr(h, 13, 4), "
    "substr(h, 17, 4), substr(h, 21, 12))"
)
MEMORY_LIMIT = "4GB"
# A year of seconds (365.25 days). dlt's load ids are epoch seconds as text ("1796548998.5551295"),
# compared as text: a copy's ids keep the ten digits before the point, so they sort as numbers.
LOAD_ID_YEAR = 31_557_600


def older_load_id(k: int) -> str:
    """Copy ``k``'s load id: the source row's, ``k`` years older."""
    return f"printf('%.7f', cast(s._dlt_load_id AS DOUBLE) - {k * LOAD_ID_YEAR})"


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [RAW, table],
    ).fetchall()
    return [row[0] for row in rows]


def shifted(names: list[str], replace: dict[str, str]) -> str:
    """The select list of a copy: ``replace``'s expressions for its columns, others as they are."""
    return ", ".join(f'{replace.get(name, f"s.{name}")} AS "{name}"' for name in names)


def local(column: str) -> str:
    """A local wall-clock column of the shifted row: the new instant in the call's zone."""
    return (
        f"CASE WHEN m.zone IS NULL THEN s.{column} - m.delta "
        f"ELSE timezone(m.zone, s.{column.removesuffix('_local')} - m.delta) END"
    )


def extend(path: str, copies: int) -> dict[str, int]:
    """Rewrites the three raw call tables of ``path`` with ``copies`` shifted copies first."""
    con = duckdb.connect(path)
    try:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{path}.tmp'")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("BEGIN TRANSACTION")
        for table in (CALLS, *CHILDREN):
            con.execute(f"ALTER TABLE {RAW}.{table} RENAME TO {table}__loaded")
            ddl = con.execute(
                "SELECT sql FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                [RAW, f"{table}__loaded"],
            ).fetchone()
            assert ddl is not None
            con.execute(ddl[0].replace(f"{table}__loaded", table, 1))
        # each copy's call key, computed from its new id as a load computes it
        keys = ", ".join(
            f"{sql.format(id='new_id')} AS {name}"
            for name, sql in zip(CALL_KEY_COLUMNS, CALL_KEY_SQL, strict=True)
        )
        with_keys = {name: f"m.{name}" for name in CALL_KEY_COLUMNS}
        for k in range(copies, 0, -1):
            # the shift of each call: k calendar years before its start (Feb 29 -> Feb 28)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE shift AS "
                f"SELECT *, {keys} FROM ("
                f"SELECT id AS old_id, {NEW_ID} AS new_id, "
                f"coalesce(start_time - (start_time - INTERVAL {k} YEAR), "
                f"INTERVAL {365 * k} DAY) AS delta, time_zone_id AS zone "
                f"FROM (SELECT id, start_time, time_zone_id, md5(id || '/history-{k}') AS h "
                f"FROM {RAW}.{CALLS}__loaded))"
            )
            names = columns(con, CALLS)
            select = shifted(
                names,
                {
                    "id": "m.new_id",
                    "start_time": "s.start_time - m.delta",
                    "start_time_local": local("start_time_local"),
                    "_dlt_load_id": older_load_id(k),
                    **with_keys,
                },
            )
            con.execute(
                f"INSERT INTO {RAW}.{CALLS} SELECT {select} FROM {RAW}.{CALLS}__loaded s "
                "JOIN shift m ON m.old_id = s.id"
            )
            for child in CHILDREN:
                replace = {
                    "call_id": "m.new_id",
                    "_dlt_load_id": older_load_id(k),
                    **with_keys,
                }
                names = columns(con, child)
                for name in names:
                    if name == "start_time" or name.endswith("_time"):
                        replace[name] = f"s.{name} - m.delta"
                    elif name.endswith("_time_local"):
                        replace[name] = local(name)
                con.execute(
                    f"INSERT INTO {RAW}.{child} SELECT {shifted(names, replace)} "
                    f"FROM {RAW}.{child}__loaded s JOIN shift m ON m.old_id = s.call_id"
                )
            print(f"  history copy {k} years back written", file=sys.stderr, flush=True)
        counts: dict[str, int] = {}
        for table in (CALLS, *CHILDREN):
            con.execute(f"INSERT INTO {RAW}.{table} SELECT * FROM {RAW}.{table}__loaded")
            con.execute(f"DROP TABLE {RAW}.{table}__loaded")
            row = con.execute(f"SELECT count(*) FROM {RAW}.{table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        con.execute("DROP TABLE shift")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        return counts
    finally:
        con.close()


if __name__ == "__main__":
    started = time.perf_counter()
    rows = extend(sys.argv[1], int(sys.argv[2]))
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started}))
