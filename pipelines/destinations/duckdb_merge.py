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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from dlt.common.destination.client import FollowupJobRequest
from dlt.common.destination.typing import PreparedTableSchema
from dlt.common.typing import TSortOrder
from dlt.destinations.impl.duckdb.duck import DuckDbClient
from dlt.destinations.sql_client import SqlClientBase
from dlt.destinations.sql_jobs import SqlMergeFollowupJob

from pipelines.hostedsuite.settings import CALL_KEY_COLUMNS

# call_keys.py's definition in DuckDB's SQL: md5_number_upper and md5_number_lower read the 16
# bytes of the MD5 as two little-endian unsigned 64-bit integers (tests/pipeline/
# test_call_keys.py checks both against Python's hashlib and RFC 1321's test vectors).
CALL_KEY_SQL: Final = (
    "(md5_number_upper({id})::HUGEINT - 9223372036854775808)::BIGINT",
    "(md5_number_lower({id})::HUGEINT - 9223372036854775808)::BIGINT",
)

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
    """``statements`` with dlt's delete by id replaced by a delete by the call key, for a table
    that has the key columns and one delete key column; otherwise unchanged."""
    columns = table.get("columns", {})
    escape = sql_client.escape_column_name
    primary = [escape(n) for n, c in columns.items() if c.get("primary_key")]
    merge = [escape(n) for n, c in columns.items() if c.get("merge_key")]
    # the key columns of the delete, as correction 1 leaves them
    keys = merge if merge and set(merge) <= set(primary) else primary + merge
    if len(keys) != 1 or not set(CALL_KEY_COLUMNS) <= set(columns):
        return statements
    key = keys[0]
    name, staging = sql_client.get_qualified_table_names(str(table["name"]))
    # the statement dlt wrote, built by the same call with the same keys: absent (another dlt,
    # a source filter), dlt's own delete stays, which is slower, not wrong
    clauses = cls.gen_key_table_clauses(name, staging, primary, merge, for_delete=True)
    by_id = f"DELETE {clauses[0]}"
    if len(clauses) != 1 or by_id not in statements:
        return statements
    hi, lo = (escape(c) for c in CALL_KEY_COLUMNS)
    fill = ", ".join(
        f"{column} = {expression.format(id=key)}"
        for column, expression in zip((hi, lo), CALL_KEY_SQL, strict=True)
    )
    by_key = [
        f"UPDATE {name} SET {fill} WHERE {hi} IS NULL",
        # the first half alone first: a hash join on one integer column, and the pair is
        # compared on the few rows that pass (20 against 38 ms on 10M calls, measured)
        f"DELETE FROM {name} AS d WHERE EXISTS (SELECT 1 FROM {staging} AS s WHERE d.{hi} = s.{hi})"
        f" AND EXISTS (SELECT 1 FROM {staging} AS s WHERE d.{hi} = s.{hi} AND d.{lo} = s.{lo})",
    ]
    at = statements.index(by_id)
    return [*statements[:at], *by_key, *statements[at + 1 :]]


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
    return [DuckDbMergeJob.from_table_chain(table_chain, self.sql_client)]


def use_duckdb_merge_corrections() -> None:
    """Makes DuckDB's client merge with ``DuckDbMergeJob`` (idempotent). Other destinations'
    clients keep dlt's own merge job, also in the same process."""
    method: Any = _duckdb_merge_jobs
    DuckDbClient._create_merge_followup_jobs = method  # type: ignore[method-assign]
