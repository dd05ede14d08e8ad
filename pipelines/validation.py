"""Every setting checked once, before a run does anything: each has a kind and a sane range.

The values come from wherever dlt finds them (environment, ``.dlt/*.toml``) or from the command
line, which overrides them; a value of the wrong kind, non-finite, or outside its range stops
the run with one line naming the setting and where it is set (exit code 2). The ranges are
wide (a real account never meets them) but finite: a negative or tiny window would otherwise
split a range into windows without end, a zero page size would page forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from pipelines.config import checked_setting
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.client import ConfigError
from pipelines.hostedsuite.windows import parse_instant
from pipelines.privacy import configured_policy
from transforms import MetricSettings
from transforms.settings import CONFIG_SECTION as TRANSFORMS_SECTION
from transforms.settings import REBUILD_SLICE_CALLS

HOURS_A_YEAR: Final = 8784.0  # a leap year
# More windows than this in one backfill is a mistake (a year of 1-minute windows is 527k).
MAX_WINDOWS: Final = 200_000


@dataclass(frozen=True)
class Range:
    """A number setting: its kind and the closed range it must fall in."""

    kind: type[int] | type[float]
    low: float
    high: float
    # the low bound itself is not allowed (a width, a timeout)
    above_low: bool = False

    def holds(self, value: float) -> bool:
        low_ok = value > self.low if self.above_low else value >= self.low
        return math.isfinite(value) and low_ok and value <= self.high

    def rule(self) -> str:
        low = f"> {self.low:g}" if self.above_low else f">= {self.low:g}"
        return f"must be {low} and <= {self.high:g}"


# The window is at least a minute wide.
WINDOW_HOURS: Final = Range(float, 1 / 60, HOURS_A_YEAR)
WORKERS: Final = Range(int, 1, 64)
# sources.hostedsuite.<key>
SOURCE_RANGES: Final[dict[str, Range]] = {
    "lookback_hours": Range(float, 0, HOURS_A_YEAR),
    "page_size": Range(int, 1, 10_000),
    "window_hours": WINDOW_HOURS,
    "workers": WORKERS,
    "calls_per_load": Range(int, 1, 50_000_000),
    "request_max_attempts": Range(int, 1, 100),
    "request_backoff_factor": Range(float, 0, 600),
    "request_max_retry_delay": Range(float, 0, 3600),
    "request_timeout": Range(float, 0, 3600, above_low=True),
    "window_margin_hours": Range(float, 0, 48),
}
# [transforms] rebuild_slice_calls: calls per slice of a full rebuild (DuckDB file)
SLICE_CALLS: Final = Range(int, 1, 1_000_000_000)
SLICE_CALLS_KEY: Final = f"{TRANSFORMS_SECTION}.{REBUILD_SLICE_CALLS}"
SOURCE_TEXTS: Final = ("base_url", "customer_name", "user_name", "default_timezone")
WAIT_SECONDS: Final = Range(float, 0, 86_400)


def check_configured_settings() -> None:
    """Reads every setting of the source and of the transforms once; raises ``RunError``."""
    for name, allowed in SOURCE_RANGES.items():
        checked_setting(f"sources.hostedsuite.{name}", allowed.kind, allowed.rule(), allowed.holds)
    for name in SOURCE_TEXTS:
        checked_setting(f"sources.hostedsuite.{name}", str, "must not be empty", bool)
    start = checked_setting("sources.hostedsuite.start_date", str, "must not be empty", bool)
    if start is not None:
        check_instant(start, "sources.hostedsuite.start_date")
    configured_policy()  # [privacy]: a treatment per field, and the key a hash needs
    configured_number(SLICE_CALLS_KEY, SLICE_CALLS)
    try:
        MetricSettings.from_dlt_config()
    except (ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise RunError(ExitCode.BAD_CONFIG, f"[transforms] {first}") from None


def check_option(name: str, value: float | None, allowed: Range) -> None:
    """A command-line number: None (not given) passes; anything else must hold ``allowed``."""
    if value is not None and not allowed.holds(value):
        raise RunError(ExitCode.BAD_CONFIG, f"{name} {allowed.rule()}, got {value!r}")


def check_instant(value: str, name: str) -> None:
    try:
        parse_instant(value, name)
    except ConfigError as exc:
        raise RunError(ExitCode.BAD_CONFIG, str(exc)) from None


def check_window_count(hours: float, window_hours: float) -> None:
    """A backfill of ``hours`` in windows of ``window_hours`` makes at most ``MAX_WINDOWS``."""
    windows = math.ceil(hours / window_hours)
    if windows > MAX_WINDOWS:
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"--window-hours {window_hours:g} splits the range into {windows:,} windows "
            f"(at most {MAX_WINDOWS:,}): use wider windows",
        )


def configured_number(key: str, allowed: Range) -> Any:
    """A checked number setting (None when unset)."""
    return checked_setting(key, allowed.kind, allowed.rule(), allowed.holds)
