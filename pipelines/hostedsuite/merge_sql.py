"""One correction to the SQL dlt 1.31 generates for a merge, applied before every load.

The child tables have a primary key ``(call_id, seq)`` (it de-duplicates a copy job re-run
after a crash) and a merge key ``call_id`` (a re-read call replaces all its children). dlt then
deletes the old rows with ``EXISTS (... WHERE d.call_id = s.call_id AND d.seq = s.seq OR
d.call_id = s.call_id)``. DuckDB cannot plan that OR as a hash join: it needs memory in
proportion to the destination table, and at 1M calls (3M interactions) the merge of a
100k-call batch fails with Out of Memory under a 256MB cap. When the merge key columns are a
subset of the primary key columns, a primary-key match implies a merge-key match, so the
merge-key condition alone selects exactly the same rows; that is the only case changed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlt.destinations.sql_jobs import SqlMergeFollowupJob

_original = SqlMergeFollowupJob._gen_key_table_clauses.__func__  # type: ignore[attr-defined]


def _key_table_clauses(
    cls: type[SqlMergeFollowupJob], primary_keys: Sequence[str], merge_keys: Sequence[str]
) -> list[str]:
    if merge_keys and set(merge_keys) <= set(primary_keys):
        primary_keys = []  # implied by the merge key: its clause would only add an OR
    clauses: list[str] = _original(cls, primary_keys, merge_keys)
    return clauses


def use_single_key_deletes() -> None:
    """Installs the correction (idempotent)."""
    method: Any = classmethod(_key_table_clauses)
    SqlMergeFollowupJob._gen_key_table_clauses = method  # type: ignore[method-assign]
