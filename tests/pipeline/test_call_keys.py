"""The call key (``pipelines/hostedsuite/call_keys.py``) and DuckDB's merge by it
(``pipelines/destinations/duckdb_merge.py``, correction 3).

Expected keys come from RFC 1321's published digests, read by hand: the first 8 bytes of the
digest as a little-endian unsigned integer, minus 2^63, then the last 8 bytes the same way.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines.destinations.duckdb_merge import CALL_KEY_SQL
from pipelines.hostedsuite.call_keys import call_keys

from .emulator_changes import recent_calls_with_children, reload_after_tampering
from .warehouse import RAW_CALL_TABLES as CALL_TABLES
from .warehouse import assert_matches_truth, call_id_column, call_row_count, rows

# RFC 1321, appendix A.5: MD5("") = d41d8cd98f00b204e9800998ecf8427e,
# MD5("abc") = 900150983cd24fb0d6963f7d28e17f72.
# d41d8cd98f00b204 little-endian = 0x04b2008fd98c1dd4 = 338333539836370388, - 2^63;
# e9800998ecf8427e little-endian = 0x7e42f8ec980980e9 = 9098107892288553193, - 2^63.
# 900150983cd24fb0 little-endian = 0xb04fd23c98500190 = 12704604231530709392, - 2^63;
# d6963f7d28e17f72 little-endian = 0x727fe1287d3f96d6 = 8250560606382298838, - 2^63.
RFC_1321 = {
    "": (338333539836370388 - 2**63, 9098107892288553193 - 2**63),
    "abc": (12704604231530709392 - 2**63, 8250560606382298838 - 2**63),
}


def test_the_key_is_the_md5_of_the_id_in_python_and_in_duckdb_sql() -> None:
    ids = list(RFC_1321)
    hi, lo = call_keys(pa.array(ids, pa.string()))
    assert list(zip(hi.to_pylist(), lo.to_pylist(), strict=True)) == list(RFC_1321.values())
    # the SQL that fills keys inside DuckDB's merge computes the same integers
    hi_sql, lo_sql = (e.format(id="id") for e in CALL_KEY_SQL)
    con = duckdb.connect()
    found = con.execute(
        f"SELECT id, {hi_sql}, {lo_sql} FROM (VALUES (''), ('abc')) AS t(id) ORDER BY id"
    ).fetchall()
    assert {i: (h, low) for i, h, low in found} == RFC_1321
    # and both read the id as UTF-8, beyond ASCII too
    odd = ["Zoë-Ω-☎", "a" * 300]
    hi, lo = call_keys(pa.array(odd, pa.string()))
    sql = con.execute(
        f"SELECT {hi_sql}, {lo_sql} FROM (SELECT unnest(?::VARCHAR[]) AS id)", [odd]
    ).fetchall()
    assert sql == list(zip(hi.to_pylist(), lo.to_pylist(), strict=True))


def _keys_differing_from_ids(path: Path) -> list[tuple[str, int]]:
    hi_sql, lo_sql = CALL_KEY_SQL
    found = []
    for table in CALL_TABLES:
        column = call_id_column(table)
        n = rows(
            path,
            f"SELECT count(*) FROM hostedsuite.{table} WHERE call_key_hi IS DISTINCT FROM "
            f"{hi_sql.format(id=column)} OR call_key_lo IS DISTINCT FROM "
            f"{lo_sql.format(id=column)}",
        )[0][0]
        found.append((table, int(n)))
    return found


def test_every_stored_row_carries_its_calls_key(loader_factory) -> None:
    loader = loader_factory(calls=600, seed=21)
    loader.load()
    _edit(loader, recent_calls_with_children(loader)[:6])
    loader.emulator.advance(minutes=30, new_calls=20)
    loader.load()
    assert _keys_differing_from_ids(loader.duckdb_path) == [(t, 0) for t in CALL_TABLES]
    counts = [
        rows(loader.duckdb_path, f"SELECT count(*) FROM hostedsuite.{t}")[0][0] for t in CALL_TABLES
    ]
    assert min(counts) > 0
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def _edit(loader, call_ids: list[str]) -> None:
    for n, call_id in enumerate(call_ids):
        loader.emulator.edit_call(
            call_id, notes=f"edited after the load ({n})", completed_form_ids=[f"F-{n}"]
        )


@pytest.mark.parametrize("table", CALL_TABLES)
def test_the_merge_finds_a_reloaded_calls_old_rows_by_its_key(loader_factory, table: str) -> None:
    """Proof that the key, not the id, is what the merge compares: a stored row given another
    call's key is not replaced when its call is re-loaded, and the warehouse then holds the
    call's rows twice. (A key is never edited; this only shows which column decides.)"""
    loader = loader_factory(calls=400, seed=22)
    loader.load()
    call_id = recent_calls_with_children(loader)[0]
    before = call_row_count(loader.duckdb_path, table, call_id)
    reload_after_tampering(loader, table, call_id, "call_key_hi = call_key_hi + 1")
    after = call_row_count(loader.duckdb_path, table, call_id)
    assert before > 0
    assert after == 2 * before


def test_rows_stored_before_the_keys_existed_get_them_and_are_replaced(loader_factory) -> None:
    """An upgraded warehouse: its rows have no keys (NULL, as when dlt adds the columns). The
    next merge fills them from the ids, then replaces the re-loaded calls exactly once."""
    loader = loader_factory(calls=600, seed=23)
    loader.load()
    with duckdb.connect(str(loader.duckdb_path)) as con:
        for table in CALL_TABLES:
            con.execute(f"UPDATE hostedsuite.{table} SET call_key_hi = NULL, call_key_lo = NULL")
    edited = recent_calls_with_children(loader)[:6]
    _edit(loader, edited)
    loader.load()
    assert _keys_differing_from_ids(loader.duckdb_path) == [(t, 0) for t in CALL_TABLES]
    duplicated = rows(
        loader.duckdb_path, "SELECT count(*) - count(DISTINCT id) FROM hostedsuite.calls"
    )[0][0]
    assert len(edited) == 6 and duplicated == 0
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
