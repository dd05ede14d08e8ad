"""The content hash of a call record: a digest of everything its warehouse rows are derived
from, so that a re-read call the warehouse already holds as it is can be left out.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from .settings import ROW_DERIVATION_VERSION

# An in-memory DuckDB for content_hashes; each page's worker thread takes a cursor of it.
_HASHER = duckdb.connect()


def content_hashes(items: pa.StructArray, zones: pa.Array, unknown: pa.Array) -> list[str]:
    """One digest per record of everything its rows are derived from: the record as the API
    sent it (children included), the zone it is read in, whether its center is listed, and
    ``ROW_DERIVATION_VERSION``. Equal digests mean equal rows in every table.

    DuckDB's ``hash()`` over the Arrow columns: 18 us a call where serialising each record in
    Python took 128 us (both on a loaded machine), so a catch-up batch of 100k calls pays
    seconds less. It is 64 bits (an edit that keeps the digest: odds of 2^-64) and may change
    with DuckDB's version, which costs one rewrite of the look-back, nothing more.
    """
    records = pa.table({"record": items, "zone": zones, "is_unknown": unknown})
    with _HASHER.cursor() as cursor:
        cursor.register("page_records", records)
        digests = cursor.execute(
            f"SELECT printf('%016x', hash({ROW_DERIVATION_VERSION}, zone, is_unknown, record)) "
            "FROM page_records"
        ).fetch_arrow_table()
    return [str(d) for d in digests.column(0).to_pylist()]
