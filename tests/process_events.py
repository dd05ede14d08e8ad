"""Waiting for what other processes report, with a deadline, never for a time.

- ``Helper``: a test-only helper process (an analyst, a lake reader) that prints one JSON
  object per line on stdout for everything it saw; the test waits for the event it needs.
- ``EventChannel``: the helper's side of that channel;
- ``HeldRun``: a CLI run paused at a point of its own code (``crash_driver``'s ``hold:``), so
  that a test can show what other processes do while the run is there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.cli import ROOT, cli_command

Event = dict[str, Any]
DEADLINE_SECONDS = 300.0  # generous: the machine may be loaded; only a hang reaches it


def answered(event: Event) -> bool:
    """Whether a helper's event is a result (not ``{"error": ...}``, nor a line that was not
    an event at all)."""
    return "error" not in event and "unparsed" not in event


def reports(key: str, value: Any) -> Callable[[Event], bool]:
    """Matches an event whose ``key`` is ``value``."""
    return lambda event: key in event and event[key] == value


class EventChannel:
    """A helper process's events, one JSON object per line on its stdout, which from now on
    nothing else writes to: fd 1 is pointed at stderr, so whatever a library prints there
    (DuckDB's progress bar, a stray newline from an extension) cannot come between two events.
    A CI run once failed on such a line (``{"unparsed": "\\n"}``) from a lake reader."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def report(self, event: Event) -> None:
        self._stream.write(json.dumps(event) + "\n")
        self._stream.flush()


class Helper:
    """``python -m <module> <args>``, its stdout read as events in a thread; stops when
    ``stop_file`` exists (the helper's own loop checks it)."""

    def __init__(
        self, module: str, args: list[str], stop_file: Path, env: dict[str, str] | None = None
    ) -> None:
        self.stop_file = stop_file
        self.process = subprocess.Popen(
            cli_command(*args, module=module),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._ended = False
        # stdout is read by this thread alone (communicate() would take the last events from
        # it: a test once lost a helper's last event that way), stderr by another, so that
        # neither pipe can fill up and stall the helper
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr: list[str] = []
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"unparsed": line}
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def seen(self) -> int:
        """How many events so far: ``wait_for(..., after=seen())`` waits for a later one."""
        with self._changed:
            return len(self.events)

    def wait_for(self, what: str, matches: Callable[[Event], bool], after: int = 0) -> Event:
        """The first event from index ``after`` on that ``matches``; fails at the deadline or
        when the helper ended without reporting it."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        with self._changed:
            while True:
                for event in self.events[after:]:
                    if matches(event):
                        return event
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    ended = "ended" if self._ended else "still running"
                    raise AssertionError(
                        f"no {what} ({ended}); last events {self.events[-3:]}, "
                        f"stderr: {self._stderr_if_ended()}"
                    )
                self._changed.wait(left)

    def _stderr_if_ended(self) -> str:
        if self.process.poll() is None:
            return "-"
        self._stderr_reader.join(DEADLINE_SECONDS)
        return "".join(self._stderr)[-2000:]

    def stop(self) -> list[Event]:
        """Asks the helper to stop, waits for it; every event it reported."""
        self.stop_file.touch()
        self.process.wait(timeout=DEADLINE_SECONDS)
        self._reader.join(DEADLINE_SECONDS)
        self._stderr_reader.join(DEADLINE_SECONDS)
        assert self.process.returncode == 0, "".join(self._stderr)[-3000:]
        return self.events


class HeldRun:
    """``hostedsuite <args>`` through ``crash_driver hold:<point>``, in the background."""

    def __init__(self, point: str, args: list[str], env: Mapping[str, str], folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.process = subprocess.Popen(
            cli_command(f"hold:{point}", *args, module="tests.pipeline.crash_driver"),
            cwd=ROOT,
            env={**env, "HOLD_DIR": str(folder)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_held(self) -> None:
        """Returns once the run is paused at its point; fails if it ends first."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not (self.folder / "held").exists():
            if self.process.poll() is not None:
                _, err = self.process.communicate()
                raise AssertionError(f"the run ended before its hold point: {err[-3000:]}")
            assert time.monotonic() < deadline, "the run never reached its hold point"
            time.sleep(0.05)

    def release(self) -> subprocess.CompletedProcess[str]:
        """Lets the run go on; its outcome once it ended."""
        (self.folder / "release").touch()
        out, err = self.process.communicate(timeout=DEADLINE_SECONDS)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)
