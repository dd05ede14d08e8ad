"""No configured secret appears in what a failing run writes: its output, its error line, or any
file it leaves (the pipeline folder with dlt's pickled trace, the warehouse).

Each case points one secret-holding setting at an endpoint that cannot be reached, so that the
secret travels into a connection error, then scans everything for it.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from dlt.pipeline.trace import load_trace

from tests.cli import assert_fails, run_cli
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cases(tmp_path: Path, port: int) -> dict[str, tuple[str, dict[str, str], set[int]]]:
    """case: (the secret, the environment that holds it, the exit codes that are right)."""
    lake = {
        "DESTINATION_NAME": "ducklake",
        "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__BUCKET_URL": str(tmp_path / "lake"),
    }
    return {
        "postgres dsn": (
            "pg-S3cr3t-9f",
            {
                "DESTINATION_NAME": "postgres",
                "DESTINATION__POSTGRES__CREDENTIALS": (
                    f"postgresql://loader:pg-S3cr3t-9f@127.0.0.1:{port}/dwh"
                ),
            },
            {5},
        ),
        "postgres password key": (
            "pg-S3cr3t-8e",
            {
                "DESTINATION_NAME": "postgres",
                "DESTINATION__POSTGRES__CREDENTIALS__DATABASE": "dwh",
                "DESTINATION__POSTGRES__CREDENTIALS__USERNAME": "loader",
                "DESTINATION__POSTGRES__CREDENTIALS__HOST": "127.0.0.1",
                "DESTINATION__POSTGRES__CREDENTIALS__PORT": str(port),
                "DESTINATION__POSTGRES__CREDENTIALS__PASSWORD": "pg-S3cr3t-8e",
            },
            {5},
        ),
        "lake catalog": (
            "lake-S3cr3t-7d",
            {
                **lake,
                "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG": (
                    f"postgres://lake:lake-S3cr3t-7d@127.0.0.1:{port}/catalog"
                ),
            },
            {5},
        ),
        "alerts webhook": (
            "hook-S3cr3t-5b",
            {
                "SOURCES__HOSTEDSUITE__BASE_URL": f"http://127.0.0.1:{port}",
                "ALERTS__SLACK_INCOMING_HOOK": f"http://127.0.0.1:{port}/services/hook-S3cr3t-5b",
            },
            {4},
        ),
        "base_url user-info": (
            "url-S3cr3t-6c",
            {"SOURCES__HOSTEDSUITE__BASE_URL": f"https://etl:url-S3cr3t-6c@127.0.0.1:{port}"},
            {2},
        ),
    }


CASE_NAMES = [
    "postgres dsn",
    "postgres password key",
    "lake catalog",
    "alerts webhook",
    "base_url user-info",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_secret_is_in_nothing_a_failing_run_writes(case: str, loader_factory, tmp_path) -> None:
    secret, env, codes = _cases(tmp_path, _closed_port())[case]
    loader = loader_factory(calls=60, seed=91)
    traced = case not in ("base_url user-info", "alerts webhook")  # refused before dlt ran
    assert_secret_nowhere(secret, load(loader, env, tmp_path), codes, tmp_path, traced)


def load(loader: Any, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A failing load with ``env``, in a pipeline folder an earlier run made: a failing run keeps
    it (and dlt's trace in it); a failing first run would remove what it created."""
    pipelines_dir = str(tmp_path / "pipelines")
    first = run_cli(
        *loader.load_until_now(),
        "--duckdb",
        str(tmp_path / "first.duckdb"),
        "--pipelines-dir",
        pipelines_dir,
        env=loader.cli_env(),
    )
    assert first.returncode == 0, first.stderr[-2000:]
    return run_cli(
        *loader.load_until_now(),
        "--pipelines-dir",
        pipelines_dir,
        env=loader.cli_env({**env, "RUNTIME__LOG_LEVEL": "DEBUG"}),
    )


def assert_secret_nowhere(
    secret: str,
    result: subprocess.CompletedProcess[str],
    codes: set[int],
    tmp_path: Path,
    traced: bool = True,
) -> None:
    """The run failed with one error line, and ``secret`` is in none of its output or files."""
    assert result.returncode in codes, result.stderr[-3000:]
    assert_fails(result, result.returncode)
    assert secret not in result.stdout + result.stderr
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    leaking = [str(path) for path in written if secret.encode() in path.read_bytes()]
    assert leaking == []
    if traced:
        traces = [path for path in written if path.name == "trace.pickle"]
        assert traces, "dlt wrote no trace"
        # still dlt's trace, readable by dlt, with the failure in it
        trace = load_trace(str(traces[0].parent))
        assert trace is not None and any(step.step_exception for step in trace.steps)


def lake_env(catalog: str, s3: S3Server, bucket_url: str, secret: str) -> dict[str, str]:
    keys = "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__CREDENTIALS__"
    return {
        "DESTINATION_NAME": "ducklake",
        "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG": catalog,
        "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__BUCKET_URL": bucket_url,
        f"{keys}AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        f"{keys}AWS_SECRET_ACCESS_KEY": secret,
        f"{keys}REGION_NAME": REGION,
        f"{keys}ENDPOINT_URL": s3.endpoint,
    }


def test_the_lake_s3_secret_is_in_nothing_a_failing_run_writes(
    loader_factory, tmp_path, postgres_dsn: str, s3_server: S3Server
) -> None:
    """A real catalog and S3 server, but no such bucket: the run fails writing the data, after
    dlt made DuckDB's S3 secret (with the secret key in its CREATE SECRET) on each connection."""
    secret = "s3-S3cr3t-3c"
    env = lake_env(postgres_dsn, s3_server, "s3://no-such-bucket/lake", secret)
    result = load(loader_factory(calls=60, seed=91), env, tmp_path)
    assert_secret_nowhere(secret, result, {5}, tmp_path)


def test_a_wrong_catalog_password_is_in_nothing_a_failing_run_writes(
    loader_factory, tmp_path, postgres_dsn: str, s3_server: S3Server, s3_bucket: str
) -> None:
    """The catalog's server refuses the password: DuckDB's error about the ATTACH of
    ``ducklake:postgres:<catalog>`` must not carry it anywhere."""
    parts = urlsplit(postgres_dsn)
    secret = "wrong-S3cr3t-2d"
    wrong = parts._replace(netloc=f"{parts.username}:{secret}@{parts.hostname}:{parts.port}")
    env = lake_env(wrong.geturl(), s3_server, f"s3://{s3_bucket}/lake", SECRET_ACCESS_KEY)
    result = load(loader_factory(calls=60, seed=91), env, tmp_path)
    assert_secret_nowhere(secret, result, {5}, tmp_path)
    assert "password" in result.stderr  # the error says what failed, without the password


def test_a_lake_in_s3_without_keys_is_one_line_naming_the_key(
    loader_factory, tmp_path, postgres_dsn: str, s3_server: S3Server, s3_bucket: str
) -> None:
    """AWS's own variables are not read (the credential chain needs DuckDB's aws extension,
    not pinned): the run stops before writing, naming the key to set."""
    env = lake_env(postgres_dsn, s3_server, f"s3://{s3_bucket}/lake", SECRET_ACCESS_KEY)
    keys = "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__CREDENTIALS__"
    env[f"{keys}AWS_SECRET_ACCESS_KEY"] = ""
    aws = {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}
    result = load(loader_factory(calls=60, seed=91), {**env, **aws}, tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [
        "error: a DuckLake in S3 needs its keys: set [destination.ducklake.credentials.storage."
        "credentials] aws_secret_access_key (env DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__"
        "CREDENTIALS__AWS_SECRET_ACCESS_KEY); AWS's environment variables and credential chain "
        "are not read (they need DuckDB's aws extension, which is not pinned)"
    ]
    assert s3_server.keys(s3_bucket) == []
