"""What every benchmark section measures with: rows, child processes, their peak RSS, the table.

The emulator runs in the bench's process (or in a process of its own, :class:`StandaloneEmulator`);
every measured program runs in its own child process (``bench.children``) with its own fresh
DuckDB file, so its peak RSS is its own (the child's VmHWM). Each row is the median of
``--runs`` runs. Ratios compare rows of this same session, since absolute times on shared
machines are noisy. Results: a table on stdout and JSON in bench/results/.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pendulum
import requests

from hostedsuite_emulator import account_source_config, source_config_env

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA_START = "2024-03-01"  # every emulator here is built with this start (its default)


class EmulatorLike(Protocol):
    """What the measurements need of an emulator, in this process or in its own."""

    @property
    def url(self) -> str: ...

    @property
    def now(self) -> pendulum.DateTime: ...

    def source_config(self) -> dict[str, str]: ...

    def config_env(self) -> dict[str, str]: ...


@dataclass
class Row:
    """One line of the table: the median of several runs of one measured program."""

    name: str
    calls: int
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    note: str = ""
    # Size of the file a row wrote (the serving copy), MB.
    copy_mb: list[float] = field(default_factory=list)
    # Bytes the measured process wrote (its I/O accounting, bench/cron.py), MB.
    written_mb: list[float] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        """The median of the runs; NaN for a row that is not a time (a size, a share)."""
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def per_call(self) -> float:
        return self.median_seconds / max(self.calls, 1)


@dataclass(frozen=True)
class Ratio:
    """A ratio shown on a row: ``numerator`` ÷ ``denominator`` (row keys of this session), of
    seconds per call or of median seconds."""

    label: str
    numerator: str
    denominator: str
    per_call: bool = False
    # The most the ratio may be (a goal, shown beside it: met or missed).
    target: float | None = None


Ratios = dict[str, Ratio]  # the key of the row each is shown on -> the ratio


def run_child(
    kind: str, emulator: EmulatorLike, options: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    """Runs one measured program in a fresh folder; returns its JSON result and peak RSS (MB)."""
    workdir = Path(tempfile.mkdtemp(prefix="hs-bench-"))
    try:
        options = {**options, "pipelines_dir": str(workdir / "pipelines")}
        path = options.pop("duckdb", None) or str(workdir / "bench.duckdb")
        command = [
            sys.executable,
            "-m",
            "bench.children",
            kind,
            emulator.url,
            path,
            json.dumps(options),
        ]
        process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if process.returncode != 0:
            raise RuntimeError(f"{kind} failed: {process.stderr.strip().splitlines()[-1:]}")
        result = json.loads(process.stdout.strip().splitlines()[-1])
        return result, float(result["peak_mb"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def source_options(emulator: EmulatorLike, **overrides: Any) -> dict[str, Any]:
    """A measured program's options: the pipeline source's settings for ``emulator`` (all of
    its data, in pages of 1,000, 4 workers) and the wide request window of the references."""
    source = {
        **emulator.source_config(),
        "start_date": DATA_START,
        "until": pendulum.instance(emulator.now).to_iso8601_string(),
        "page_size": 1000,
        "window_hours": 168,
        "workers": 4,
        **overrides,
    }
    return {
        "source": source,
        "start_date": "2024-01-01T00:00:00",
        "end_date": "2030-01-01T00:00:00",
    }


def measure(row: Row, kind: str, emulator: EmulatorLike, runs: int, **options: Any) -> Row:
    for n in range(runs):
        result, rss = run_child(kind, emulator, options)
        if result["calls"] != row.calls:
            raise RuntimeError(f"{row.name}: loaded {result['calls']} calls, expected {row.calls}")
        row.seconds.append(result["seconds"])
        row.rss_mb.append(rss)
        if result.get("batches", 1) > 1:
            row.note = f"({result['batches']} load batches)"
        if "copy_mb" in result:
            row.copy_mb.append(result["copy_mb"])
            row.note = f"(+{result['copy_mb']:,.0f} MB on disk)"

        print(
            f"  {row.name} run {n + 1}/{runs}: {result['seconds']:.2f} s, {rss:.0f} MB",
            file=sys.stderr,
        )
    return row


def cli_env(emulator: EmulatorLike, start_date: str) -> dict[str, str]:
    """The emulator's account for ``hostedsuite`` child processes, as a scheduler sets it."""
    return {
        **os.environ,
        **emulator.config_env(),
        "SOURCES__HOSTEDSUITE__START_DATE": start_date,
    }


class StandaloneEmulator:
    """The emulator in a process of its own (``hostedsuite-emulator``), driven over its control
    routes. For the scheduled-run rows: an in-process emulator holding a year of calls makes
    this process's garbage collector and GIL part of every measured request."""

    def __init__(self, calls: int, seed: int, start: str, days: int) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        first = pendulum.Date.fromisoformat(start)
        self.now = pendulum.datetime(first.year, first.month, first.day).add(days=days)
        self.credentials = {
            "customer_name": "democorp",
            "user_name": "etl",
            "password": "emu-secret-pw",
        }
        command = [sys.executable, "-m", "hostedsuite_emulator.cli", "--port", str(self.port)]
        command += ["--calls", str(calls), "--seed", str(seed), "--start", start]
        command += ["--days", str(days), "--customer", self.credentials["customer_name"]]
        command += ["--user", self.credentials["user_name"]]
        command += ["--password", self.credentials["password"]]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def __enter__(self) -> StandaloneEmulator:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                body = {**self._auth(), "ItemsPerPage": 1}
                requests.post(self.url + "/api/calls", json=body, timeout=5).raise_for_status()
                return self
            except requests.RequestException:
                if self.process.poll() is not None:
                    raise RuntimeError("the emulator process exited") from None
                time.sleep(0.5)
        raise RuntimeError("the emulator did not start in time")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def source_config(self) -> dict[str, str]:
        return account_source_config(self.url, self.credentials)

    def config_env(self) -> dict[str, str]:
        return source_config_env(self.source_config())

    def _auth(self) -> dict[str, str]:
        return {
            "CustomerName": self.credentials["customer_name"],
            "UserName": self.credentials["user_name"],
            "Password": self.credentials["password"],
        }

    def advance(self, minutes: float, new_calls: int) -> None:
        answer = requests.post(
            self.url + "/_emulator/advance",
            json={"minutes": minutes, "new_calls": new_calls},
            timeout=60,
        )
        answer.raise_for_status()
        now = pendulum.parse(answer.json()["now"])
        assert isinstance(now, pendulum.DateTime)
        self.now = now


def write_results(rows: dict[str, Row], runs: int, total: float, ratios: Ratios) -> None:
    """The table on stdout and the JSON file in bench/results/."""
    values: dict[str, tuple[str, float]] = {}
    targets: dict[str, str] = {}
    for key, ratio in ratios.items():
        if ratio.numerator in rows and ratio.denominator in rows:
            top, bottom = rows[ratio.numerator], rows[ratio.denominator]
            value = (
                top.per_call / bottom.per_call
                if ratio.per_call
                else top.median_seconds / bottom.median_seconds
            )
            values[key] = (ratio.label, value)
            if ratio.target is not None:
                met = "met" if value <= ratio.target else "MISSED"
                targets[key] = f"(target <= {ratio.target:g}: {met})"
    header = f"{'row':<58} {'calls':>9} {'median s':>9} {'calls/s':>9} {'peak MB':>8}  ratio"
    lines = [header, "-" * len(header)]
    for key, row in rows.items():
        timed = bool(row.seconds)
        rate = f"{row.calls / row.median_seconds:,.0f}" if row.calls and timed else "-"
        median = f"{row.median_seconds:>9.2f}" if timed else f"{'-':>9}"
        shown = f"{values[key][0]} = {values[key][1]:.2f}" if key in values else ""
        shown = " ".join(part for part in (shown, targets.get(key, ""), row.note) if part)
        peak = f"{max(row.rss_mb):.0f}" if row.rss_mb else "-"
        lines.append(f"{row.name:<58} {row.calls:>9,} {median} {rate:>9} {peak:>8}  {shown}")
    if "ours20" in values and "ref2" in values:
        lines.append(
            f"ours is {1 / values['ours20'][1]:.1f}x faster than reference 2 per call at 20k "
            f"calls each, {1 / values['ref2'][1]:.1f}x at ours' 100k"
        )
    machine = f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines.append(
        f"{pendulum.now('UTC').to_datetime_string()} UTC on {machine}; "
        f"{runs} runs per row; bench took {total:.0f} s"
    )
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{pendulum.now('UTC').format('YYYYMMDD-HHmmss')}.json"
    out.write_text(
        json.dumps(
            {
                "rows": {
                    k: asdict(r) | {"median_seconds": r.median_seconds if r.seconds else None}
                    for k, r in rows.items()
                },
                "ratios": {k: v[1] for k, v in values.items()},
                "targets": {k: r.target for k, r in ratios.items() if r.target is not None},
                "machine": machine,
            },
            indent=2,
        )
    )
    print(f"written to {out.relative_to(ROOT)}")
