"""Analyst SQL transform layer: raw HostedSuite tables -> ``staging`` -> ``intermediate`` ->
``analytics`` marts, plus data-quality checks. See ``transforms/README.md`` for the data
dictionary and ``runner.py`` for why this is a small ordered runner rather than dbt.
"""

from .checks import CheckOutcome
from .project import DbApiExecutor, DuckDBExecutor, SqlExecutor
from .result import RawTablesMissing, TransformCheckError, TransformResult, format_summary
from .runner import run_transforms
from .settings import MetricSettings

__all__ = [
    "CheckOutcome",
    "DbApiExecutor",
    "DuckDBExecutor",
    "MetricSettings",
    "RawTablesMissing",
    "SqlExecutor",
    "TransformCheckError",
    "TransformResult",
    "format_summary",
    "run_transforms",
]
