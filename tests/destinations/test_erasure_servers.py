"""Personal data in a PostgreSQL warehouse and in a DuckLake: the servers' own files.

Under ``hash``, no plain number, digits or name is in the database's folder of the test
server's data directory, the lake's Parquet files (decoded too), the pipeline folder or the
output, while the same search finds the hashed values.

Erasure: the warehouse is loaded through the CLI; before the erasure a byte search of the database's
folder in the test server's data directory (and, for the lake, of its Parquet files, decoded
too) finds the caller's number and name, so the search can see them. After ``erase`` (which
vacuums, rewrites the lake's files and expires its old snapshots) and a checkpoint, nothing is
found there nor in the pipeline folder; the marts hold exactly the remaining calls, and a
scheduled run that re-reads the calls does not land them again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from hostedsuite_emulator import Emulator
from pipelines.hostedsuite.privacy import PrivacyPolicy
from tests.artefacts import files_under, holding
from tests.cli import ROOT, cli_command
from tests.pipeline.loader import Loader
from tests.pipeline.warehouse import postgres_rows
from tests.postgres_server import PostgresServer
from tests.privacy_cases import KEY, digits, distinctive_callers, policy_env, reserved_names

from .lake import make_lake

EMULATOR: dict[str, Any] = {"calls": 400, "seed": 12, "start": "2024-03-04", "days": 6}


def database_folder(server: PostgresServer, dsn: str) -> Path:
    """The folder of ``dsn``'s database in the server's data directory."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
            row = cursor.fetchone()
    finally:
        conn.close()
    assert row is not None
    return server.folder / "data" / "base" / str(row[0])


def destination_env(name: str, dsn: str, tmp_path: Path) -> dict[str, str]:
    if name == "postgres":
        return {"DESTINATION_NAME": "postgres", "DESTINATION__POSTGRES__CREDENTIALS": dsn}
    return make_lake(dsn, tmp_path).env()


def cli_output(loader: Loader, env: dict[str, str], *args: str) -> str:
    run = subprocess.run(
        cli_command(*args),
        cwd=ROOT,
        env=loader.cli_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


@pytest.mark.parametrize("name", ["postgres", "ducklake"])
def test_hash_leaves_no_plain_caller_value_in_the_servers_files(
    name: str,
    emulator_factory: Callable[..., Emulator],
    postgres_server: PostgresServer,
    postgres_dsn: str,
    tmp_path: Path,
) -> None:
    emulator = emulator_factory(**EMULATOR)
    loader = Loader(emulator, tmp_path / "unused.duckdb", tmp_path / "pipelines")
    env = {**destination_env(name, postgres_dsn, tmp_path), **policy_env("hash")}
    paths = ["--pipelines-dir", str(loader.pipelines_dir)]
    output = cli_output(loader, env, "load", "--until", emulator.now.isoformat(), *paths)
    output += cli_output(loader, env, "verify", "--start", EMULATOR["start"], *paths)
    postgres_server.sql("CHECKPOINT")
    truth = emulator.truth()
    numbers = {c["caller_number"] for c in truth.calls}
    names = {c["caller_name"] for c in truth.calls} - reserved_names()
    needles = [*numbers, *(digits(n) for n in numbers), *(n for n in names if len(n) >= 8)]
    folders = [
        database_folder(postgres_server, postgres_dsn),
        tmp_path / "lake-data",
        loader.pipelines_dir,
    ]
    assert holding(files_under(*folders), needles) == {}
    assert not [n for n in needles if n in output]
    # the same search finds the hashes: the rows are there
    hashed = PrivacyPolicy.of({"CallerNumber": "hash"}, KEY.encode())
    some = sorted(numbers)[:5]
    assert set(holding(files_under(*folders), [hashed.treat("CallerNumber", n) for n in some]))


@pytest.mark.parametrize("name", ["postgres", "ducklake"])
def test_erasure_leaves_no_trace_in_the_servers_files(
    name: str,
    emulator_factory: Callable[..., Emulator],
    postgres_server: PostgresServer,
    postgres_dsn: str,
    tmp_path: Path,
) -> None:
    emulator = emulator_factory(**EMULATOR)
    loader = Loader(emulator, tmp_path / "unused.duckdb", tmp_path / "pipelines")
    lake = make_lake(postgres_dsn, tmp_path)
    env = {**destination_env(name, postgres_dsn, tmp_path), "PRIVACY__HASH_KEY": KEY}
    paths = ["--pipelines-dir", str(loader.pipelines_dir)]

    def cli(*args: str) -> str:
        return cli_output(loader, env, *args, *paths)

    cli("load", "--until", emulator.now.isoformat())
    truth = emulator.truth()
    caller = distinctive_callers(truth.calls, 1)[0]
    folders = [
        database_folder(postgres_server, postgres_dsn),
        Path(lake.data),
        loader.pipelines_dir,
    ]
    analyze_everything(postgres_server, postgres_dsn)
    postgres_server.sql("CHECKPOINT")
    before = holding(files_under(*folders), [caller.number, caller.name])
    assert set(before) == {caller.number, caller.name}

    erased = cli("erase", "--caller-number", caller.number, "--caller-name", caller.name)
    assert f"erase: {len(caller.call_ids):,} calls of the caller removed" in erased
    postgres_server.sql("CHECKPOINT")
    assert holding(files_under(*folders), caller.needles) == {}

    remaining = {c["id"] for c in truth.calls} - caller.call_ids
    emulator.advance(minutes=30, new_calls=0)
    cli("load", "--until", emulator.now.isoformat())  # the look-back re-reads them all
    if name == "postgres":
        stored = {r[0] for r in postgres_rows(postgres_dsn, "SELECT id FROM hostedsuite.calls")}
        marts = postgres_rows(postgres_dsn, "SELECT call_id FROM analytics.fct_calls")
    else:
        with lake.reader() as reader:
            stored = {r[0] for r in reader.execute("SELECT id FROM hostedsuite.calls").fetchall()}
            marts = reader.execute("SELECT call_id FROM analytics.fct_calls").fetchall()
    assert stored == remaining
    assert {r[0] for r in marts} == remaining


@pytest.mark.parametrize("name", ["postgres", "ducklake"])
def test_privacy_apply_leaves_no_plain_value_in_the_servers_files(
    name: str,
    emulator_factory: Callable[..., Emulator],
    postgres_server: PostgresServer,
    postgres_dsn: str,
    tmp_path: Path,
) -> None:
    emulator = emulator_factory(**EMULATOR)
    loader = Loader(emulator, tmp_path / "unused.duckdb", tmp_path / "pipelines")
    env = destination_env(name, postgres_dsn, tmp_path)
    paths = ["--pipelines-dir", str(loader.pipelines_dir)]
    cli_output(loader, env, "load", "--until", emulator.now.isoformat(), *paths)
    truth = emulator.truth()
    numbers = {c["caller_number"] for c in truth.calls}
    names = {c["caller_name"] for c in truth.calls} - reserved_names()
    plain = [*numbers, *(n for n in names if len(n) >= 8)]
    folders = [
        database_folder(postgres_server, postgres_dsn),
        tmp_path / "lake-data",
        loader.pipelines_dir,
    ]
    analyze_everything(postgres_server, postgres_dsn)
    postgres_server.sql("CHECKPOINT")
    assert len(holding(files_under(*folders), plain)) == len(set(plain))

    applied = cli_output(loader, {**env, **policy_env("hash")}, "privacy-apply", *paths)
    assert "caller_number -> hash" in applied
    postgres_server.sql("CHECKPOINT")
    found = holding(files_under(*folders), [*plain, *(digits(n) for n in numbers)])
    assert found == {}, (relations(postgres_dsn, found), found)


def analyze_everything(server: PostgresServer, dsn: str) -> None:
    """``ANALYZE`` of every table, as autovacuum may do at any moment: each table's statistics,
    dlt's staging tables' included, then hold sampled values (names among them). Without it,
    whether they do depends on the timing (the plain names stayed in pg_statistic in full-suite
    runs only, until emptied tables were recreated instead of truncated)."""
    server.sql("ANALYZE", database=dsn.rsplit("/", 1)[1])


def relations(dsn: str, found: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The relations (name, kind) whose files hold what ``found`` lists, for the message."""
    nodes = sorted({int(Path(p).name.split(".")[0]) for ps in found.values() for p in ps
                    if Path(p).name.split(".")[0].isdigit()})  # fmt: skip
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT relname, relkind::text FROM pg_class "
                "WHERE pg_relation_filenode(oid) = ANY(%s)",
                (nodes,),
            )
            return [(str(r[0]), str(r[1])) for r in cursor.fetchall()]
    finally:
        conn.close()
