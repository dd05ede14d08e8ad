"""``make demo`` writes the report and prints its path; the ``make report`` command it prints
works as a user types it; and on a fresh clone after the demo, a bare ``hostedsuite report``
(no configured serving copy yet) reports on the demo's copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.cli import ROOT, run_cli

from .report_page import number, page_tables, sql


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_demo_writes_the_report_and_make_report_repeats_it(tmp_path: Path) -> None:
    workdir = tmp_path / "var" / "demo"
    demo = run_cli("demo", "--calls", "400", "--workdir", str(workdir))
    assert demo.returncode == 0, demo.stderr
    out = workdir / "report.html"
    lines = demo.stdout.splitlines()
    assert (
        [line for line in lines if line.startswith("report: ")]
        == [line for line in lines if line.startswith(f"report: {out}  (2024-03-17..2024-04-15, ")]
        != []
    )
    copy = workdir / "warehouse.serving.duckdb"
    (incoming,) = sql(
        copy,
        "SELECT count(*) FROM analytics.fct_calls WHERE is_incoming "
        "AND local_date BETWEEN '2024-03-17' AND '2024-04-15'",
    )[0]
    offered = sum(number(r["calls_offered"]) or 0 for r in page_tables(out)["headline"])
    assert offered == incoming > 0

    (hint,) = [line for line in lines if line.startswith("report other dates: ")]
    assert hint == f"report other dates: make report DB={copy} START=2024-03-17 END=2024-04-15"
    out.unlink()
    # As a user types it in a shell, not as a sub-make of `make test`.
    shell_env = {
        k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    }
    again = _run(hint.split(": ", 1)[1].split(), ROOT, shell_env)
    assert again.returncode == 0, again.stderr
    assert f"report: {out}  (2024-03-17..2024-04-15, {incoming:,} incoming calls" in again.stdout
    assert out.exists()

    # A fresh clone after `make demo` (the project tmp_path, started from elsewhere): no
    # configured serving copy, only the demo's; the lines name the files by absolute path.
    (tmp_path / ".dlt").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bare = run_cli(
        "report", cwd=elsewhere, env={**os.environ, "HOSTEDSUITE_PROJECT": str(tmp_path)}
    )
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout.splitlines() == [
        f"no serving copy at {tmp_path}/warehouse.serving.duckdb: reporting on the demo's "
        f"{tmp_path}/var/demo/warehouse.serving.duckdb",
        bare.stdout.splitlines()[1],
    ]
    assert bare.stdout.splitlines()[1].startswith(
        f"report: {tmp_path}/var/demo/report.html  (2024-03-17.."
    )
