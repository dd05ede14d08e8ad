"""``make sql``: the DuckDB CLI (PyPI's ``duckdb-cli``, the same DuckDB release as the package),
opened read-only on a published copy.

Only two things are ours: finding the binary this environment installed, and its arguments.
The session is read-only for every file, not only the copy it opens, because the copy holds
callers' names and numbers and a shell is easy to misuse: ``-safe`` turns off the CLI's own file
commands (``.output``, ``.once``, ``.read``, ``.import``, ``.open``, ``.shell``) and DuckDB's
``enable_external_access`` (``COPY ... TO``, ``read_csv``, ``ATTACH``, ``INSTALL``/``LOAD``), and
``SET lock_configuration = true``, run by ``-cmd`` before the first statement the user types or
passes, keeps the session from turning either back on or writing a profile.
``allow_external_access`` (``--allow-external-access``) leaves both out, for an analyst who
means to export.

The CLI opens the file by its path once: renaming a newer copy into place (publishing) never
disturbs it, and the session keeps the data it opened. To see the newest copy, quit and run it
again (or, with ``--allow-external-access``, ``.open -readonly <file>``).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Final

from pipelines.errors import ExitCode, RunError

# Run before the user's first statement; an error in it would leave the session unlocked, so
# the locking statement is the last and the test reads the setting back.
LOCK_SESSION: Final = "SET enable_external_access = false; SET lock_configuration = true;"


def binary() -> Path:
    """The ``duckdb`` executable installed in this environment's scripts folder."""
    path = Path(sysconfig.get_path("scripts")) / "duckdb"
    if not path.is_file():
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"the DuckDB CLI is not installed at {path}: run `make venv` "
            "(duckdb-cli is in requirements.lock)",
        )
    return path


def arguments(
    database: Path, sql: str | None, as_csv: bool, allow_external_access: bool
) -> list[str]:
    """The CLI's command line: read-only on ``database``, then ``sql`` (``-c``) or a prompt
    (or statements and dot-commands on standard input)."""
    args = [str(binary()), "-readonly"]
    if not allow_external_access:
        args += ["-safe", "-cmd", LOCK_SESSION]
    if as_csv:
        args.append("-csv")
    args.append(str(database))
    if sql is not None:
        args += ["-c", sql]
    return args
