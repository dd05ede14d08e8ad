"""The search the privacy and erasure tests rely on (``tests/artefacts.py``) finds what
``bytes in bytes`` finds, in one pass: raw bytes at any offset, UTF-8 needles, needles inside
other needles, values that only a Parquet file's decoded pages hold, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.artefacts import files_under, holding


def test_finds_every_needle_in_raw_bytes_at_any_offset(tmp_path: Path) -> None:
    raw = tmp_path / "blocks.bin"
    # odd offsets, a needle inside another, a non-ASCII name, and a needle split by a NUL
    raw.write_bytes(b"\x00\x01+1 (312) 555-0001\xff" + "Zoë Müller".encode() + b"1312\x00555")
    found = holding(
        files_under(tmp_path), ["+1 (312) 555-0001", "555-0001", "Zoë Müller", "1312555", ""]
    )
    assert found == {
        "+1 (312) 555-0001": [str(raw)],
        "555-0001": [str(raw)],
        "Zoë Müller": [str(raw)],
    }


def test_finds_a_value_that_only_the_decoded_parquet_pages_hold(tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    numbers = [f"+1 (312) 555-{n:04d}" for n in range(2000)]
    pq.write_table(pa.table({"caller_number": numbers}), path, compression="zstd")
    assert b"+1 (312) 555-1234" not in path.read_bytes()  # compression hides it from a byte scan
    other = tmp_path / "other.txt"
    other.write_bytes(b"+1 (312) 555-1234 ")
    found = holding(files_under(tmp_path), ["+1 (312) 555-1234", "+1 (312) 555-9999"])
    assert found == {"+1 (312) 555-1234": sorted([str(path), str(other)])}
