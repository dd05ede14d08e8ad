"""``make sql`` / ``hostedsuite sql`` run the real DuckDB CLI (PyPI's ``duckdb-cli``) read-only
on the serving copy: on a terminal (a pty), with ``-c``/``Q=`` and with dot-commands piped in.
A session held open never blocks a load, keeps the copy it opened, and a new one sees the newest.
"""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import duckdb

from tests.cli import ROOT, cli_command

from .emulator_changes import late_edits
from .loader import Loader
from .test_serving_copy import load, serving_line, serving_path

ESCAPES = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
# The CLI's line editor asks the terminal where the cursor is (ESC[6n), after moving it to the
# far corner (ESC[999;999f) to learn the terminal's size; a terminal answers ESC[row;colR.
CURSOR_QUERY = re.compile(rb"(\x1b\[999;999f)?\x1b\[6n")
PROMPT = b"D "


class Terminal:
    """A process on a pseudo-terminal, answering the CLI's cursor queries as a terminal does."""

    def __init__(self, args: list[str]) -> None:
        self.leader, follower = pty.openpty()
        self.process = subprocess.Popen(
            args, cwd=ROOT, stdin=follower, stdout=follower, stderr=follower
        )
        os.close(follower)
        self.screen = b""  # everything shown, escapes removed

    def read_until_prompt(self, seconds: float = 60) -> str:
        """What the CLI printed up to its next prompt (escape sequences removed)."""
        deadline = time.monotonic() + seconds
        shown = b""
        while True:
            assert time.monotonic() < deadline, shown
            ready, _, _ = select.select([self.leader], [], [], 0.2)
            if not ready:
                if shown.endswith(PROMPT):
                    break
                continue
            try:
                chunk = os.read(self.leader, 65536)
            except OSError:  # the CLI exited and closed the terminal
                break
            for query in CURSOR_QUERY.finditer(chunk):
                os.write(self.leader, b"\x1b[24;200R" if query.group(1) else b"\x1b[1;1R")
            shown += ESCAPES.sub(b"", chunk)
        self.screen += shown
        return shown.decode()

    def type(self, line: str) -> list[str]:
        """Types ``line`` at the prompt; returns the lines it printed before the next prompt
        (without the echo of what was typed)."""
        os.write(self.leader, line.encode() + b"\r")
        shown = self.read_until_prompt()
        # the line editor echoes (and may redraw) the typed line up to the Enter's line break:
        # what the command printed starts after it
        printed = shown.split("\n", 1)[1] if "\n" in shown else ""
        printed = printed.removesuffix(PROMPT.decode())
        return [text for text in (row.strip("\r") for row in printed.split("\n")) if text]

    def close(self) -> int:
        os.close(self.leader)
        return self.process.wait(timeout=60)


def sql_cli(*args: str) -> list[str]:
    return cli_command("sql", *args)


def count_in(copy: Path) -> int:
    """The copy's calls, through Python's duckdb (not the CLI)."""
    with duckdb.connect(str(copy), read_only=True) as conn:
        found = conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
    assert found is not None
    return int(found[0])


def test_a_cli_session_on_a_terminal_keeps_its_copy_and_never_blocks_a_load(
    loader_factory,
) -> None:
    loader: Loader = loader_factory(calls=300, seed=47)
    assert load(loader).returncode == 0
    serving = serving_path(loader)
    session = Terminal(sql_cli(str(serving)))
    try:
        banner = session.read_until_prompt()
        assert "DuckDB v1.4.4" in banner  # the pinned CLI, the same release as the package
        # locked before the first statement typed: no other file, no setting changed
        assert session.type(".mode csv") == []  # nothing printed
        settings = (
            "current_setting('enable_external_access') AS ext, "
            "current_setting('lock_configuration') AS locked"
        )
        assert session.type(f"SELECT {settings};") == ["ext,locked", "false,true"]
        tables = " ".join(session.type(".tables"))
        assert "fct_calls" in tables and "load_health" in tables
        before = session.type("SELECT 'calls=' || count(*) AS n FROM hostedsuite.calls;")
        assert before == ["n", "calls=300"], before
        # a load publishes a newer copy while the session holds the old one open
        late_edits(loader, 12)
        run = load(loader)
        assert run.returncode == 0, run.stderr
        assert "waiting" not in run.stderr, run.stderr
        assert serving_line(run.stdout).startswith(f"serving: {serving}  (published ")
        assert count_in(serving) == 340  # the new copy, for a new connection
        # the session keeps the data it opened, and the CLI's own commands work
        kept = session.type("SELECT 'calls=' || count(*) AS n FROM hostedsuite.calls;")
        assert kept == ["n", "calls=300"], kept
        assert session.type(".timer on") == []
        timed = session.type("SELECT 6 * 7 AS answer;")
        assert timed[:2] == ["answer", "42"] and timed[2].startswith("Run Time"), timed
        os.write(session.leader, b".quit\r")
        session.read_until_prompt()
    finally:
        assert session.close() == 0, session.screen.decode()
    # quit and run again: the newest copy
    again = subprocess.run(
        sql_cli(str(serving), "--csv", "-c", "SELECT count(*) AS calls FROM hostedsuite.calls"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["calls", "340"]


def test_make_sql_q_prints_what_python_reads_and_pipes_dot_commands(loader_factory) -> None:
    loader: Loader = loader_factory(calls=400, seed=5)
    assert load(loader).returncode == 0
    serving = serving_path(loader)
    query = (
        "SELECT center_id, count(*) AS calls, min(caller_name) AS first_name "
        "FROM hostedsuite.calls GROUP BY center_id ORDER BY center_id"
    )
    # As a user types it in a shell: not as a sub-make of `make test` (which would print
    # "Entering directory" lines around the output).
    shell_env = {
        k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    }
    done = subprocess.run(
        ["make", "--no-print-directory", "sql", f"DB={serving}", f"Q={query}", "ARGS=--csv"],
        cwd=ROOT,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    start = printed.index("center_id,calls,first_name")  # after make's echo of the command
    with duckdb.connect(str(serving), read_only=True) as conn:
        expected = conn.execute(query).fetchall()
    assert len(expected) >= 2
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(expected)
    assert printed[start + 1 :] == buffer.getvalue().splitlines()

    # statements and dot-commands on standard input, as `echo ... | make sql` sends them
    piped = subprocess.run(
        ["make", "--no-print-directory", "-s", "sql", f"DB={serving}"],
        cwd=ROOT,
        env=shell_env,
        input=".mode csv\n.headers off\nSELECT count(*) FROM hostedsuite.calls;\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.splitlines() == ["400"]


def test_errors_are_the_clis_and_a_missing_copy_says_what_to_run(loader_factory, tmp_path) -> None:
    loader: Loader = loader_factory(calls=50, seed=2)
    assert load(loader).returncode == 0
    bad = subprocess.run(
        sql_cli(str(serving_path(loader)), "-c", "select nope"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("Binder Error"), bad.stderr
    missing = subprocess.run(
        sql_cli(str(tmp_path / "x.duckdb")),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2 and "run `make load`" in missing.stderr
    assert not (tmp_path / "x.duckdb").exists()
