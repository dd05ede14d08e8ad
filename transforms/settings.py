"""Metric settings: the industry variants the marts depend on, with validated defaults.

The defaults are those of ``call-metrics.md``. They are written to ``analytics.metric_settings``
before any model runs and read back in SQL, so that the models carry no hard-coded thresholds and
analysts can always see which variant produced the numbers they are looking at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Final

# The service-level variants: what the count of calls answered within the threshold is divided by.
SERVICE_LEVEL_FORMULAS: Final[dict[str, str]] = {
    "answered_and_abandoned": "within threshold ÷ (answered + abandoned); short abandons excluded",
    "offered": "within threshold ÷ all incoming calls offered, short abandons included",
    "answered": "within threshold ÷ answered incoming calls",
}

CONFIG_SECTION: Final = "transforms"

# [transforms] rebuild_slice_calls: a full rebuild on a DuckDB file runs in slices of about this
# many calls (transforms/sliced_build.py), so its memory stays that of a slice. Not a field of
# MetricSettings: it changes how the marts are built, not what they hold, so it must not make a
# refresh full (settings equality) nor enter analytics.metric_settings. 250k: a 10M-call
# rebuild then completes under the default 256 MB cap (measured: transforms/README.md); smaller
# slices barely lower its peak, which follows the cap (1M calls under 256 MB: 527 MB in slices
# of 250k, 526 MB in slices of 150k; by hand, 2026-12-06).
REBUILD_SLICE_CALLS: Final = "rebuild_slice_calls"
DEFAULT_REBUILD_SLICE_CALLS: Final = 250_000


@dataclass(frozen=True)
class MetricSettings:
    """The settings in force for one transform run (see ``transforms/README.md``)."""

    service_level_threshold_seconds: float = 20
    short_abandon_threshold_seconds: float = 5
    service_level_formula: str = "answered_and_abandoned"
    repeat_call_window_hours: float = 168
    interval_minutes: int = 15
    # Staffing (fct_staffing_interval): the Erlang C service-level target at the answer
    # threshold above, the share of paid time agents are not available to take calls, and the
    # highest occupancy (load ÷ agents) a staffing plan may ask of them. Defaults: the industry
    # averages of Callcentre Helper's Erlang C worked example (80/20, 30 %, 85 %).
    service_level_target_pct: float = 80
    shrinkage_pct: float = 30
    max_occupancy_pct: float = 85

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raises ``ValueError`` naming every invalid setting, so one fix covers all of them."""
        problems: list[str] = []
        for name in (
            "service_level_threshold_seconds",
            "short_abandon_threshold_seconds",
            "repeat_call_window_hours",
        ):
            value = getattr(self, name)
            # bool is an int subclass: True would silently mean 1 second.
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                problems.append(f"{name} must be a positive number, got {value!r}")
        minutes = self.interval_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
            problems.append(f"interval_minutes must be a positive integer, got {minutes!r}")
        elif 1440 % minutes != 0:
            # Intervals restart at local midnight; a length that does not divide the day would
            # leave a short last interval that staffing reports would compare as if it were full.
            problems.append(f"interval_minutes must divide a day (1440 min), got {minutes}")
        if self.service_level_formula not in SERVICE_LEVEL_FORMULAS:
            known = ", ".join(sorted(SERVICE_LEVEL_FORMULAS))
            problems.append(
                f"service_level_formula must be one of {known}, got {self.service_level_formula!r}"
            )
        problems.extend(self._staffing_problems())
        if problems:
            raise ValueError("invalid transforms settings: " + "; ".join(problems))

    def _staffing_problems(self) -> list[str]:
        # Each bound keeps Erlang C answerable: a 100 % target is never reached (the wait
        # probability is never 0), 100 % shrinkage leaves no agent, 0 % occupancy allows no work.
        ranges: dict[str, tuple[str, Callable[[float], bool]]] = {
            "service_level_target_pct": ("> 0 and < 100", lambda v: 0 < v < 100),
            "shrinkage_pct": (">= 0 and < 100", lambda v: 0 <= v < 100),
            "max_occupancy_pct": ("> 0 and <= 100", lambda v: 0 < v <= 100),
        }
        problems: list[str] = []
        for name, (wanted, accepts) in ranges.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not accepts(float(value))
            ):
                problems.append(f"{name} must be {wanted}, got {value!r}")
        return problems

    @classmethod
    def from_dlt_config(cls) -> MetricSettings:
        """Reads the ``[transforms]`` config section; a missing key keeps its default.

        dlt resolves each key from env vars first (``TRANSFORMS__INTERVAL_MINUTES=30``), then
        ``.dlt/config.toml``; it also coerces the strings env vars carry to the asked type.
        """
        import dlt  # local: the runner itself must not need dlt (bench, tests use raw duckdb)

        values: dict[str, Any] = {}
        for f in fields(cls):
            kind: type = str if f.name == "service_level_formula" else float
            if f.name == "interval_minutes":
                kind = int
            value: Any = dlt.config.get(f"{CONFIG_SECTION}.{f.name}", kind)
            if value is not None:
                values[f.name] = value
        return cls(**values)

    def as_rows(self) -> list[tuple[str, str, str, str]]:
        """(setting_name, setting_value, unit, description) rows for ``metric_settings``."""
        formula = SERVICE_LEVEL_FORMULAS[self.service_level_formula]
        return [
            (
                "service_level_threshold_seconds",
                _number(self.service_level_threshold_seconds),
                "seconds",
                "answered incoming calls with ring time <= this are within service level",
            ),
            (
                "short_abandon_threshold_seconds",
                _number(self.short_abandon_threshold_seconds),
                "seconds",
                "unanswered incoming calls with ring time < this are short abandons",
            ),
            ("service_level_formula", self.service_level_formula, "", formula),
            (
                "repeat_call_window_hours",
                _number(self.repeat_call_window_hours),
                "hours",
                "a call from the same caller number to the same client within this marks a repeat",
            ),
            (
                "interval_minutes",
                str(self.interval_minutes),
                "minutes",
                "length of the local-time intervals of fct_call_metrics_interval",
            ),
            (
                "service_level_target_pct",
                _number(self.service_level_target_pct),
                "percent",
                "staffing: Erlang C service level at the threshold the required agents must reach",
            ),
            (
                "shrinkage_pct",
                _number(self.shrinkage_pct),
                "percent",
                "staffing: share of paid agent time not available for calls (breaks, training)",
            ),
            (
                "max_occupancy_pct",
                _number(self.max_occupancy_pct),
                "percent",
                "staffing: highest offered load per required agent a staffing plan may ask",
            ),
        ]


def _number(value: float) -> str:
    # 20.0 -> "20", 2.5 -> "2.5": what the analyst typed, not a float repr.
    return str(int(value)) if float(value).is_integer() else repr(float(value))
