"""The README's cron line and systemd unit, run as the scheduler would, on a fresh copy.

The recipes are read from the README itself (``/opt/hostedsuite`` replaced by the copy's
folder), so the test fails when the README's text stops working. cron runs its line with
``/bin/sh -c`` from the user's home with a minimal environment; systemd runs ``ExecStart``
without a shell, with an empty environment but for the unit's, in ``WorkingDirectory``, and
counts the codes in ``SuccessExitStatus`` as success. Each documented code must reach the
scheduler: 0, 75 (another run holds the lock), 4 (HostedSuite unreachable), 3 (credentials
refused).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import duckdb
import filelock
import pytest

from hostedsuite_emulator import Emulator

from .project_copy import (
    README_PROJECT,
    closed_port,
    fresh_copy,
    readme_block,
    write_secrets,
)

# cron's environment (Debian's cron: PATH, HOME, SHELL, LOGNAME), and systemd's PATH.
CRON_PATH = "/usr/bin:/bin"
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ")


def cron_line(project: Path) -> str:
    """The command of the README's crontab line (after the five time fields)."""
    line = readme_block("cron").strip()
    assert line.startswith("*/5 * * * * "), line
    return line.split(None, 5)[5].replace(README_PROJECT, str(project))


def run_cron(project: Path, home: Path) -> int:
    env = {"PATH": CRON_PATH, "HOME": str(home), "SHELL": "/bin/sh", "LOGNAME": "root"}
    done = subprocess.run(
        ["/bin/sh", "-c", cron_line(project)], cwd="/", env=env, timeout=300, check=False
    )
    return done.returncode


def unit(project: Path) -> dict[str, str]:
    """The README's service unit: its [Service] keys (the timer's block left out)."""
    text = readme_block("ini", "hostedsuite-load.service").replace(README_PROJECT, str(project))
    service = text.split("hostedsuite-load.timer")[0]
    keys: dict[str, str] = {}
    for line in service.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            keys[key.strip()] = value.strip()
    return keys


def run_unit(project: Path) -> tuple[int, bool]:
    """ExecStart as systemd starts it; the exit code and whether systemd counts it a success."""
    service = unit(project)
    env = {"PATH": SYSTEMD_PATH}
    for assignment in shlex.split(service.get("Environment", "")):
        name, value = assignment.split("=", 1)
        env[name] = value
    done = subprocess.run(
        shlex.split(service["ExecStart"]),
        cwd=service.get("WorkingDirectory", "/"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    successes = {0, *(int(code) for code in service.get("SuccessExitStatus", "").split())}
    return done.returncode, done.returncode in successes


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    return fresh_copy(tmp_path / "project")


def calls_in(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM hostedsuite.calls").fetchone()
    assert row is not None
    return int(row[0])


def test_the_cron_line_reaches_cron_with_every_documented_code(
    project: Path, tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> None:
    emulator = emulator_factory(calls=200, seed=61, days=3)
    write_secrets(project, emulator)
    assert not (project / "var").exists()  # a fresh clone has no var/: the line creates it
    log = project / "var" / "log" / "load.log"

    assert run_cron(project, tmp_path) == 0
    assert calls_in(project / "warehouse.duckdb") == 200
    lines = log.read_text().splitlines()
    assert lines and all(STAMPED.match(line) for line in lines), lines
    assert any(f"warehouse: {project / 'warehouse.duckdb'}" in line for line in lines), lines
    assert not (Path("/") / "var" / "pipelines" / "hostedsuite").exists()

    with filelock.FileLock(str(project / "var" / "pipelines" / "hostedsuite.run.lock")):
        assert run_cron(project, tmp_path) == 75
    assert re.search(r" error: another run .* is in progress", log.read_text().splitlines()[-1])

    write_secrets(project, emulator, base_url=f"http://127.0.0.1:{closed_port()}")
    assert run_cron(project, tmp_path) == 4
    write_secrets(project, emulator, password="not-the-password")
    assert run_cron(project, tmp_path) == 3
    last = log.read_text().splitlines()[-1]
    assert STAMPED.match(last) and " error: " in last and "not-the-password" not in last
    assert calls_in(project / "warehouse.duckdb") == 200


def test_the_systemd_unit_counts_an_overlap_as_success_and_fails_with_the_code(
    project: Path, emulator_factory: Callable[..., Emulator]
) -> None:
    emulator = emulator_factory(calls=150, seed=62, days=2)
    write_secrets(project, emulator)

    assert run_unit(project) == (0, True)
    assert calls_in(project / "warehouse.duckdb") == 150
    with filelock.FileLock(str(project / "var" / "pipelines" / "hostedsuite.run.lock")):
        assert run_unit(project) == (75, True)
    write_secrets(project, emulator, base_url=f"http://127.0.0.1:{closed_port()}")
    assert run_unit(project) == (4, False)
    write_secrets(project, emulator, password="not-the-password")
    assert run_unit(project) == (3, False)


def test_after_a_pull_that_changed_the_lock_file_the_run_refuses_and_installs_nothing(
    project: Path, tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> None:
    emulator = emulator_factory(calls=50, seed=63, days=1)
    write_secrets(project, emulator)
    installed = (project / ".venv" / ".installed").read_text()
    with (project / "requirements.lock").open("a") as lock:
        lock.write("example-new-dependency==1.0\n")

    assert run_cron(project, tmp_path) == 2
    (line,) = (project / "var" / "log" / "load.log").read_text().splitlines()
    assert STAMPED.match(line) and " error: " in line and "run 'make venv'" in line, line
    assert (project / ".venv" / ".installed").read_text() == installed
    assert not (project / "var" / "pipelines").exists()
    assert not (project / "warehouse.duckdb").exists()
