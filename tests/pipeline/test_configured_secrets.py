"""No configured secret appears in what a failing run writes: its output, its error line, or any
file it leaves (the pipeline folder with dlt's pickled trace, the warehouse).

Each case points one secret-holding setting at an endpoint that cannot be reached, so that the
secret travels into a connection error, then scans everything for it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dlt.pipeline.trace import load_trace

from tests.pipeline.conftest import ROOT


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
            {1, 5},
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
    pipelines_dir = tmp_path / "pipelines"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.hostedsuite_pipeline",
            "load",
            "--until",
            loader.emulator.now.isoformat(),
            "--pipelines-dir",
            str(pipelines_dir),
        ],
        cwd=ROOT,
        env=loader.cli_env({**env, "RUNTIME__LOG_LEVEL": "DEBUG"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in codes, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert secret not in result.stdout + result.stderr
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    leaking = [str(path) for path in written if secret.encode() in path.read_bytes()]
    assert leaking == []
    if case not in ("base_url user-info", "alerts webhook"):  # refused before anything ran
        traces = [path for path in written if path.name == "trace.pickle"]
        assert traces, "dlt wrote no trace"
        # still dlt's trace, readable by dlt, with the failure in it
        trace = load_trace(str(traces[0].parent))
        assert trace is not None and any(step.step_exception for step in trace.steps)
