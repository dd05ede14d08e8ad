"""The merge SQL corrections of ``pipelines/destinations/duckdb_merge.py``, run in a real DuckDB.

The duplicates-only de-duplication must keep exactly the rows dlt's own ROW_NUMBER query keeps:
every row whose key occurs once, and one row per duplicated key (duplicates in staging are
whole-row copies from a re-run copy job, so which copy is kept does not matter).
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pytest
from dlt.destinations.sql_jobs import SqlMergeFollowupJob

from pipelines.destinations.duckdb_merge import _original_dedup, _select_from_dedup

STAGING = """
CREATE TABLE staging (call_id VARCHAR, seq BIGINT, kind VARCHAR, is_deleted BOOLEAN);
INSERT INTO staging VALUES
    ('a', 0, 'Ring', false), ('a', 1, 'Hold', false), ('b', 0, 'Ring', false),
    ('a', 1, 'Hold', false), ('c', 0, 'Hangup', true), ('c', 0, 'Hangup', true),
    ('c', 0, 'Hangup', true), ('d', 0, 'Ring', true), (NULL, 5, 'Ring', false),
    (NULL, 5, 'Ring', false);
"""
COLUMNS = ['"call_id"', '"seq"', '"kind"']


def selected(sql: str) -> Counter[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute(STAGING)
    return Counter(con.execute(sql).fetchall())


@pytest.mark.parametrize("keys", [['"call_id"', '"seq"'], ['"call_id"']])
@pytest.mark.parametrize("condition", [None, "NOT is_deleted"])
def test_duplicates_only_dedup_keeps_the_rows_dlt_keeps(
    keys: list[str], condition: str | None
) -> None:
    # as dlt calls it: a column the condition needs is named in condition_columns
    extra = ['"is_deleted"'] if condition else None
    ours = _select_from_dedup(SqlMergeFollowupJob, "staging", keys, COLUMNS, None, condition, extra)
    dlts = _original_dedup(SqlMergeFollowupJob, "staging", keys, COLUMNS, None, condition, extra)
    kept = selected(ours)
    # one row per key, and the same key set as dlt's query
    assert Counter(row[: len(keys)] for row in kept.elements()).most_common(1)[0][1] == 1
    assert {row[: len(keys)] for row in kept} == {row[: len(keys)] for row in selected(dlts)}
    if len(keys) == 2:
        # whole-row duplicates: exactly dlt's rows
        assert kept == selected(dlts)
        expected = {("a", 0, "Ring"), ("a", 1, "Hold"), ("b", 0, "Ring"), (None, 5, "Ring")}
        if condition is None:
            expected |= {("c", 0, "Hangup"), ("d", 0, "Ring")}
        assert set(kept) == expected


def test_rows_with_unique_keys_are_not_windowed() -> None:
    """The point of the correction: no ROW_NUMBER over the rows whose key occurs once."""
    sql = _select_from_dedup(SqlMergeFollowupJob, "staging", ['"call_id"'], COLUMNS)
    once, _, duplicated = sql.partition("UNION ALL")
    assert "ROW_NUMBER" not in once
    assert "ROW_NUMBER" in duplicated and "HAVING COUNT(*) > 1" in duplicated
