"""Backfills say what they did, and START/END mean what ``--help`` and the README say.

A rerun of a range already loaded says so and reads nothing; ``--force`` (``make backfill
FORCE=1``) reads it again and merges, and the summary counts the calls read, new, changed and
unchanged. ``backfill`` takes UTC dates with END excluded; ``verify`` takes local dates with
END included: both are checked at their boundaries.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta

from tests.cli import ROOT

from .warehouse import rows

D, NEXT = datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC)


def summary(done: subprocess.CompletedProcess[str], prefix: str) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith(prefix)]


def test_a_rerun_says_already_loaded_and_force_rereads_and_counts(loader_factory) -> None:
    loader = loader_factory(calls=400, seed=91, days=4)
    client = loader.emulator.truth().clients[0]["id"]
    # calls on the range's edges: its first second, its last, and the first second after it
    first = loader.emulator.add_call(client, D, "+15550000001")
    last = loader.emulator.add_call(client, NEXT - timedelta(seconds=1), "+15550000002")
    after = loader.emulator.add_call(client, NEXT, "+15550000003")
    in_range = {c["id"] for c in loader.emulator.truth().calls if D <= c["start_time"] < NEXT}
    assert {first, last} <= in_range and after not in in_range
    args = ["backfill", "--start", "2024-03-02", "--end", "2024-03-03", "--no-transform"]

    done = loader.cli(*args)
    assert done.returncode == 0, done.stderr
    stored = {r[0] for r in rows(loader.duckdb_path, "SELECT id FROM hostedsuite.calls")}
    assert stored == in_range  # UTC, START included, END excluded
    n = len(in_range)
    assert summary(done, "backfill ") == [
        "backfill 2024-03-02T00:00:00Z..2024-03-03T00:00:00Z (UTC, end excluded): 1 windows"
    ]
    assert summary(done, "calls read: ") == [
        f"calls read: {n:,} (new {n:,}, changed 0, unchanged 0)"
    ]

    loader.emulator.requests.clear()
    again = loader.cli(*args)
    assert again.returncode == 0, again.stderr
    assert summary(again, "backfill ") == [
        "backfill 2024-03-02T00:00:00Z..2024-03-03T00:00:00Z (UTC, end excluded): "
        "already loaded: nothing to do (use --force to re-read)"
    ]
    assert not [r for r in loader.emulator.requests if "StartDate" in r]  # nothing read

    edited = sorted(in_range)[0]
    loader.emulator.edit_call(edited, notes="a late edit")
    load_ids = dict(rows(loader.duckdb_path, "SELECT id, _dlt_load_id FROM hostedsuite.calls"))
    # make backfill FORCE=1, as a user types it (not as a sub-make of `make test`)
    shell_env = {
        k: v for k, v in loader.cli_env().items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    }
    forced = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "backfill",
            "START=2024-03-02",
            "END=2024-03-03",
            "FORCE=1",
            f"ARGS=--no-transform {' '.join(loader.cli_paths())}",
        ],
        cwd=ROOT,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert forced.returncode == 0, forced.stderr
    assert summary(forced, "calls read: ") == [
        f"calls read: {n:,} (new 0, changed 1, unchanged {n - 1:,})"
    ]
    notes = rows(loader.duckdb_path, f"SELECT notes FROM hostedsuite.calls WHERE id = '{edited}'")
    assert notes == [("a late edit",)]
    after_ids = dict(rows(loader.duckdb_path, "SELECT id, _dlt_load_id FROM hostedsuite.calls"))
    rewritten = {i for i in after_ids if after_ids[i] != load_ids[i]}
    assert rewritten == {edited}  # merged: the unchanged calls keep their rows

    # forced once more with nothing changed: everything read, nothing rewritten
    again = loader.cli(*args, "--force")
    assert summary(again, "calls read: ") == [
        f"calls read: {n:,} (new 0, changed 0, unchanged {n:,})"
    ]


def test_verify_dates_are_local_and_its_end_is_included(loader_factory) -> None:
    loader = loader_factory(calls=300, seed=92, days=5)
    assert loader.cli(*loader.load_until_now(), "--no-transform").returncode == 0
    centers = len(loader.emulator.truth().centers)

    one_day = loader.cli("verify", "--start", "2024-03-03", "--end", "2024-03-03")
    assert one_day.returncode == 0, one_day.stdout + one_day.stderr
    assert summary(one_day, "verify ") == [
        f"verify 2024-03-03..2024-03-03: {centers} center-days checked, 0 differ"
    ]
    days = rows(loader.duckdb_path, "SELECT DISTINCT local_date FROM analytics.completeness")
    assert [str(d[0]) for d in days] == ["2024-03-03"]

    three_days = loader.cli("verify", "--start", "2024-03-02", "--end", "2024-03-04")
    assert summary(three_days, "verify ") == [
        f"verify 2024-03-02..2024-03-04: {3 * centers} center-days checked, 0 differ"
    ]


def test_each_help_states_what_start_and_end_mean(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=93, days=1)
    helps = {
        command: " ".join(loader.cli(command, "--help").stdout.split())
        for command in ("backfill", "verify", "report")
    }
    assert "first UTC date, included" in helps["backfill"]
    assert "UTC date where the range stops, EXCLUDED (unlike verify and report" in helps["backfill"]
    for command in ("verify", "report"):
        assert "first local date of each center, included" in helps[command]
        assert (
            "last local date of each center, INCLUDED (unlike backfill's UTC --end"
            in (helps[command])
        )
    make_help = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    plain = re.sub(r"\x1b\[[0-9;]*m", "", make_help)
    targets = {line.split()[0]: line for line in plain.splitlines() if line.strip()}
    assert "Load UTC dates START..END, END excluded" in targets["backfill"]
    assert "local dates START..END both included" in targets["verify"]
    assert "local dates START..END both included" in targets["report"]
