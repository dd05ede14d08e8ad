"""A fresh copy of the project, as ``git clone`` would make it, for tests that run the README's
recipes: the files git tracks (plus new ones not ignored), as they are in the working tree;
nothing git ignores (no ``.dlt/secrets.toml``, no ``var/``, no warehouse). Its ``.venv`` is a
link to the environment running the tests (installing one per test would take minutes).

That environment is an editable install of this working tree, so a copy's console script finds
the working tree as its project unless told otherwise: a test runs commands in a copy with
``HOSTEDSUITE_PROJECT`` set, or through ``bin/hostedsuite-scheduled``, which sets it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

from hostedsuite_emulator import Emulator
from tests.cli import ROOT

# What the README's recipes name the project folder.
README_PROJECT = "/opt/hostedsuite"


def fresh_copy(target: Path) -> Path:
    """The project's tracked files copied to ``target`` (modes kept), ``.venv`` linked."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


def write_secrets(project: Path, emulator: Emulator, **overrides: str) -> None:
    """``.dlt/secrets.toml`` as the README's setup makes it: the example, filled in."""
    values = {
        "base_url": emulator.url,
        "start_date": "2024-03-01",
        **emulator.credentials,
        **overrides,
    }
    lines = []
    for line in (project / ".dlt" / "secrets.toml.example").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and key in values:
            line = f'{key} = "{values[key]}"'
        lines.append(line)
    (project / ".dlt" / "secrets.toml").write_text("\n".join(lines) + "\n")


def closed_port() -> int:
    """A loopback port nothing listens on (a connection is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def readme_block(language: str, first_line_contains: str = "") -> str:
    """The README's first fenced block in ``language`` whose text contains the given text."""
    text = (ROOT / "README.md").read_text()
    fence = f"```{language}\n"
    start = 0
    while (start := text.find(fence, start)) >= 0:
        body = text[start + len(fence) : text.index("```", start + len(fence))]
        if first_line_contains in body:
            return body
        start += len(fence)
    raise AssertionError(f"README has no ```{language} block with {first_line_contains!r}")
