"""Odd targets end in one line: https spoken to a plain-http server fails on the first attempt,
a ``base_url`` with more than a scheme, host and port is refused before any request, and
``--serving`` never replaces a file that no publish wrote."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from .loader import Loader


class _CountingHandler(socketserver.BaseRequestHandler):
    """A plain TCP server that answers any bytes with an HTTP 400, as plain-http servers do
    to a TLS ClientHello, and counts the connections (the client's attempts)."""

    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]
        self.request.recv(4096)
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def plain_http_port() -> Iterator[tuple[int, socketserver.ThreadingTCPServer]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _CountingHandler)
    server.connections = 0  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.server_address[1], server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_tls_against_plain_http_fails_on_the_first_attempt(
    loader_factory, plain_http_port: tuple[int, socketserver.ThreadingTCPServer]
) -> None:
    port, server = plain_http_port
    loader = loader_factory(calls=10, seed=1)
    env = {
        "SOURCES__HOSTEDSUITE__BASE_URL": f"https://127.0.0.1:{port}",
        "SOURCES__HOSTEDSUITE__REQUEST_MAX_ATTEMPTS": "6",
    }
    result = loader.cli("load", "--until", loader.emulator.now.isoformat(), env=env)
    assert result.returncode == 4, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert f"TLS with https://127.0.0.1:{port} failed" in errors[0]
    assert "WRONG_VERSION_NUMBER" in errors[0] and "plain http" in errors[0]
    assert "retrying" not in result.stderr and "Traceback" not in result.stderr
    assert server.connections == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("suffix", "what"),
    [
        ("/api", "a path"),
        ("/hostedsuite/", "a path"),
        ("/?tenant=democorp", "a query string"),
        ("?tenant=democorp", "a query string"),
        ("#calls", "a fragment"),
    ],
)
def test_base_url_with_more_than_host_and_port_is_refused(
    loader_factory, suffix: str, what: str
) -> None:
    loader = loader_factory(calls=10, seed=1)
    url = loader.emulator.url + suffix
    result = loader.cli("load", env={"SOURCES__HOSTEDSUITE__BASE_URL": url})
    assert result.returncode == 2, result.stderr
    assert error_lines(result.stderr) == [
        "error: base_url must be a scheme and a host (and a port), e.g. "
        f"https://<customer>.hostedsuite.com; {url!r} has {what}"
    ]
    assert loader.emulator.requests == []


def test_base_url_with_user_info_is_refused_without_showing_it(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=1)
    port = loader.emulator.port
    url = f"http://etl:Ur1-Pa55@127.0.0.1:{port}"
    result = loader.cli("load", env={"SOURCES__HOSTEDSUITE__BASE_URL": url})
    assert result.returncode == 2, result.stderr
    assert error_lines(result.stderr) == [
        "error: base_url must be a scheme and a host (and a port), e.g. "
        f"https://<customer>.hostedsuite.com; 'http://***@127.0.0.1:{port}' has user-info "
        "(user:password@)"
    ]
    assert "Ur1-Pa55" not in result.stdout + result.stderr
    assert loader.emulator.requests == []


def _load(loader: Loader, serving: Path) -> tuple[int, str, str]:
    done = loader.cli("load", "--until", loader.emulator.now.isoformat(), "--serving", str(serving))
    return done.returncode, done.stdout, done.stderr


def _own_database(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE notes AS SELECT 'mine' AS text")


@pytest.mark.parametrize("kind", ["text", "duckdb", "empty"])
def test_serving_refuses_to_replace_a_file_no_publish_wrote(
    loader_factory, tmp_path: Path, kind: str
) -> None:
    loader = loader_factory(calls=60, seed=3)
    target = tmp_path / f"precious-{kind}"
    if kind == "text":
        target.write_text("quarterly figures\n", encoding="utf-8")
    elif kind == "duckdb":
        _own_database(target)
    else:
        target.touch()
    before = target.read_bytes()
    code, _, stderr = _load(loader, target)
    assert code == 2, stderr
    assert error_lines(stderr) == [
        f"error: refusing to replace {target}: it is not a serving copy this pipeline published "
        "(no DuckDB file with analytics.load_health.published_at); move it away or choose "
        "another --serving path"
    ]
    assert target.read_bytes() == before
    assert not (tmp_path / f".{target.name}.publishing").exists()
    # refused before the run wrote anything
    assert not loader.duckdb_path.exists()


def test_serving_replaces_its_own_previous_copy(loader_factory, tmp_path: Path) -> None:
    loader = loader_factory(calls=60, seed=3)
    serving = tmp_path / "analysts.duckdb"
    code, _, stderr = _load(loader, serving)
    assert code == 0, stderr
    loader.emulator.advance(minutes=30, new_calls=7)
    code, stdout, stderr = _load(loader, serving)
    assert code == 0, stderr
    assert f"serving: {serving}  (published" in stdout
    with duckdb.connect(str(serving), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone() == (67,)
