"""Alerts to a Slack-compatible webhook: a failed run, ``verify``'s differences, stale data.

The webhook is ``[alerts] slack_incoming_hook`` in ``.dlt/secrets.toml`` (env
``ALERTS__SLACK_INCOMING_HOOK``), else dlt's own ``[runtime] slack_incoming_hook``; either is
read as a secret, so it is redacted from everything the run writes. Slack, Mattermost and any
other service that takes Slack's ``{"text": ...}`` body work. ``[alerts] stale_after_hours``
makes a run that ends with the cursor older than that send an alert too.

An alert carries the command, the exit code, the run's one redacted ``error:`` line and the
host; never a setting's value or a call's content. Sending is best effort: a webhook that
fails or hangs (10 s) is one warning in the log, and the run's exit code and error stay as
they were.
"""

from __future__ import annotations

import logging
import socket
from typing import Final

import dlt
import pendulum
import requests

from pipelines.errors import ExitCode
from pipelines.hostedsuite.client import redact
from pipelines.hostedsuite.windows import parse_instant
from pipelines.pipeline import cursor_state

logger = logging.getLogger("hostedsuite")

HOOK_KEYS: Final = ("alerts.slack_incoming_hook", "runtime.slack_incoming_hook")
STALE_KEY: Final = "alerts.stale_after_hours"
# the keys of the [alerts] section (the unknown-settings check knows them from here)
ALERTS_SETTINGS: Final = (HOOK_KEYS[0], STALE_KEY)
TIMEOUT_S: Final = 10.0
MAX_LINE: Final = 300  # an error line is cut here: an alert is a pointer to the log


def webhook() -> str | None:
    """The configured webhook URL (a secret), if any."""
    for key in HOOK_KEYS:
        value = dlt.secrets.get(key, str)
        if value and value.strip():
            return value.strip()
    return None


def send(text: str) -> bool:
    """Posts ``text`` (redacted) to the webhook; False, with one warning, when it failed."""
    url = webhook()
    if url is None:
        return False
    body = {"text": redact(f"hostedsuite on {socket.gethostname()}: {text}"), "mrkdwn": False}
    try:
        answer = requests.post(url, json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        # the exception's text names the webhook's path, which is the secret part of its URL
        logger.warning("alert not sent: the webhook could not be reached (%s)", type(exc).__name__)
        return False
    if answer.status_code >= 400:
        logger.warning("alert not sent: the webhook answered HTTP %d", answer.status_code)
        return False
    return True


def run_failed(command: str, code: int, line: str) -> None:
    """A failed run: ``verify``'s differences (exit 6) or any other failure."""
    line = line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
    if code == ExitCode.INCOMPLETE:
        send(f"`{command}`: verify found differences (exit {code}): {line}")
    else:
        send(f"`{command}` failed (exit {code}): {line}")


def stale_after_hours() -> float | None:
    value = dlt.config.get(STALE_KEY, float)
    return float(value) if value else None


def check_staleness(command: str, pipeline: dlt.Pipeline) -> None:
    """An alert when the cursor (complete through) is older than ``stale_after_hours``; a
    problem in checking is a warning, never a failure of the run."""
    try:
        _check_staleness(command, pipeline)
    except Exception as exc:
        logger.warning("staleness not checked: %s", redact(str(exc)).splitlines()[0])


def _check_staleness(command: str, pipeline: dlt.Pipeline) -> None:
    limit = stale_after_hours()
    if limit is None or webhook() is None:
        return
    cursor = parse_instant(cursor_state(pipeline).get("complete_through"), "cursor")
    if cursor is None:
        send(f"`{command}`: data is stale: nothing loaded yet (alert after {limit:g} hours)")
        return
    age = (pendulum.now("UTC") - cursor).total_seconds() / 3600
    if age > limit:
        send(
            f"`{command}`: data is stale: complete through {cursor.to_iso8601_string()}, "
            f"{age:,.1f} hours ago (alert after {limit:g} hours)"
        )
