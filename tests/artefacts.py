"""Searching every file a run leaves for plain personal values, byte by byte.

A needle is looked for in each file's raw bytes. Parquet files compress their pages, so each is
also decoded (every column of every row group, and the statistics in its footer) and searched
as text: a value hidden by compression is still found. DuckDB files are searched raw, free
blocks included; the tests that rely on that first show that the same search finds the values
before they are erased (compression could otherwise hide them).

All needles are found in one pass over each file with pyahocorasick's Aho-Corasick automaton:
one ``needle in data`` per needle read every file once per needle (thousands of callers'
numbers and names over tens of MB took most of a minute per search).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import ahocorasick
import pyarrow.parquet as pq


def files_under(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return found


def parquet_text(path: Path) -> bytes:
    """Every value and every footer statistic of a Parquet file, as UTF-8 text."""
    parts: list[str] = []
    parquet = pq.ParquetFile(path)
    for group in range(parquet.num_row_groups):
        table = parquet.read_row_group(group)
        parts += [str(value) for column in table.columns for value in column.to_pylist()]
        meta = parquet.metadata.row_group(group)
        for index in range(meta.num_columns):
            stats = meta.column(index).statistics
            if stats is not None and stats.has_min_max:
                parts += [str(stats.min), str(stats.max)]
    return "\n".join(parts).encode()


def holding(files: Iterable[Path], needles: Iterable[str]) -> dict[str, list[str]]:
    """Needle -> the files whose bytes (or decoded Parquet values) contain it."""
    wanted = [n for n in dict.fromkeys(needles) if n]
    if not wanted:
        return {}
    # Bytes are matched as Latin-1 text, one character per byte, so a needle's UTF-8 bytes are
    # found wherever they occur, aligned or not, as ``bytes in bytes`` finds them.
    automaton = ahocorasick.Automaton()
    for needle in wanted:
        automaton.add_word(needle.encode().decode("latin-1"), needle)
    automaton.make_automaton()
    hits: dict[str, list[str]] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        texts = [data]
        if path.suffix == ".parquet" and data[:4] == b"PAR1":
            texts.append(parquet_text(path))
        found: set[str] = set()
        for text in texts:
            found.update(needle for _, needle in automaton.iter(text.decode("latin-1")))
        for needle in wanted:
            if needle in found:
                hits.setdefault(needle, []).append(str(path))
    return hits
