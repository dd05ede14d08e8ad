"""The analysts' serving copy: loads and analyst sessions never block each other.

Real processes throughout: the CLI in subprocesses against the emulator, analysts as separate
Python processes holding DuckDB connections (``analyst_driver.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Loader
from .warehouse import assert_matches_truth, rows


def serving_path(loader: Loader) -> Path:
    return loader.duckdb_path.with_name("warehouse.serving.duckdb")


def temp_copy(loader: Loader) -> Path:
    return loader.duckdb_path.with_name(".warehouse.serving.duckdb.publishing")


class Analyst:
    """An analyst process (see analyst_driver.py); ``stop()`` returns its report."""

    def __init__(self, mode: str, path: Path, folder: Path) -> None:
        self.stop_file = folder / f"{mode}.stop"
        self.report = folder / f"{mode}.json"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.pipeline.analyst_driver",
                mode,
                str(path),
                str(self.report),
                str(self.stop_file),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> dict[str, Any]:
        self.stop_file.touch()
        _, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err
        report: dict[str, Any] = json.loads(self.report.read_text(encoding="utf-8"))
        return report


def late_edits(loader: Loader, n: int) -> None:
    """New calls, then edits of recent calls: notes, form ids removed, an interaction added.
    Every call keeps at least one interaction, so "a call without interactions" in a copy can
    only mean a copy that mixes two loads."""
    emulator = loader.emulator
    emulator.advance(minutes=45, new_calls=40)
    recent = sorted(emulator.truth().calls, key=lambda c: c["start_time"])[-n:]
    for i, call in enumerate(recent):
        if i % 3 == 0:
            emulator.edit_call(call["id"], notes=f"late edit {i}")
        elif i % 3 == 1:
            emulator.edit_call(call["id"], completed_form_ids=[])
        else:
            emulator.edit_call(
                call["id"],
                interactions=[
                    {"offset_seconds": 1.0, "type": "Answer", "description": "late"},
                    {"offset_seconds": 9.5, "type": "Hangup", "description": "late"},
                ],
            )


def load(loader: Loader, *extra: str, env: dict[str, str] | None = None) -> Any:
    return loader.cli(
        "load", "--until", loader.emulator.now.isoformat(), "--db-wait", "0", *extra, env=env
    )


def serving_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("serving: ")]
    assert len(lines) == 1, stdout
    return lines[0]


def test_analysts_query_all_day_while_three_loads_land(loader_factory, tmp_path) -> None:
    loader = loader_factory(calls=1500, seed=41)
    first = load(loader)
    assert first.returncode == 0, first.stderr
    serving = serving_path(loader)
    assert serving_line(first.stdout).startswith(f"serving: {serving}")
    held = Analyst("held", serving, tmp_path)
    fresh = Analyst("fresh", serving, tmp_path)
    time.sleep(1.5)  # both analysts are connected and querying before the first load
    try:
        for _ in range(3):
            late_edits(loader, 12)
            started = time.monotonic()
            run = load(loader)
            assert run.returncode == 0, run.stderr
            assert "waiting" not in run.stderr, run.stderr
            assert time.monotonic() - started < 120
            time.sleep(0.5)  # let the analysts query the new copy
    finally:
        held_report = held.stop()
        fresh_report = fresh.stop()

    assert held_report["errors"] == [] and held_report["queries"] > 10
    # The held session keeps working on the copy it opened: one count for its whole life.
    assert held_report["distinct_counts"] == [1500]
    assert fresh_report["errors"] == []
    rounds = fresh_report["rounds"]
    assert [r for r in rounds if r["violations"]] == []
    assert all(r["staged"] == r["calls"] for r in rounds)  # staging views work in the copy
    # New connections saw every load: the first copy and each of the three that followed.
    assert sorted({r["calls"] for r in rounds}) == [1500, 1540, 1580, 1620]
    assert len({r["published_at"] for r in rounds}) == 4
    assert_matches_truth(serving, loader.emulator.truth())


def test_a_careless_read_write_session_blocks_nothing_and_leaks_nothing(
    loader_factory, tmp_path
) -> None:
    loader = loader_factory(calls=600, seed=42)
    assert load(loader).returncode == 0
    serving = serving_path(loader)
    careless = Analyst("careless", serving, tmp_path)
    assert careless.process.stdout is not None
    assert careless.process.stdout.readline().strip() == "opened"
    try:
        late_edits(loader, 6)
        run = load(loader)
        assert run.returncode == 0, run.stderr
        # A new reader sees the new copy, not the careless session's writes (its WAL would
        # otherwise be replayed onto the new file).
        tables = rows(serving, "SELECT table_name FROM information_schema.tables")
        assert ("my_scratch",) not in tables
        assert_matches_truth(serving, loader.emulator.truth())
    finally:
        assert careless.stop() == {"closed": True}
    # Closing the careless session (it checkpoints into the replaced file) changes nothing.
    assert ("my_scratch",) not in rows(serving, "SELECT table_name FROM information_schema.tables")
    assert_matches_truth(serving, loader.emulator.truth())
    again = load(loader)
    assert again.returncode == 0, again.stderr


def test_kill_while_publishing_keeps_the_old_copy_and_the_next_run_publishes(
    loader_factory,
) -> None:
    loader = loader_factory(calls=800, seed=43)
    assert load(loader).returncode == 0
    serving = serving_path(loader)
    before = rows(
        serving,
        "SELECT count(*), max(published_at) FROM analytics.load_health, "
        "hostedsuite.calls GROUP BY ALL",
    )
    late_edits(loader, 6)
    killed = loader.crash("publish", *loader.load_until_now())
    assert killed.returncode == -9, killed.stderr
    assert temp_copy(loader).exists(), "the kill point is inside the copy"
    # The previous copy is intact and readable.
    assert (
        rows(
            serving,
            "SELECT count(*), max(published_at) FROM analytics.load_health, "
            "hostedsuite.calls GROUP BY ALL",
        )
        == before
    )
    assert before[0][0] == 800
    rerun = load(loader)
    assert rerun.returncode == 0, rerun.stderr
    assert not temp_copy(loader).exists()
    assert_matches_truth(serving, loader.emulator.truth())
    assert sorted(p.name for p in serving.parent.iterdir() if "serving" in p.name) == [serving.name]


def _in_mount_namespace(script: str) -> list[str]:
    """The command that runs ``script`` (bash) in a private mount namespace, where it may mount
    small or read-only file systems; mapped to root, so it works without root privileges too."""
    if shutil.which("unshare") is None:
        pytest.fail("util-linux `unshare` is needed for the disk tests")
    return ["unshare", "--mount", "--map-root-user", "bash", "-euo", "pipefail", "-c", script]


def test_full_disk_fails_the_publish_after_the_load_and_the_next_run_retries(
    loader_factory, tmp_path
) -> None:
    loader = loader_factory(calls=800, seed=44)
    disk = tmp_path / "disk"
    disk.mkdir()
    serving = disk / "calls.serving.duckdb"
    env = {**loader.cli_env(), "SERVING__PATH": str(serving), "SERVING__EVERY_N_RUNS": "2"}
    load_cmd = " ".join(
        [sys.executable, "-m", "pipelines.hostedsuite_pipeline", "load", *loader.cli_paths()]
    )
    until_before = loader.emulator.now.isoformat()
    until_after = loader.emulator.now.add(minutes=30).isoformat()
    late = tmp_path / "late"
    # run0 publishes; run1 is skipped (every 2 runs); the disk fills; run2 is due and fails
    # after its load committed; the disk is freed; run3 publishes although the counter would
    # skip it, because the last publish failed.
    script = f"""
        mount -t tmpfs -o size=64m tmpfs {disk}
        cd {ROOT}
        run() {{
            set +e
            {load_cmd} --until $2 > {tmp_path}/out$1 2> {tmp_path}/err$1
            echo $? > {tmp_path}/rc$1
            set -e
        }}
        run 0 {until_before}
        run 1 {until_before}
        free=$(df --output=avail -B1 {disk} | tail -1)
        fallocate -l $((free - 65536)) {disk}/filler
        until [ -e {late} ]; do sleep 0.1; done
        run 2 {until_after}
        rm {disk}/filler
        run 3 {until_after}
        ls -a {disk} > {tmp_path}/listing
        cp {serving} {tmp_path}/published.duckdb
    """
    # The emulator moves on between runs 1 and 2 (new calls), from this process.
    proc = subprocess.Popen(
        _in_mount_namespace(script),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (tmp_path / "rc1").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    loader.emulator.advance(minutes=30, new_calls=25)
    late.touch()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err

    def result(n: int) -> tuple[int, str, str]:
        return (
            int((tmp_path / f"rc{n}").read_text()),
            (tmp_path / f"out{n}").read_text(),
            (tmp_path / f"err{n}").read_text(),
        )

    rc0, out0, _ = result(0)
    rc1, out1, _ = result(1)
    rc2, out2, err2 = result(2)
    rc3, out3, _ = result(3)
    assert (rc0, rc1, rc2, rc3) == (0, 0, 7, 0), err2
    assert "published" in serving_line(out0)
    assert "not republished: every 2 runs" in serving_line(out1)
    error_lines = [line for line in err2.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and "Traceback" not in err2
    assert f"cannot publish the serving copy {serving}: the disk is full" in error_lines[0]
    assert "the run itself committed" in error_lines[0]
    assert "calls" in out2 and "serving: " not in out2  # the load's summary still printed
    assert "published" in serving_line(out3)
    # The live warehouse has run 2's calls although its publish failed; the copy has them now.
    assert rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite.calls") == [(825,)]
    assert_matches_truth(tmp_path / "published.duckdb", loader.emulator.truth())
    listing = (tmp_path / "listing").read_text().split()
    assert sorted(listing) == [".", "..", serving.name]


def test_unwritable_serving_folder_fails_in_one_line_with_its_own_exit_code(
    loader_factory, tmp_path
) -> None:
    loader = loader_factory(calls=300, seed=45)
    locked = tmp_path / "readonly"
    locked.mkdir()
    serving = locked / "copy.duckdb"
    command = " ".join(
        [
            sys.executable,
            "-m",
            "pipelines.hostedsuite_pipeline",
            "load",
            "--until",
            loader.emulator.now.isoformat(),
            "--serving",
            str(serving),
            *loader.cli_paths(),
        ]
    )
    script = f"""
        mount -t tmpfs -o ro tmpfs {locked}
        cd {ROOT}
        set +e; {command}; echo "rc=$?"
    """
    env = loader.cli_env()
    done = subprocess.run(
        _in_mount_namespace(script),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout.strip().endswith("rc=7"), done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: cannot publish the serving copy {serving}: the file system is read-only; "
        "the run itself committed, the next run publishes again"
    ]
    assert rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite.calls") == [(300,)]


def test_every_publishing_command_prints_its_serving_line_and_empty_path_turns_it_off(
    loader_factory,
) -> None:
    loader = loader_factory(calls=400, seed=46)
    serving = serving_path(loader)
    off = load(loader, env={"SERVING__PATH": ""})
    assert off.returncode == 0, off.stderr
    assert "serving:" not in off.stdout and not serving.exists()

    start = loader.cli_env()["SOURCES__HOSTEDSUITE__START_DATE"][:10]
    end = loader.emulator.now.add(days=1).to_date_string()
    published: list[Any] = []
    for command in (
        ["transform"],
        ["backfill", "--start", start, "--end", end],
        ["verify", "--start", start, "--end", start],
    ):
        done = loader.cli(*command)
        assert done.returncode == 0, (command, done.stderr)
        assert serving_line(done.stdout).startswith(f"serving: {serving}  (published ")
        published.append(rows(serving, "SELECT published_at FROM analytics.load_health")[0][0])
    assert published == sorted(published) and len(set(published)) == 3
    # verify's own columns reach the copy beside the time of publication.
    health = rows(
        serving, "SELECT checked_from, published_at > checked_at FROM analytics.load_health"
    )
    assert str(health[0][0]) == start and health[0][1] is True
    assert os.stat(serving).st_mode & 0o222 == 0, "the copy is read-only on disk"
