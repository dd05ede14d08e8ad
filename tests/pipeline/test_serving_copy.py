"""The analysts' serving copy: loads and analyst sessions never block each other.

Real processes throughout: the CLI in subprocesses against the emulator, analysts as separate
Python processes holding DuckDB connections (``analyst_driver.py``), reporting each query they
ran; the tests wait for those reports, never for a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli import ROOT, assert_fails, cli_command
from tests.process_events import DEADLINE_SECONDS, HeldRun, Helper, answered, reports

from .emulator_changes import late_edits
from .loader import Loader
from .warehouse import assert_matches_truth, rows


def serving_path(loader: Loader) -> Path:
    return loader.duckdb_path.with_name("warehouse.serving.duckdb")


def temp_copy(loader: Loader) -> Path:
    return loader.duckdb_path.with_name(".warehouse.serving.duckdb.publishing")


def analyst(mode: str, path: Path, folder: Path) -> Helper:
    """An analyst process (see analyst_driver.py) on ``path``."""
    stop = folder / f"{mode}.stop"
    return Helper("tests.pipeline.analyst_driver", [mode, str(path), str(stop)], stop)


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
    held = analyst("held", serving, tmp_path)
    fresh = analyst("fresh", serving, tmp_path)
    try:
        # both analysts are connected and querying before the first load
        held.wait_for("a held query", answered)
        fresh.wait_for("a round on the first copy", reports("calls", 1500))
        for calls in (1540, 1580, 1620):
            late_edits(loader, 12)
            until = loader.emulator.now.isoformat()
            run = HeldRun(
                "publish",
                ["load", "--until", until, "--db-wait", "0", *loader.cli_paths()],
                loader.cli_env(),
                tmp_path / f"publish-{calls}",
            )
            run.wait_held()
            # the run has loaded and is about to publish: both analysts query on
            for reader in (held, fresh):
                reader.wait_for("a query while a run publishes", answered, after=reader.seen())
            done = run.release()
            assert done.returncode == 0, done.stderr
            assert "waiting" not in done.stderr, done.stderr
            # a new connection sees the new copy; the held session goes on with its own
            fresh.wait_for(f"a round on the copy of {calls} calls", reports("calls", calls))
            held.wait_for("a held query after the publish", answered, after=held.seen())
    finally:
        held_events = held.stop()
        fresh_events = fresh.stop()

    assert [e for e in held_events if not answered(e)] == []
    # The held session keeps working on the copy it opened: one count for its whole life.
    assert {e["held_calls"] for e in held_events} == {1500}
    assert [e for e in fresh_events if not answered(e)] == []
    assert [r for r in fresh_events if r["violations"]] == []
    assert all(r["staged"] == r["calls"] for r in fresh_events)  # staging views work in the copy
    # New connections saw every load: the first copy and each of the three that followed,
    # never going back to an older one.
    counts = [r["calls"] for r in fresh_events]
    assert counts == sorted(counts) and sorted(set(counts)) == [1500, 1540, 1580, 1620]
    assert len({r["published_at"] for r in fresh_events}) == 4
    assert_matches_truth(serving, loader.emulator.truth())


def test_a_careless_read_write_session_blocks_nothing_and_leaks_nothing(
    loader_factory, tmp_path
) -> None:
    loader = loader_factory(calls=600, seed=42)
    assert load(loader).returncode == 0
    serving = serving_path(loader)
    careless = analyst("careless", serving, tmp_path)
    careless.wait_for("the careless session's writes", reports("opened", True))
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
        assert careless.stop() == [{"opened": True}, {"closed": True}]
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
    # the serving path, and its folder of generations: the killed copy's file is gone
    assert sorted(p.name for p in serving.parent.iterdir() if "serving" in p.name) == [
        f".{serving.name}.generations",
        serving.name,
    ]


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
    load_cmd = " ".join(cli_command("load", *loader.cli_paths()))
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
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (tmp_path / "rc1").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    loader.emulator.advance(minutes=30, new_calls=25)
    late.touch()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err

    def result(n: int) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            f"run {n}",
            int((tmp_path / f"rc{n}").read_text()),
            (tmp_path / f"out{n}").read_text(),
            (tmp_path / f"err{n}").read_text(),
        )

    runs = [result(n) for n in range(4)]
    assert [run.returncode for run in runs] == [0, 0, 7, 0], runs[2].stderr
    assert "published" in serving_line(runs[0].stdout)
    assert "not republished: every 2 runs" in serving_line(runs[1].stdout)
    error = assert_fails(runs[2], 7, f"cannot publish the serving copy {serving}: the disk is full")
    assert "the run itself committed" in error
    # the load's summary still printed
    assert "calls" in runs[2].stdout and "serving: " not in runs[2].stdout
    assert "published" in serving_line(runs[3].stdout)
    # The live warehouse has run 2's calls although its publish failed; the copy has them now.
    assert rows(loader.duckdb_path, "SELECT count(*) FROM hostedsuite.calls") == [(825,)]
    assert_matches_truth(tmp_path / "published.duckdb", loader.emulator.truth())
    listing = (tmp_path / "listing").read_text().split()
    assert sorted(listing) == [".", "..", f".{serving.name}.generations", serving.name]


def test_unwritable_serving_folder_fails_in_one_line_with_its_own_exit_code(
    loader_factory, tmp_path
) -> None:
    loader = loader_factory(calls=300, seed=45)
    locked = tmp_path / "readonly"
    locked.mkdir()
    serving = locked / "copy.duckdb"
    until = loader.emulator.now.isoformat()
    command = " ".join(
        cli_command("load", "--until", until, "--serving", str(serving), *loader.cli_paths())
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
    load_run = subprocess.CompletedProcess(done.args, 7, done.stdout, done.stderr)
    assert assert_fails(load_run, 7) == (
        f"error: cannot publish the serving copy {serving}: the file system is read-only; "
        "the run itself committed, the next run publishes again"
    )
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
