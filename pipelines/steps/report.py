"""The report steps: the HTML report of a DuckDB file, on demand or after a successful run.

The report reads the analysts' serving copy (read-only), never the live warehouse, so neither
step needs the run lock; after a run, ``[report] after_load = true`` writes it from the copy
just published (from the warehouse itself when publishing is off).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

from pipelines.config import checked_setting, configured_text
from pipelines.duckdb_session import session_config
from pipelines.errors import ExitCode, RunError
from pipelines.plan import RunContext, StepResult
from pipelines.report import DEFAULT_TARGET_PCT, ReportError, ReportResult
from pipelines.report_registry import remember_report

# The report's builder (its queries, charts and HTML), imported by name when a report is written
# (issue #22): a scheduled load without [report] after_load has no use for it.
REPORT_BUILDER: Final = "pipelines.report.build"

# The [report] settings this module reads (and the only ones: see pipelines/known_settings.py).
REPORT_PATH: Final = "report.path"
REPORT_AFTER_LOAD: Final = "report.after_load"
REPORT_TARGET_PCT: Final = "report.service_level_target_pct"
REPORT_SETTINGS: Final = (REPORT_PATH, REPORT_AFTER_LOAD, REPORT_TARGET_PCT)


@dataclass(frozen=True)
class ReportStepResult(StepResult):
    report: ReportResult | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteReport:
    """``hostedsuite report``: ``db`` over local dates ``start``..``end`` (default: the last 30
    days of the data) to ``out`` (default: ``report_path(db)``)."""

    db: Path
    out: Path | None = None
    start: date | None = None
    end: date | None = None
    notes: tuple[str, ...] = ()
    target_pct: float = DEFAULT_TARGET_PCT
    name: str = "report"

    def run(self, context: RunContext) -> ReportStepResult:
        out = self.out or report_path(self.db)
        report = write_report(self.db, out, self.start, self.end, self.target_pct)
        return ReportStepResult(self.name, report, self.notes)


@dataclass(frozen=True)
class ReportAfterLoad:
    """The report after a successful run (the plan has it when ``[report] after_load``)."""

    target_pct: float = DEFAULT_TARGET_PCT
    name: str = "report"

    def run(self, context: RunContext) -> ReportStepResult:
        destination, _ = context.writer()
        db = destination.report_database()
        if db is None:
            raise RunError(
                ExitCode.BAD_CONFIG,
                f"report: the report reads a DuckDB file; a {destination.name} warehouse has "
                "none ([report] after_load); the run itself committed",
            )
        try:
            report = write_report(db, report_path(db), None, None, self.target_pct)
            return ReportStepResult(self.name, report)
        except RunError as exc:
            raise RunError(exc.code, f"{exc}; the run itself committed") from None


def report_path(db: Path) -> Path:
    """``[report] path`` (env ``REPORT__PATH``); default ``report.html`` beside the database,
    or in ``var/`` when the database lies in the project folder itself (a run works there, see
    ``pipelines/project.py``): the project folder holds the tracked files, not output."""
    configured = configured_text(REPORT_PATH)
    if configured:
        return Path(configured).absolute()
    folder = db.absolute().parent
    return (folder / "var" if folder == Path.cwd() else folder) / "report.html"


def report_target_pct() -> float:
    """``[report] service_level_target_pct``: a percentage in (0, 100]."""
    target = checked_setting(
        REPORT_TARGET_PCT, float, "must be in (0, 100]", lambda v: 0 < v <= 100
    )
    return DEFAULT_TARGET_PCT if target is None else target


def after_load_steps() -> tuple[ReportAfterLoad, ...]:
    """The report step of a load or backfill plan: there when ``[report] after_load`` is true
    (read, like the target, when the plan is made)."""
    if not checked_setting(REPORT_AFTER_LOAD, bool):
        return ()
    return (ReportAfterLoad(report_target_pct()),)


def write_report(
    db: Path, out: Path, start: date | None, end: date | None, target_pct: float
) -> ReportResult:
    """``build.build_report``, its errors as ``RunError``."""
    try:
        build_report = importlib.import_module(REPORT_BUILDER).build_report
        # the run's one memory cap, as on every connection a run opens (duckdb_session)
        written: ReportResult = build_report(
            db, out, start, end, target_pct, session_config(str(db))
        )
        remember_report(db, out)
        return written
    except ReportError as exc:
        raise RunError(ExitCode.BAD_CONFIG, f"report: {exc}") from None
    except OSError as exc:
        raise RunError(ExitCode.FAILED, f"report: cannot write {out}: {exc.strerror}") from None
