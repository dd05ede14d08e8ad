"""Transport faults end exact; auth failures end with one clear line and no password anywhere."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hostedsuite_emulator import Faults
from pipelines.pipeline import cursor_state, open_pipeline
from tests.cli import assert_fails

from .warehouse import assert_matches_truth


def test_load_is_exact_under_503_429_resets_and_truncated_bodies(loader_factory) -> None:
    faults = Faults(
        error_rate=0.1, rate_limit_rate=0.03, reset_rate=0.05, truncate_rate=0.05, fault_seed=1
    )
    loader = loader_factory(calls=1500, seed=12, faults=faults)
    loader.load(page_size=100, request_max_attempts=10)
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_truncated_bodies_on_every_route_are_fetched_again(loader_factory) -> None:
    # Half of all responses (centers, clients, counts, pages) cut short after HTTP 200.
    faults = Faults(truncate_rate=0.5, fault_seed=3)
    loader = loader_factory(calls=300, seed=14, faults=faults)
    loader.load(request_max_attempts=20)
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_scripted_fault_of_each_kind_is_retried(loader_factory) -> None:
    loader = loader_factory(calls=400, seed=13)
    loader.emulator.faults.script = ["500", "503", "429", "reset", "truncate"]
    loader.load(page_size=100)
    assert loader.emulator.faults.script == []
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def _all_text(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("status", [401, 400])
def test_auth_failure_is_one_line_and_leaks_no_password(loader_factory, status: int) -> None:
    loader = loader_factory(calls=50, seed=1)
    loader.emulator.settings.auth_error_status = status
    wrong = "Wr0ng-Pa55-échappé"
    result = loader.cli(
        "load",
        "--until",
        loader.emulator.now.isoformat(),
        env={"SOURCES__HOSTEDSUITE__PASSWORD": wrong},
    )
    assert_fails(result, 3, "credentials")
    for text in (result.stdout, result.stderr):
        assert wrong not in text
    if loader.pipelines_dir.exists():
        assert wrong.encode() not in _all_text(loader.pipelines_dir)


def test_plain_http_to_a_remote_host_is_refused_before_any_request(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=1)
    result = loader.cli("load", env={"SOURCES__HOSTEDSUITE__BASE_URL": "http://calls.example.com"})
    assert_fails(result, 2, "refusing plain http://")
    assert loader.emulator.requests == []


def test_read_timeout_is_retried(loader_factory) -> None:
    loader = loader_factory(calls=300, seed=14)
    loader.emulator.faults.slow_seconds = 3.0
    loader.emulator.faults.script = ["slow", "slow"]
    loader.load(page_size=100, request_timeout=1.0)
    assert loader.emulator.faults.script == []
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_final_failure_names_the_request_and_not_the_password(loader_factory) -> None:
    loader = loader_factory(calls=200, seed=15, faults=Faults(error_rate=1.0))
    result = loader.cli(
        "load",
        "--until",
        loader.emulator.now.isoformat(),
        env={"SOURCES__HOSTEDSUITE__REQUEST_MAX_ATTEMPTS": "3"},
    )
    error = assert_fails(result, 4, "gave up after 3 attempts")
    assert "HTTP 50" in error
    assert "/api/" in error or "calls" in error or "centers" in error
    assert loader.emulator.credentials["password"] not in result.stdout + result.stderr


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_refused_connection_is_unreachable_at_once(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=1)
    # With this backoff every retry would first wait the longest delay, 60 s (the client's
    # max_delay): a run that retried even once could not end before the timeout below, where
    # one that gives up at once ends in a few seconds (no tight wall-clock bound to trip on a
    # loaded machine).
    env = {
        "SOURCES__HOSTEDSUITE__BASE_URL": f"http://127.0.0.1:{_closed_port()}",
        "SOURCES__HOSTEDSUITE__REQUEST_MAX_ATTEMPTS": "6",
        "SOURCES__HOSTEDSUITE__REQUEST_BACKOFF_FACTOR": "600",
    }
    result = loader.cli("load", "--until", loader.emulator.now.isoformat(), env=env, timeout=55)
    error = assert_fails(result, 4, "cannot reach http://127.0.0.1:")
    assert "refused" in error
    assert "retrying" not in result.stderr, "a refused connection must not be retried"
    assert loader.emulator.credentials["password"] not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("route", "value", "detail"),
    [
        ("/api/centers", "Service in maintenance", "expected a JSON array, got a string"),
        ("/api/clients", 42, "expected a JSON array, got a number"),
        # Before: read as "no clients" and the run ended 0.
        ("/api/clients", {"Result": []}, "expected a JSON array, got an object without Items"),
        ("/api/centers", [{"Id": "c1"}, "c2"], "expected JSON objects in the array, got a string"),
        # Before: retried six times as if truncated ("not a calls page"), then exit 4.
        ("/api/calls", ["x"], "expected a calls page, got an array"),
        # Before: no Items read as an empty last page: the run ended 0 with no calls.
        ("/api/calls", {"Result": []}, "expected a calls page, got an object with no Items"),
    ],
    ids=[
        "centers-string",
        "clients-number",
        "clients-object",
        "centers-non-object-item",
        "calls-array",
        "calls-no-items",
    ],
)
def test_unexpected_response_shape_is_an_api_failure(
    loader_factory, route: str, value: object, detail: str
) -> None:
    loader = loader_factory(calls=50, seed=1, faults=Faults(wrong_shape={route: value}))
    result = loader.cli("load", "--until", loader.emulator.now.isoformat())
    assert assert_fails(result, 4) == (
        f"error: HostedSuite answered something unexpected on {route}: {detail}"
    )
    pipeline = open_pipeline(str(loader.duckdb_path), str(loader.pipelines_dir))
    assert cursor_state(pipeline).get("complete_through") is None, "nothing may be committed"
