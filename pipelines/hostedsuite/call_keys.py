"""The key of a call in the raw tables: the MD5 of its id, as two signed 64-bit integers.

Why: to replace a re-loaded call's rows, the merge finds its old ones. Without an index that is
a scan of a column of every row, and at 10M calls DuckDB spent about 0.4 s a scheduled run
comparing 36-character ids over the calls and their 36M child rows. Two fixed-width integer
columns scan two to three times faster (see ``pipelines/destinations/duckdb_merge.py``). 128
bits, the width of the hash keys Data Vault 2.0 builds from MD5: two different ids share a key
with odds of 2^-128 a pair, far below those of the 64-bit content hash the loads already trust.

Definition (also written in DuckDB's SQL: ``duckdb_merge.CALL_KEY_SQL``): the 16 bytes of
MD5(id as UTF-8), read as two unsigned 64-bit little-endian integers, each minus 2^63.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

# Subtracting 2^63 from an unsigned 64-bit integer is flipping its top bit and reading it signed.
_TOP_BIT = np.uint64(1 << 63)


def call_keys(ids: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``(call_key_hi, call_key_lo)`` of each id (none may be null)."""
    digests = b"".join(
        hashlib.md5(call_id.encode("utf-8"), usedforsecurity=False).digest()
        for call_id in ids.to_pylist()
    )
    halves = (np.frombuffer(digests, dtype="<u8") ^ _TOP_BIT).view("<i8").reshape(-1, 2)
    return pa.array(halves[:, 0], pa.int64()), pa.array(halves[:, 1], pa.int64())
