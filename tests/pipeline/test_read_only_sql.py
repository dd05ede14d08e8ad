"""``hostedsuite sql`` (the DuckDB CLI) is read-only for every file, not only the serving copy: a
session can neither write nor read another file, attach one, load an extension or use the CLI's
file commands, unless it was started with ``--allow-external-access``. Driven through our CLI,
which runs the real DuckDB CLI, on a serving copy a real load wrote."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostedsuite_emulator import Emulator
from tests.cli import ROOT, cli_command

from .loader import Loader

ORIGINAL = "a file the session must not touch\n"


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The serving copy of 150 calls, published by ``hostedsuite load``."""
    folder = tmp_path_factory.mktemp("read-only-sql")
    with Emulator(calls=150, seed=23) as emulator:
        loader = Loader(emulator, folder / "warehouse.duckdb", folder / "pipelines")
        done = loader.cli(*loader.load_until_now())
        assert done.returncode == 0, done.stderr
    copy = folder / "warehouse.serving.duckdb"
    assert copy.exists()
    yield copy


def sql(copy: Path, query: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command("sql", str(copy), *flags, "--csv", "-c", query),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


def refused(done: subprocess.CompletedProcess[str]) -> None:
    """Exit 1 with the DuckDB CLI's error, which says why: a permission error ("disabled by"
    or "through configuration") or a locked setting."""
    assert done.returncode == 1, done.stdout
    first = done.stderr.strip().splitlines()[0]
    assert first.startswith(("Permission Error: ", "Invalid Input Error: ")), done.stderr
    assert "configuration" in first, done.stderr


def piped(copy: Path, script: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """Statements and dot-commands on standard input, as ``echo ... | make sql`` sends them."""
    return subprocess.run(
        cli_command("sql", str(copy), *flags),
        cwd=ROOT,
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ordinary_queries_still_work(serving: Path) -> None:
    done = sql(serving, "select count(*) as calls from hostedsuite.calls")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["calls", "150"]


def test_copy_to_a_file_is_refused_and_the_file_is_untouched(serving: Path, tmp_path: Path) -> None:
    target = tmp_path / "victim.txt"
    target.write_text(ORIGINAL, encoding="utf-8")
    done = sql(serving, f"COPY (SELECT caller_number FROM hostedsuite.calls) TO '{target}'")
    refused(done)
    assert target.read_text(encoding="utf-8") == ORIGINAL
    new_file = tmp_path / "export.csv"
    refused(sql(serving, f"COPY hostedsuite.calls TO '{new_file}'"))
    assert not new_file.exists()


def test_reading_another_file_is_refused(serving: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-read-me\n", encoding="utf-8")
    for query in (
        f"SELECT content FROM read_text('{secret}')",
        f"SELECT * FROM read_csv('{secret}', header = false)",
        "SELECT content FROM read_text('/etc/hostname')",
    ):
        done = sql(serving, query)
        refused(done)
        assert "do-not-read-me" not in done.stdout + done.stderr


def test_attaching_another_database_is_refused(serving: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    refused(sql(serving, f"ATTACH '{other}' AS other"))
    assert not other.exists()


def test_extensions_cannot_be_installed_or_loaded(serving: Path) -> None:
    # httpfs is not built into the duckdb package (json and parquet are, and load as no-ops).
    refused(sql(serving, "INSTALL httpfs"))
    refused(sql(serving, "LOAD httpfs"))


def test_the_session_cannot_turn_access_back_on_nor_write_a_profile(
    serving: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "profile.json"
    refused(sql(serving, "SET enable_external_access = true"))
    refused(sql(serving, "SET lock_configuration = false"))
    refused(sql(serving, f"SET profiling_output = '{profile}'; PRAGMA enable_profiling = 'json'"))
    done = sql(serving, "SELECT 1 AS one")
    assert done.returncode == 0 and not profile.exists()


def test_the_flag_allows_files(serving: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    done = sql(
        serving,
        f"COPY (SELECT count(*) AS calls FROM hostedsuite.calls) TO '{out}' (HEADER)",
        "--allow-external-access",
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").splitlines() == ["calls", "150"]
    note = tmp_path / "note.txt"
    note.write_text("readable with the flag", encoding="utf-8")
    done = sql(serving, f"SELECT content FROM read_text('{note}')", "--allow-external-access")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["content", "readable with the flag"]


def test_the_cli_file_commands_are_refused(serving: Path, tmp_path: Path) -> None:
    target = tmp_path / "once.csv"
    secret = tmp_path / "statements.sql"
    secret.write_text("SELECT 'do-not-run-me' AS leaked;\n", encoding="utf-8")
    done = piped(
        serving,
        f".once {target}\nSELECT count(*) AS calls FROM hostedsuite.calls;\n"
        f".output {target}\n.read {secret}\n.shell touch {tmp_path / 'shell'}\n"
        f".open {tmp_path / 'other.duckdb'}\nSELECT 6 * 7 AS answer;\n",
    )
    assert not target.exists() and not (tmp_path / "shell").exists()
    assert not (tmp_path / "other.duckdb").exists()
    assert "do-not-run-me" not in done.stdout
    for command in (".output/.once/.excel", ".read", ".sh/.system", ".open"):
        assert f"{command} cannot be used in -safe mode" in done.stderr, done.stderr
    # the session went on, on the serving copy: both queries printed to the terminal
    assert "150" in done.stdout and "42" in done.stdout


def test_the_flag_allows_the_cli_file_commands(serving: Path, tmp_path: Path) -> None:
    target = tmp_path / "once.csv"
    done = piped(
        serving,
        f".mode csv\n.once {target}\nSELECT count(*) AS calls FROM hostedsuite.calls;\n",
        "--allow-external-access",
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8").splitlines() == ["calls", "150"]
