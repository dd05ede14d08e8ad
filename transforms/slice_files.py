"""The full rebuild's per-slice working sets as Parquet files, read through temporary views.

Inside a transaction DuckDB keeps every temporary table it replaced or dropped until the
commit, as the rollback would need it: when the rebuild in slices was one transaction, a
temporary table per slice made its temporary storage grow slice by slice (28 GB at 10M calls).
A file written by ``COPY ... TO`` is outside any transaction, and each slice overwrites the
last one's.

The files hold callers' data for the length of the rebuild. They live in a folder of their
own inside DuckDB's ``temp_directory`` (``<warehouse>.tmp``, where DuckDB's own spill files
hold the same data), created under the user's umask and removed when the rebuild ends,
whatever its outcome; a rebuild killed before that leaves it to the next, which removes it
first.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Final

from .project import SqlExecutor, literal

FOLDER: Final = "hostedsuite-rebuild"
_TEMP_PREFIX: Final = "temp.main."


class SliceFiles:
    """The folder of one rebuild's files; ``write`` makes a temporary view read one of them."""

    def __init__(self, execute: SqlExecutor) -> None:
        self.execute = execute
        rows = execute.execute_sql("SELECT current_setting('temp_directory')")
        temp = str(rows[0][0]) if rows and rows[0][0] else ""
        # without a temp_directory (an in-memory database may have none): the system's
        self.folder = Path(temp or tempfile.gettempdir()) / FOLDER

    def __enter__(self) -> SliceFiles:
        self.remove()  # a killed rebuild's files
        self.folder.mkdir(parents=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def write(self, view: str, *queries: str) -> None:
        """Writes each of ``queries``' rows to a file of the view's (one statement each: under
        a small memory cap, spilling operators that fit one at a time may not fit side by
        side in one statement) and points the temporary ``view`` (``temp.main.<name>``) at
        their rows, all of them; the queries' columns must match."""
        if not view.startswith(_TEMP_PREFIX):
            raise ValueError(f"{view}: not a temporary view")
        name = view.removeprefix(_TEMP_PREFIX)
        paths = [literal(str(self.folder / f"{name}-{n}.parquet")) for n in range(len(queries))]
        for path, query in zip(paths, queries, strict=True):
            self.execute.execute_sql(f"COPY ({query}) TO {path} (FORMAT parquet)")
        self.execute.execute_sql(
            f"CREATE OR REPLACE TEMP VIEW {view} AS "
            f"SELECT * FROM read_parquet([{', '.join(paths)}])"
        )
