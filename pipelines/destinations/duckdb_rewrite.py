"""Purging a DuckDB file (see ``purging.py``): DuckDB keeps deleted rows in free blocks of the
file, and old values in its column statistics, so the file is rewritten (``COPY FROM DATABASE``
into a new file, renamed over the old one) and holds nothing but the current rows.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import duckdb

from pipelines import sql_literals as lit


def rewrite_duckdb_file(path: Path, config: dict[str, Any]) -> int:
    """Rewrites the DuckDB file at ``path`` with only its current rows; returns the bytes it
    shrank by. The file's mode is kept (the umask decided it). ``config``: the connection's
    settings (``duckdb_session.session_config``, with the run's memory cap)."""
    temp = path.with_name(f".{path.name}.rewriting")
    for leftover in (temp, Path(f"{temp}.wal")):
        leftover.unlink(missing_ok=True)
    before = path.stat().st_size
    conn = duckdb.connect(str(path), config=config)
    try:
        conn.execute("CHECKPOINT")
        source = str(conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
        conn.execute(f"ATTACH {lit.text(str(temp))} AS purged_copy")
        conn.execute(f'COPY FROM DATABASE "{source}" TO purged_copy')
        conn.execute("DETACH purged_copy")
    finally:
        conn.close()
    os.chmod(temp, path.stat().st_mode & 0o7777)
    with temp.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return before - path.stat().st_size
