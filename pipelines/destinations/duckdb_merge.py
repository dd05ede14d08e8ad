"""Two corrections to the SQL dlt 1.31.0 generates for a merge, for DuckDB only.

Installed by ``pipelines.destinations.duckdb`` when the destination is DuckDB and dlt is 1.31.0 (the
version they were written and tested against); other destinations and other dlt versions merge
with dlt's own SQL.

1. Single-key deletes. The child tables have a primary key
   ``(call_id, seq)`` (it de-duplicates a copy job re-run after a crash) and a merge key
   ``call_id`` (a re-read call replaces all its children). dlt then deletes the old rows with
   ``EXISTS (... WHERE d.call_id = s.call_id AND d.seq = s.seq OR d.call_id = s.call_id)``.
   DuckDB cannot plan that OR as a hash join: it needs memory in proportion to the destination
   table, and at 1M calls (3M interactions) the merge of a 100k-call batch fails with Out of
   Memory under a 256MB cap. When the merge key columns are a subset of the primary key
   columns, a primary-key match implies a merge-key match, so the merge-key condition alone
   selects exactly the same rows; that is the only case changed here.

2. Duplicates-only de-duplication (DuckDB). dlt copies staging rows into the dataset through
   ``ROW_NUMBER() OVER (PARTITION BY <primary key>)`` over every column, which makes DuckDB
   hold the whole batch in memory to keep one row per key. That guards against duplicate rows
   in staging (dlt's own comment: "e.g. from crash+retry"); our source already sends each Id
   once per load, so duplicates are the rare case. Rows whose key occurs once are now inserted
   as they stream, and only the duplicated keys go through dlt's own ROW_NUMBER query: the same
   rows land (tested against dlt's query), ~25-50 MB less peak memory per 100k-call batch.

3. Deletes by the call key. dlt deletes a re-loaded call's old rows by comparing its id with
   every row's (``d.id = s.id``): at 10M calls, scans of 36-character strings over 10M calls and
   36M child rows, about 0.5 s a scheduled run. The raw call tables carry the id's 128-bit key
   (``CALL_KEY_COLUMNS``, see ``pipelines/hostedsuite/call_keys.py``), and the merge compares
   those two integer columns instead: 38, 113 and 35 ms for the calls, interactions and form
   ids of a 10M-call warehouse, where the ids took 126, 195 and 91 ms (one run's merge, each
   statement timed by hand). Stored rows without a key (loaded before the keys existed: dlt adds
   the columns empty) get theirs first, computed in SQL by the same definition. DuckDB skips
   every row group whose statistics say it holds no NULL key, so that costs 4-10 ms a table, and
   about 30 s once, on the first load after an upgrade of a 10M-call warehouse (8, 17 and 5 s
   for the calls, interactions and form ids; that run took 35 s and peaked at 523 MB under the
   256 MB cap, measured 2026-12-07). Staged rows always have
   keys: a package whose schema has the columns was extracted by a source that fills them, and
   a table whose schema has not merges with dlt's own SQL.

   The children's old rows are deleted by the calls' job, within the range of the load ids of
   the staged calls' old rows (``_calls_deletes``): a load writes a call's row and all of its
   children together, and the tables are in load order, so the deletes read the row groups of
   a few recent loads, not the key column of every child row. At 10M calls the merge of a
   scheduled run went from 0.23 s (the three searches above) to 0.07 s, the one search of the
   calls' keys for those load ids (profiled runs, 2026-12-07). Each child table's own job only
   replaces the rows of its own load and those of children staged without their call
   (``_child_deletes``), so that the jobs may run in any order, and again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from dlt.common.destination.client import FollowupJobRequest
from dlt.common.destination.typing import PreparedTableSchema
from dlt.common.typing import TSortOrder
from dlt.destinations.impl.duckdb.duck import DuckDbClient
from dlt.destinations.sql_client import SqlClientBase
from dlt.destinations.sql_jobs import SqlMergeFollowupJob

from pipelines.hostedsuite.settings import (
    CALL_ID_COLUMNS,
    CALL_KEY_COLUMNS,
    CALLS_TABLE,
    FORMS_TABLE,
    INTERACTIONS_TABLE,
    LOAD_ID_COLUMN,
    TOMBSTONE_COLUMN,
)

# call_keys.py's definition in DuckDB's SQL: md5_number_upper and md5_number_lower read the 16
# bytes of the MD5 as two little-endian unsigned 64-bit integers (tests/pipeline/
# test_call_keys.py checks both against Python's hashlib and RFC 1321's test vectors).
CALL_KEY_SQL: Final = (
    "(md5_number_upper({id})::HUGEINT - 9223372036854775808)::BIGINT",
    "(md5_number_lower({id})::HUGEINT - 9223372036854775808)::BIGINT",
)

CHILD_TABLES: Final = (INTERACTIONS_TABLE, FORMS_TABLE)
# the connection's own temporary tables, for the length of one merge job
_OLD_LOADS: Final = "temp.main.hs_merge_old_load_ids"
_UNSTAGED_CALLS: Final = "temp.main.hs_merge_unstaged_calls"

_original_key_clauses = SqlMergeFollowupJob._gen_key_table_clauses.__func__  # type: ignore[attr-defined]
_original_dedup = SqlMergeFollowupJob.gen_select_from_dedup_sql.__func__  # type: ignore[attr-defined]


def _key_table_clauses(
    cls: type[SqlMergeFollowupJob], primary_keys: Sequence[str], merge_keys: Sequence[str]
) -> list[str]:
    if merge_keys and set(merge_keys) <= set(primary_keys):
        primary_keys = []  # implied by the merge key: its clause would only add an OR
    clauses: list[str] = _original_key_clauses(cls, primary_keys, merge_keys)
    return clauses


def _select_from_dedup(
    cls: type[SqlMergeFollowupJob],
    table_name: str,
    primary_keys: Sequence[str],
    columns: Sequence[str],
    dedup_sort: tuple[str, TSortOrder] | None = None,
    condition: str | None = None,
    condition_columns: Sequence[str] | None = None,
    skip_dedup: bool = False,
) -> str:
    """dlt's SELECT of one row per primary key from ``table_name``, split in two parts: keys
    that occur once (no window), and dlt's own ROW_NUMBER query over the duplicated keys only."""
    if skip_dedup or not primary_keys:
        return str(
            _original_dedup(
                cls,
                table_name,
                primary_keys,
                columns,
                dedup_sort,
                condition,
                condition_columns,
                skip_dedup,
            )
        )
    # Uncorrelated joins on purpose: DuckDB plans a correlated EXISTS as a delim join that
    # buffers every staging row, the very memory this saves. The duplicated keys are renamed so
    # that dlt's condition, which names columns unqualified, stays unambiguous.
    renamed = ", ".join(f"{k} AS _dlt_dup_{i}" for i, k in enumerate(primary_keys))
    keys = ", ".join(primary_keys)
    duplicated = (
        f"(SELECT {renamed}, 1 AS _dlt_is_dup FROM {table_name} GROUP BY {keys} "
        "HAVING COUNT(*) > 1) AS _dlt_dups"
    )
    # NOT DISTINCT: the same grouping as ROW_NUMBER's PARTITION BY, NULL keys included
    same_key = " AND ".join(
        f"_dlt_dups._dlt_dup_{i} IS NOT DISTINCT FROM _dlt_rows.{k}"
        for i, k in enumerate(primary_keys)
    )
    once = (
        f"SELECT {', '.join(columns)} FROM {table_name} AS _dlt_rows "
        f"LEFT JOIN {duplicated} ON {same_key} "
        # the marker, not a key: a duplicated NULL key also joins with a NULL value
        f"WHERE _dlt_dups._dlt_is_dup IS NULL AND ({condition or '1 = 1'})"
    )
    duplicated_rows = (
        f"(SELECT _dlt_rows.* FROM {table_name} AS _dlt_rows JOIN {duplicated} ON {same_key})"
    )
    deduplicated = _original_dedup(
        cls, duplicated_rows, primary_keys, columns, dedup_sort, condition, condition_columns
    )
    return f"{once}\nUNION ALL\n{deduplicated}"


def _deletes_by_call_key(
    cls: type[SqlMergeFollowupJob],
    statements: list[str],
    table: PreparedTableSchema,
    sql_client: SqlClientBase[Any],
) -> list[str]:
    """``statements`` with dlt's delete by id replaced by the deletes by the call key, for a table
    that has the key columns and one delete key column; otherwise unchanged."""
    columns = table.get("columns", {})
    escape = sql_client.escape_column_name
    primary = [escape(n) for n, c in columns.items() if c.get("primary_key")]
    merge = [escape(n) for n, c in columns.items() if c.get("merge_key")]
    # the key columns of the delete, as correction 1 leaves them
    keys = merge if merge and set(merge) <= set(primary) else primary + merge
    if len(keys) != 1 or not set(CALL_KEY_COLUMNS) <= set(columns):
        return statements
    name, staging = sql_client.get_qualified_table_names(str(table["name"]))
    # the statement dlt wrote, built by the same call with the same keys: absent (another dlt,
    # a source filter), dlt's own delete stays, which is slower, not wrong
    clauses = cls.gen_key_table_clauses(name, staging, primary, merge, for_delete=True)
    by_id = f"DELETE {clauses[0]}"
    if len(clauses) != 1 or by_id not in statements:
        return statements
    keyed = _keyed_call_tables(sql_client)
    if table["name"] == CALLS_TABLE and CALLS_TABLE in keyed:
        by_key = _calls_deletes(sql_client, keyed, escape)
    elif CALLS_TABLE in keyed and table["name"] in keyed and TOMBSTONE_COLUMN in columns:
        by_key = _child_deletes(name, staging, keys[0], escape)
    else:  # no calls' merge deletes this table's rows: all by its own staged keys
        by_key = [_fill(name, keys[0], escape), _delete_keyed(name, staging, escape, "true")]
    at = statements.index(by_id)
    return [*statements[:at], *by_key, *statements[at + 1 :]]


def _keyed_call_tables(sql_client: SqlClientBase[Any]) -> list[str]:
    """The call tables (the calls and their children) that the dataset holds with the key."""
    found = sql_client.execute_sql(
        "SELECT table_name FROM information_schema.columns WHERE table_catalog = "
        "current_database() AND table_schema = %s AND column_name = %s",
        sql_client.dataset_name,
        CALL_KEY_COLUMNS[0],
    )
    present = {str(row[0]) for row in found or []}
    return [t for t in (CALLS_TABLE, *CHILD_TABLES) if t in present]


def _fill(name: str, id_column: str, escape: Callable[[str], str]) -> str:
    """The keys of ``name``'s rows stored without them (loaded before the key columns)."""
    hi, lo = (escape(c) for c in CALL_KEY_COLUMNS)
    fill = ", ".join(
        f"{column} = {expression.format(id=id_column)}"
        for column, expression in zip((hi, lo), CALL_KEY_SQL, strict=True)
    )
    return f"UPDATE {name} SET {fill} WHERE {hi} IS NULL"


def _keyed_by(keys_from: str, escape: Callable[[str], str]) -> str:
    """Whether a row ``d``'s key is one of ``keys_from``'s rows' keys."""
    hi, lo = (escape(c) for c in CALL_KEY_COLUMNS)
    # the first half alone first: a hash join on one integer column, and the pair is compared
    # on the few rows that pass (20 against 38 ms on 10M calls, measured)
    return (
        f"EXISTS (SELECT 1 FROM {keys_from} AS s WHERE d.{hi} = s.{hi}) "
        f"AND EXISTS (SELECT 1 FROM {keys_from} AS s WHERE d.{hi} = s.{hi} AND d.{lo} = s.{lo})"
    )


def _delete_keyed(name: str, keys_from: str, escape: Callable[[str], str], where: str) -> str:
    return f"DELETE FROM {name} AS d WHERE {where} AND {_keyed_by(keys_from, escape)}"


def _calls_deletes(
    sql_client: SqlClientBase[Any], keyed: list[str], escape: Callable[[str], str]
) -> list[str]:
    """The calls' merge: the re-loaded calls' old rows are deleted, and their children's.

    The stored rows of the staged calls are searched by key once (one integer column of every
    call), for their load ids. A load writes a call's row and all of its children together,
    with its load id, so the children's old rows are among those loads' rows: each delete
    tests only the row groups within the range of those load ids (the tables are in load
    order). The children of this package's load are left alone: the child table's own job may
    have inserted them already (dlt orders no jobs of separate tables), and a re-run of this
    job after it committed finds this load's id among the old ones. Rows without a load id
    (loaded before dlt wrote the column) are searched among the rows without one."""
    names = {t: sql_client.get_qualified_table_names(t)[0] for t in keyed}
    staging = sql_client.get_qualified_table_names(CALLS_TABLE)[1]
    load_id = escape(LOAD_ID_COLUMN)
    statements = [_fill(names[t], escape(CALL_ID_COLUMNS[t]), escape) for t in keyed]
    statements.append(
        f"CREATE OR REPLACE TEMP TABLE {_OLD_LOADS} AS SELECT DISTINCT d.{load_id} "
        f"FROM {names[CALLS_TABLE]} AS d WHERE {_keyed_by(staging, escape)}"
    )
    # BETWEEN two scalar subqueries reaches the scan as a filter its zone maps test (3 ms on the
    # 30M interactions of a 10M-call warehouse, where an OR of it or an IN took 0.13 s); not
    # when the subqueries are NULL (no old row: new calls), hence the EXISTS first (0.19 s to 2)
    in_range = (
        f"EXISTS (SELECT 1 FROM {_OLD_LOADS} WHERE {load_id} IS NOT NULL) "
        f"AND d.{load_id} BETWEEN (SELECT min({load_id}) FROM {_OLD_LOADS}) "
        f"AND (SELECT max({load_id}) FROM {_OLD_LOADS})"
    )
    unstamped = (
        f"d.{load_id} IS NULL AND EXISTS (SELECT 1 FROM {_OLD_LOADS} WHERE {load_id} IS NULL)"
    )
    for table in keyed:
        where = in_range
        if table != CALLS_TABLE:
            where += f" AND d.{load_id} NOT IN (SELECT {load_id} FROM {staging})"
        statements.append(_delete_keyed(names[table], staging, escape, where))
        statements.append(_delete_keyed(names[table], staging, escape, unstamped))
    statements.append(f"DROP TABLE {_OLD_LOADS}")
    return statements


def _child_deletes(
    name: str, staging: str, id_column: str, escape: Callable[[str], str]
) -> list[str]:
    """A child table's merge: the calls' merge deletes the old children of the calls it stages
    (``_calls_deletes``), and this deletes:

    - the rows this package's load already wrote, if this job runs again after it committed (a
      crash before dlt recorded it): in the range of its load id, the table's last row groups;
    - the old rows of staged children whose call has no tombstone here. Our source stages
      each call with one tombstone in each child table (``records.py``), so those are children
      not staged with their call (none from our source: a table of such keys is empty, and
      deleting by it costs nothing). Decided from this table's staging alone: dlt runs the
      jobs of separate tables in no set order, so the calls' staging may not be loaded yet."""
    hi, lo = (escape(c) for c in CALL_KEY_COLUMNS)
    load_id = escape(LOAD_ID_COLUMN)
    tombstone = escape(TOMBSTONE_COLUMN)
    this_load = (
        f"d.{load_id} BETWEEN (SELECT min({load_id}) FROM {staging}) "
        f"AND (SELECT max({load_id}) FROM {staging})"
    )
    return [
        _fill(name, id_column, escape),
        _delete_keyed(name, staging, escape, this_load),
        f"CREATE OR REPLACE TEMP TABLE {_UNSTAGED_CALLS} AS "
        f"SELECT {hi}, {lo} FROM {staging} EXCEPT SELECT {hi}, {lo} FROM {staging} "
        f"WHERE {tombstone}",
        _delete_keyed(name, _UNSTAGED_CALLS, escape, "true"),
        f"DROP TABLE {_UNSTAGED_CALLS}",
    ]


class DuckDbMergeJob(SqlMergeFollowupJob):
    """dlt's merge job with the three corrections; only DuckDB's client creates it."""

    _gen_key_table_clauses = classmethod(_key_table_clauses)
    gen_select_from_dedup_sql = classmethod(_select_from_dedup)

    @classmethod
    def gen_merge_sql(
        cls, table_chain: Sequence[PreparedTableSchema], sql_client: SqlClientBase[Any]
    ) -> list[str]:
        statements: list[str] = super().gen_merge_sql(table_chain, sql_client)
        if len(table_chain) != 1:
            return statements
        return _deletes_by_call_key(cls, statements, table_chain[0], sql_client)


def _duckdb_merge_jobs(
    self: DuckDbClient, table_chain: Sequence[PreparedTableSchema]
) -> list[FollowupJobRequest]:
    # open: the merge SQL depends on which call tables the warehouse holds with the key
    with self.sql_client:
        return [DuckDbMergeJob.from_table_chain(table_chain, self.sql_client)]


def use_duckdb_merge_corrections() -> None:
    """Makes DuckDB's client merge with ``DuckDbMergeJob`` (idempotent). Other destinations'
    clients keep dlt's own merge job, also in the same process."""
    method: Any = _duckdb_merge_jobs
    DuckDbClient._create_merge_followup_jobs = method  # type: ignore[method-assign]
