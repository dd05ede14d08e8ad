"""A program on a pseudo-terminal, as a user types at it: what it printed up to each prompt,
waited for with a deadline."""

from __future__ import annotations

import os
import select
import time

from tests.process_events import DEADLINE_SECONDS


class Terminal:
    """The leader side of a pseudo-terminal: what was printed up to the prompt."""

    def __init__(self, leader: int) -> None:
        self.leader = leader
        self.pending = b""

    def until_prompt(self) -> str:
        """Everything printed until the next prompt (``sql>`` or ``...``), that prompt included."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not self.pending.rstrip().endswith((b"sql>", b"...")):
            left = deadline - time.monotonic()
            assert left > 0, self.pending
            if select.select([self.leader], [], [], left)[0]:
                self.pending += os.read(self.leader, 65536)
        text, self.pending = self.pending.decode(), b""
        return text

    def type(self, line: str) -> str:
        """Types ``line`` at a prompt; what it printed, up to the next prompt."""
        # readline discards type-ahead when it sets up the terminal: type after each prompt.
        os.write(self.leader, (line + "\n").encode())
        return self.until_prompt()

    def rest(self) -> str:
        """What is printed until the prompt exits and closes the terminal."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if not select.select([self.leader], [], [], deadline - time.monotonic())[0]:
                break
            try:
                chunk = os.read(self.leader, 65536)
            except OSError:  # the prompt exited and closed the terminal
                break
            if not chunk:
                break
            self.pending += chunk
        return self.pending.decode()


def cells(printed: str) -> list[str]:
    """The cells of the result boxes DuckDB drew in ``printed``, top to bottom."""
    lines = [line.strip() for line in printed.splitlines()]
    return [line.strip("│").strip() for line in lines if line.startswith("│")]
