"""What a transform run built and found (``TransformResult``), the error a failed grain check
raises, and the CLI's summary lines: shared by the runner and the refresh state it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

from .checks import CheckOutcome
from .project import ANALYTICS_SCHEMA
from .settings import MetricSettings


@dataclass
class TransformResult:
    """What a run built and found; the CLI prints ``format_summary`` of it."""

    row_counts: dict[str, int] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    settings: MetricSettings = field(default_factory=MetricSettings)
    # "full" or "incremental", and why a full rebuild was needed
    refresh: str = "full"
    reason: str = ""
    # incremental refreshes: calls replaced, calls only read (repeat window), center-days replaced
    calls_rebuilt: int = 0
    calls_read_only: int = 0
    days_rebuilt: int = 0
    # an incremental refresh run again with the old rows searched by call id: a changed call's
    # start time had moved out of the range they are searched in first (runner.py)
    searched_by_id: bool = False
    # full rebuilds in slices (sliced_build.py): slices of calls and of center-days; 1: in one go
    call_slices: int = 1
    day_slices: int = 1

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.failing_rows > 0]

    @property
    def errors(self) -> list[CheckOutcome]:
        return [c for c in self.failed_checks if c.severity == "error"]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [c for c in self.failed_checks if c.severity == "warn"]


class RawTablesMissing(RuntimeError):
    """The raw tables are not there yet: nothing has been loaded (or no call so far)."""

    def __init__(self, raw_schema: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"raw tables missing from schema {raw_schema!r}: {', '.join(missing)}; "
            "load the pipeline first"
        )


class TransformCheckError(Exception):
    """A grain check failed: the marts were written but must not be trusted."""

    def __init__(self, result: TransformResult) -> None:
        self.result = result
        listed = ", ".join(f"{c.check_name} ({c.failing_rows} rows)" for c in result.errors)
        super().__init__(
            f"data-quality errors in the analytics schema: {listed}; "
            f"see {ANALYTICS_SCHEMA}.dq_findings"
        )


def format_summary(result: TransformResult) -> list[str]:
    """Lines for the CLI: row counts, failing checks, elapsed time."""
    lines = [
        f"transforms: {len(result.row_counts)} analytics tables in {result.elapsed_seconds:.2f}s"
    ]
    if result.refresh == "incremental":
        lines.append(
            f"  incremental: {result.calls_rebuilt:,} calls and {result.days_rebuilt:,} "
            f"center-days rebuilt ({result.calls_read_only:,} calls read for repeat calls)"
        )
        if result.searched_by_id:
            lines.append("  a changed call's start time moved: the marts were searched by call id")
    else:
        sliced = (
            f" (in {result.call_slices} slices of calls, {result.day_slices} of center-days)"
            if result.call_slices > 1
            else ""
        )
        lines.append(f"  full rebuild: {result.reason}{sliced}")
    lines += [f"  {table}: {count:,} rows" for table, count in result.row_counts.items()]
    for check in result.failed_checks:
        lines.append(
            f"  {check.severity.upper()}: {check.check_name} on {check.table_name}: "
            f"{check.failing_rows:,} rows (see {ANALYTICS_SCHEMA}.dq_findings)"
        )
    if not result.failed_checks:
        lines.append(f"  data-quality checks: all {len(result.checks)} passed")
    return lines
