"""No configured secret appears in what a failing run writes: its output, its error line, or any
file it leaves (the pipeline folder with dlt's pickled trace, the warehouse).

Each case points one secret-holding setting at an endpoint that cannot be reached, so that the
secret travels into a connection error, then scans everything for it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from dlt.pipeline.trace import load_trace

from tests.cli import assert_fails, run_cli


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cases(tmp_path: Path, port: int) -> dict[str, tuple[str, dict[str, str], int]]:
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
            5,
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
            5,
        ),
        "lake catalog": (
            "lake-S3cr3t-7d",
            {
                **lake,
                "DESTINATION__DUCKLAKE__CREDENTIALS__CATALOG": (
                    f"postgres://lake:lake-S3cr3t-7d@127.0.0.1:{port}/catalog"
                ),
            },
            5,
        ),
        "base_url user-info": (
            "url-S3cr3t-6c",
            {"SOURCES__HOSTEDSUITE__BASE_URL": f"https://etl:url-S3cr3t-6c@127.0.0.1:{port}"},
            2,
        ),
    }


CASE_NAMES = ["postgres dsn", "postgres password key", "lake catalog", "base_url user-info"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_secret_is_in_nothing_a_failing_run_writes(case: str, loader_factory, tmp_path) -> None:
    secret, env, code = _cases(tmp_path, _closed_port())[case]
    loader = loader_factory(calls=60, seed=91)
    pipelines_dir = tmp_path / "pipelines"
    # a pipeline folder an earlier run made: a failing run keeps it (and dlt's trace in it); a
    # failing first run would remove what it created
    first = run_cli(
        *loader.load_until_now(),
        "--duckdb",
        str(tmp_path / "first.duckdb"),
        "--pipelines-dir",
        str(pipelines_dir),
        env=loader.cli_env(),
    )
    assert first.returncode == 0, first.stderr[-2000:]
    result = run_cli(
        *loader.load_until_now(),
        "--pipelines-dir",
        str(pipelines_dir),
        env=loader.cli_env({**env, "RUNTIME__LOG_LEVEL": "DEBUG"}),
    )
    assert_fails(result, code)
    assert secret not in result.stdout + result.stderr
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    leaking = [str(path) for path in written if secret.encode() in path.read_bytes()]
    assert leaking == []
    if case != "base_url user-info":  # refused before anything ran: nothing to trace
        traces = [path for path in written if path.name == "trace.pickle"]
        assert traces, "dlt wrote no trace"
        # still dlt's trace, readable by dlt, with the failure in it
        trace = load_trace(str(traces[0].parent))
        assert trace is not None and any(step.step_exception for step in trace.steps)
