"""``hostedsuite demo``: the bundled emulator loaded into a fresh DuckDB file, end to end.

The emulator is the plan's source of settings: it serves while the steps run, and its account
is the source's configuration (``Emulator.source_config``).
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pendulum

from hostedsuite_emulator import Emulator
from pipelines.destinations.duckdb import DEFAULT_DUCKDB_FILE
from pipelines.plan import LinesResult, Plan, RunContext, WarehouseAccess
from pipelines.serving import default_serving_path
from pipelines.steps.load import LoadIncremental
from pipelines.steps.publish import Publish
from pipelines.steps.report import ReportStepResult, WriteReport, report_target_pct
from pipelines.steps.transform import Transform
from pipelines.validation import Range, check_option

logger = logging.getLogger("hostedsuite")

NAME = "demo"
DEMO_CALLS = Range(int, 1, 5_000_000)
DEMO_DATA_START = "2024-03-01"  # 45 days across the US, EU and Sydney DST changes
DEMO_WORKDIR = "var/demo"


@dataclass(frozen=True)
class DemoOptions:
    calls: int
    seed: int
    workdir: Path
    access: WarehouseAccess

    @property
    def warehouse(self) -> Path:
        return self.workdir / DEFAULT_DUCKDB_FILE

    @property
    def serving_copy(self) -> Path:
        return default_serving_path(self.warehouse)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=20_000, help="calls the emulator serves")
    parser.add_argument("--seed", type=int, default=1, help="emulator data seed")
    parser.add_argument(
        "--workdir", help=f"where the demo warehouse goes (default: {DEMO_WORKDIR} in the project)"
    )


def options(args: argparse.Namespace) -> DemoOptions:
    check_option("--calls", args.calls, DEMO_CALLS)
    # absolute: the demo's closing lines name its files, to be opened from anywhere
    workdir = Path(args.workdir or DEMO_WORKDIR).absolute()
    warehouse = workdir / DEFAULT_DUCKDB_FILE
    # The demo's copy always goes beside its own warehouse, whatever [serving] path says.
    access = WarehouseAccess(
        duckdb=str(warehouse),
        pipelines_dir=str(workdir / "pipelines"),
        lock_wait=args.lock_wait,
        db_wait=args.db_wait,
        serving=str(default_serving_path(warehouse)),
    )
    return DemoOptions(args.calls, args.seed, workdir, access)


def plan(opts: DemoOptions) -> Plan:
    return Plan(
        NAME,
        (
            LoadIncremental(),
            Transform(),
            MetricsOverview(),
            Publish(),
            WriteReport(
                opts.serving_copy, opts.workdir / "report.html", target_pct=report_target_pct()
            ),
            DemoHints(opts.serving_copy),
        ),
        access=opts.access,
        source=lambda: emulator_source(opts),
    )


@contextmanager
def emulator_source(opts: DemoOptions) -> Iterator[dict[str, Any]]:
    """A fresh work folder and the emulator serving while the plan runs."""
    opts.workdir.mkdir(parents=True, exist_ok=True)
    for stale in (opts.warehouse, opts.warehouse.with_name(f"{opts.warehouse.name}.wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(opts.workdir / "pipelines", ignore_errors=True)
    logger.info("starting the HostedSuite emulator with %d calls (seed %d)", opts.calls, opts.seed)
    with Emulator(calls=opts.calls, seed=opts.seed, start=DEMO_DATA_START) as emulator:
        logger.info("emulator at %s; loading into %s", emulator.url, opts.warehouse)
        yield {
            **emulator.source_config(),
            "start_date": DEMO_DATA_START,
            "until": pendulum.instance(emulator.now).to_iso8601_string(),
        }


METRICS_OVERVIEW_SQL = """
    select
        centers.center_name,
        count(*) filter (where calls.direction = 'Incoming') as incoming_calls,
        100.0 * count_if(calls.is_within_service_level)
            / nullif(count_if(calls.is_answered or calls.is_abandoned)
                     filter (where calls.direction = 'Incoming'), 0) as service_level_pct,
        avg(calls.speed_of_answer_seconds) as asa_seconds,
        avg(calls.handle_time_seconds) filter (where calls.is_answered) as aht_seconds
    from analytics.fct_calls as calls
    join analytics.dim_centers as centers using (center_id)
    group by centers.center_name
    order by centers.center_name
"""


@dataclass(frozen=True)
class MetricsOverview:
    """Service level, ASA and AHT per center over the loaded period (incoming calls)."""

    name: str = "overview"

    def run(self, context: RunContext) -> LinesResult:
        _, pipeline = context.writer()
        return LinesResult(self.name, tuple(metrics_overview(pipeline)))


def metrics_overview(pipeline: dlt.Pipeline) -> list[str]:
    with pipeline.sql_client() as sql:
        rows = sql.execute_sql(METRICS_OVERVIEW_SQL) or []
    lines = [f"{'center':<28} {'incoming':>9} {'SL %':>6} {'ASA s':>7} {'AHT s':>7}"]
    for name, incoming, service_level, asa, aht in rows:
        figures = f"{_num(service_level):>6} {_num(asa):>7} {_num(aht):>7}"
        lines.append(f"{name or '-':<28} {incoming:>9,} {figures}")
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@dataclass(frozen=True)
class DemoHints:
    """The commands to look at the demo's files."""

    serving_copy: Path
    name: str = "hints"

    def run(self, context: RunContext) -> LinesResult:
        step = context.result(ReportStepResult)
        report = step.report if step is not None else None
        dates = (report.start, report.end) if report is not None else (None, None)
        return LinesResult(
            self.name,
            (
                f"query the serving copy: make sql DB={self.serving_copy}",
                f"report other dates: make report DB={self.serving_copy} "
                f"START={dates[0]} END={dates[1]}",
            ),
        )
