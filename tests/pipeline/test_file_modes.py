"""Files that hold callers' and agents' names respect the umask: the warehouse, the serving
copy (read-only: its write bits cleared, the rest as the umask left them) and the report.
Each run is ``hostedsuite`` in its own process started with the umask under test."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from hostedsuite_emulator import Emulator
from tests.cli import ROOT, cli_command

from .loader import Loader


def run(loader: Loader, umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args),
        cwd=ROOT,
        env=loader.cli_env(),
        umask=umask,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# umask -> (warehouse, serving copy, report), worked out by hand: 0o666 & ~umask for files a
# process creates, and the same without the write bits for the read-only serving copy.
EXPECTED = {
    0o077: (0o600, 0o400, 0o600),
    0o027: (0o640, 0o440, 0o640),
}


@pytest.mark.parametrize("umask", sorted(EXPECTED))
def test_warehouse_serving_copy_and_report_follow_the_umask(
    umask: int, tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> None:
    emulator = emulator_factory(calls=150, seed=29)
    loader = Loader(emulator, tmp_path / "warehouse.duckdb", tmp_path / "pipelines")
    serving = tmp_path / "warehouse.serving.duckdb"
    report = tmp_path / "out" / "report.html"
    warehouse_mode, serving_mode, report_mode = EXPECTED[umask]

    done = run(loader, umask, *loader.load_until_now(), *loader.cli_paths())
    assert done.returncode == 0, done.stderr
    assert (mode(loader.duckdb_path), mode(serving)) == (warehouse_mode, serving_mode)

    # A later publish replaces the copy with one of the same mode.
    emulator.advance(minutes=30, new_calls=10)
    done = run(loader, umask, *loader.load_until_now(), *loader.cli_paths())
    assert done.returncode == 0, done.stderr
    assert (mode(loader.duckdb_path), mode(serving)) == (warehouse_mode, serving_mode)

    done = run(loader, umask, "report", "--db", str(serving), "--out", str(report))
    assert done.returncode == 0, done.stderr
    assert mode(report) == report_mode
    # ...and a report written again over it keeps that mode (no leftover temporary file).
    done = run(loader, umask, "report", "--db", str(serving), "--out", str(report))
    assert done.returncode == 0, done.stderr
    assert mode(report) == report_mode
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.html"]
