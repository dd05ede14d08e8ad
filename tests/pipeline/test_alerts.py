"""Alerts to a Slack-compatible webhook, received by a real HTTP server on 127.0.0.1 that records
every request: a failed run, ``verify``'s differences, stale data; never a secret or a call's
content; a failing webhook changes neither the exit code nor the error line."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import duckdb
import pytest

from .loader import Loader

HOOK_PATH = "/services/T0001/B0002/hook-S3cr3t-4a"


@dataclass
class Webhook:
    """A recording webhook: ``received`` holds each JSON body posted to it."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{HOOK_PATH}"

    def texts(self) -> list[str]:
        return [str(body["text"]) for body in self.received]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            hook.received.append(json.loads(self.rfile.read(length)))
            hook.paths.append(self.path)
            self.send_response(hook.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    hook.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_nothing_private(loader: Loader, texts: list[str]) -> None:
    """No secret (the API's password, the webhook's path) and no call content in an alert."""
    sent = "\n".join(texts)
    assert loader.emulator.credentials["password"] not in sent
    assert "hook-S3cr3t-4a" not in sent
    for call in loader.emulator.truth().calls:
        for private in (call["caller_name"], call["caller_number"]):
            assert not private or private not in sent, private


def test_a_failed_run_sends_its_command_exit_code_and_error_line(
    loader_factory, webhook: Webhook
) -> None:
    loader: Loader = loader_factory(calls=60, seed=3)
    env = {
        "ALERTS__SLACK_INCOMING_HOOK": webhook.url,
        "SOURCES__HOSTEDSUITE__BASE_URL": f"http://127.0.0.1:{closed_port()}",
    }
    failed = loader.cli(*loader.load_until_now(), env=env)
    assert failed.returncode == 4, failed.stderr
    error = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1
    assert webhook.paths == [HOOK_PATH]
    (text,) = webhook.texts()
    host = socket.gethostname()
    assert text == f"hostedsuite on {host}: `load` failed (exit 4): {error[0][len('error: ') :]}"
    assert "refused" in text or "unreachable" in text, text
    assert_nothing_private(loader, webhook.texts())
    assert webhook.url not in failed.stdout + failed.stderr


def test_a_failing_webhook_changes_neither_exit_code_nor_error(
    loader_factory, webhook: Webhook
) -> None:
    loader: Loader = loader_factory(calls=60, seed=3)
    broken = {"SOURCES__HOSTEDSUITE__BASE_URL": f"http://127.0.0.1:{closed_port()}"}
    quiet = loader.cli(*loader.load_until_now(), env=broken)
    webhook.status = 500
    answered_500 = loader.cli(
        *loader.load_until_now(), env={**broken, "ALERTS__SLACK_INCOMING_HOOK": webhook.url}
    )
    unreachable_hook = f"http://127.0.0.1:{closed_port()}{HOOK_PATH}"
    unreachable = loader.cli(
        *loader.load_until_now(), env={**broken, "RUNTIME__SLACK_INCOMING_HOOK": unreachable_hook}
    )
    errors = {
        run.returncode: [line for line in run.stderr.splitlines() if line.startswith("error: ")]
        for run in (quiet, answered_500, unreachable)
    }
    assert list(errors) == [4], errors  # one exit code for all three
    assert len({tuple(lines) for lines in errors.values()}) == 1
    assert len(webhook.received) == 1  # the 500 was received, and not retried
    assert "alert not sent: the webhook answered HTTP 500" in answered_500.stderr
    # dlt's own key works too; the unreachable webhook's path (its secret) is not in the log
    assert "alert not sent: the webhook could not be reached" in unreachable.stderr
    assert "hook-S3cr3t-4a" not in unreachable.stdout + unreachable.stderr


def test_verify_differences_and_stale_data_are_alerted(loader_factory, webhook: Webhook) -> None:
    loader: Loader = loader_factory(calls=800, seed=36)
    hook = {"ALERTS__SLACK_INCOMING_HOOK": webhook.url}
    # fresh enough: the emulator's clock is in 2024, far less than 10^7 hours ago
    fresh = loader.cli(*loader.load_until_now(), env={**hook, "ALERTS__STALE_AFTER_HOURS": "1e7"})
    assert fresh.returncode == 0, fresh.stderr
    assert webhook.received == []  # a clean run says nothing

    stale = loader.cli("transform", env={**hook, "ALERTS__STALE_AFTER_HOURS": "48"})
    assert stale.returncode == 0, stale.stderr
    (text,) = webhook.texts()
    assert text.startswith(f"hostedsuite on {socket.gethostname()}: `transform`: data is stale: ")
    assert text.endswith(" hours ago (alert after 48 hours)"), text
    assert "complete through 2024-" in text, text

    with duckdb.connect(str(loader.duckdb_path)) as conn:
        conn.execute("DELETE FROM hostedsuite.calls WHERE start_time_local::DATE = '2024-03-12'")
    dirty = loader.cli("verify", "--start", "2024-03-05", "--end", "2024-03-20", env=hook)
    assert dirty.returncode == 6, dirty.stderr
    line = next(x for x in dirty.stderr.splitlines() if x.startswith("error: "))
    assert webhook.texts()[1] == (
        f"hostedsuite on {socket.gethostname()}: `verify`: verify found differences (exit 6): "
        f"{line[len('error: ') :]}"
    )
    assert "center-days differ from the API" in webhook.texts()[1]
    assert len(webhook.received) == 2
    assert_nothing_private(loader, webhook.texts())
