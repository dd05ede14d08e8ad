"""``hostedsuite sql``: a read-only SQL prompt on the serving copy, with nothing else to install.

The DuckDB CLI is not part of the ``duckdb`` Python package, so a new user would not have it.
This prompt runs on the same DuckDB that ``make`` installed. It opens the file read-only: it
never blocks a load (loads write the live warehouse; the serving copy is replaced by rename),
and the session keeps the data it opened until ``.reopen``.

Statements end with ``;``. With ``-c SQL`` or SQL on standard input it runs them and exits
(non-zero on the first error), which is what scripts and tests use; a line of its own starting
with ``.`` is a command there too (``echo .tables | hostedsuite sql``).

Read-only means more than not writing the serving copy: the session can neither read nor write
any other file (``COPY ... TO``, ``read_csv``, ``ATTACH``, ``INSTALL``/``LOAD``, a profiling
output), because the copy holds callers' names and numbers and a prompt is easy to misuse.
DuckDB's ``enable_external_access = false`` refuses the file access, and
``lock_configuration = true`` keeps the session from changing any setting (such as the
profiling output, a file DuckDB would write). ``allow_external_access=True``
(``--allow-external-access``) lifts both, for an analyst who means to export.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import duckdb

HELP = """\
Statements end with ';'. Commands:
  .tables        list the schemas and tables
  .reopen        reopen the file to see the latest published copy
  .help          this text
  .quit          leave (also Ctrl-D)"""

TABLES_SQL = """
    SELECT table_schema || '.' || table_name || if(table_type = 'VIEW', ' (view)', '')
    FROM information_schema.tables
    WHERE table_schema NOT IN ('information_schema', 'pg_catalog')
    ORDER BY table_schema, table_name
"""
MAX_ROWS_SHOWN = 100


def session_config(allow_external_access: bool) -> dict[str, str | bool | int | float | list[str]]:
    """DuckDB settings of a session: no file but the serving copy, and no setting changed."""
    if allow_external_access:
        return {}
    return {"enable_external_access": False, "lock_configuration": True}


class SqlPrompt:
    """One read-only connection to ``path`` and how results are printed."""

    def __init__(
        self, path: Path, out: TextIO, as_csv: bool = False, allow_external_access: bool = False
    ) -> None:
        self.path = path
        self.out = out
        self.as_csv = as_csv
        self.allow_external_access = allow_external_access
        self.conn = self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(
            str(self.path), read_only=True, config=session_config(self.allow_external_access)
        )

    def reopen(self) -> None:
        self.conn.close()
        self.conn = self._connect()

    def run(self, sql: str) -> None:
        """Runs every statement of ``sql``; raises ``duckdb.Error`` on the first failure."""
        for statement in self.conn.extract_statements(sql):
            relation = self.conn.sql(statement.query)
            if relation is not None:
                self._print(relation)

    def _print(self, relation: duckdb.DuckDBPyRelation) -> None:
        if not self.as_csv:
            # DuckDB's own box rendering, as its CLI shows it (long results are elided).
            relation.show(max_rows=MAX_ROWS_SHOWN)
            return
        writer = csv.writer(self.out, lineterminator="\n")
        writer.writerow(relation.columns)
        writer.writerows(relation.fetchall())

    def command(self, text: str) -> None:
        """Runs a dot command (``.tables``, ``.reopen``, ``.help``)."""
        if text == ".help":
            print(HELP, file=self.out)
        elif text == ".tables":
            tables = self.conn.execute(TABLES_SQL).fetchall()
            print("\n".join(row[0] for row in tables), file=self.out)
        elif text == ".reopen":
            self.reopen()
            print(f"reopened {self.path}", file=self.out)
        else:
            raise duckdb.InvalidInputException(f"unknown command {text}; .help lists them")

    def close(self) -> None:
        self.conn.close()


def run_script(path: Path, sql: str, as_csv: bool, allow_external_access: bool = False) -> None:
    """Runs ``sql`` and returns; raises ``duckdb.Error`` at the first failing statement."""
    prompt = SqlPrompt(path, sys.stdout, as_csv, allow_external_access)
    try:
        for text in _script_parts(sql):
            command = text.strip()
            if command in (".quit", ".exit"):
                break
            if command.startswith("."):
                prompt.command(command)
            else:
                prompt.run(text)
    finally:
        prompt.close()


def _script_parts(sql: str) -> Iterator[str]:
    """The dot commands (a line of their own, between statements) and the SQL between them."""
    buffer: list[str] = []
    for line in sql.splitlines():
        if line.strip().startswith(".") and not "\n".join(buffer).strip():
            buffer = []
            yield line
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(buffer)
            buffer = []
    if "\n".join(buffer).strip():
        yield "\n".join(buffer)


def interactive(path: Path, allow_external_access: bool = False) -> int:
    """A prompt until ``.quit`` or end of input; errors are shown and the session goes on."""
    with contextlib.suppress(ImportError):  # line editing and history where the platform has it
        import readline  # noqa: F401
    prompt = SqlPrompt(path, sys.stdout, allow_external_access=allow_external_access)
    access = ", other files allowed" if allow_external_access else ""
    print(f"{path} (read-only){access}. Statements end with ';'. .help for commands.")
    try:
        for text in _statements_typed():
            command = text.strip()
            if command in (".quit", ".exit"):
                break
            try:
                if command.startswith("."):
                    prompt.command(command)
                else:
                    prompt.run(text)
            except duckdb.Error as exc:
                print(f"error: {first_line(exc)}")
    finally:
        prompt.close()
    return 0


def _statements_typed() -> Iterator[str]:
    """Lines read until a statement is complete (ends with ';') or a dot command."""
    buffer: list[str] = []
    while True:
        try:
            line = input("... " if buffer else "sql> ")
        except EOFError:
            print()
            return
        if not buffer and line.strip().startswith("."):
            yield line
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(buffer)
            buffer = []


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
