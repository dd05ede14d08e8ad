"""The details an operator meets: ``make report`` writes into ``var/``, ``make sql Q=...`` keeps
its quotes, dot commands can be piped to ``hostedsuite sql``, and progress lines are dated."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.cli import ROOT

from .loader import Loader
from .project_copy import fresh_copy


def make(project: Path, loader: Loader, *args: str) -> subprocess.CompletedProcess[str]:
    """``make`` in ``project`` as a user types it (not a sub-make of ``make test``); its
    ``.venv`` is the tests' environment, which make must not reinstall."""
    env = {
        **{k: v for k, v in loader.cli_env().items() if k not in ("MAKELEVEL", "MAKEFLAGS")},
        "HOSTEDSUITE_PROJECT": str(project),
    }
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_make_report_sql_and_piped_commands_on_a_fresh_clone(loader_factory, tmp_path) -> None:
    loader = loader_factory(calls=300, seed=101, days=3)
    (tmp_path / "project").mkdir()
    project = fresh_copy(tmp_path / "project")
    loaded = make(project, loader, "load", f"ARGS=--until {loader.emulator.now.isoformat()}")
    assert loaded.returncode == 0, loaded.stderr
    # progress lines carry the date and the time
    progress = [line for line in loaded.stderr.splitlines() if "windows" in line]
    assert progress and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", p) for p in progress)

    report = make(project, loader, "report")
    assert report.returncode == 0, report.stderr
    assert f"report: {project}/var/report.html  (" in report.stdout
    assert (project / "var" / "report.html").is_file()
    assert not (project / "report.html").exists()
    # git ignores where it went (checked with this repository's .gitignore)
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/report.html"], cwd=ROOT)
    assert ignored.returncode == 0

    quoted = make(project, loader, "sql", """Q=select 1 as "a b", 'it''s' as t""")
    assert quoted.returncode == 0, quoted.stderr
    assert "a b" in quoted.stdout and "it's" in quoted.stdout

    serving = project / "warehouse.serving.duckdb"
    piped = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "sql", "ARGS=--csv"],
        cwd=project,
        env={**loader.cli_env(), "HOSTEDSUITE_PROJECT": str(project)},
        input=".tables\nselect count(*) as calls\n  from hostedsuite.calls;\n.help\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    # the DuckDB CLI's .tables lists the tables' names in columns
    assert any("fct_calls" in line.split() for line in lines), lines
    assert lines[lines.index("calls") + 1] == "300"
    # and its .help lists its commands
    assert any(line.startswith(".tables") for line in lines), lines
    assert serving.exists()
