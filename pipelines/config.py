"""The pipeline's names and the settings it reads from dlt's configuration, in one place.

dlt resolves every value: environment variables first, then ``.dlt/secrets.toml`` and
``.dlt/config.toml``, then ``CODE_DEFAULTS`` below as the lowest-priority provider, so that a run
from a folder without ``.dlt`` (cron, another working directory) does not silently fall back to
dlt's own defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final, TypeVar

import dlt
from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.providers import CustomLoaderDocProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.settings import DEFAULT_LOOKBACK_HOURS, DEFAULT_WORKERS

T = TypeVar("T", int, float, str, bool)

PIPELINE_NAME: Final = "hostedsuite"
DATASET_NAME: Final = "hostedsuite"
DEFAULT_PIPELINES_DIR: Final = "var/pipelines"
CODE_DEFAULTS_PROVIDER: Final = "hostedsuite code defaults"
# dlt settings the pipeline relies on.
CODE_DEFAULTS: Final[dict[str, Any]] = {
    # DuckDB has one writer: parallel load jobs only add memory (100k calls: 440 -> 330 MB).
    "load": {"workers": 1},
    "normalize": {
        # Arrow items normalize quickly; worker processes only add start-up time and memory.
        "workers": 1,
        # stamps every raw row with its load's id: the incremental transforms read what changed
        # from it (see transforms/README.md); without it every transform is a full rebuild
        "parquet_normalizer": {"add_dlt_load_id": True},
        # no gzip of the load files: PostgreSQL's CSV files (100k calls: 19 MB) took 8 s to
        # compress, most of its load; parquet (DuckDB, DuckLake) is compressed by its own codec
        "data_writer": {"disable_compression": True},
    },
    # No UNIQUE constraint on _dlt_id in the staging tables: a load job re-run after a crash
    # (its rows committed, its completion not recorded) inserts its rows again, and the merge
    # de-duplicates them by primary key; a constraint would fail that re-run instead. DuckDB
    # creates none either.
    "destination": {"postgres": {"create_indexes": False}},
}


def use_code_defaults() -> None:
    """Registers ``CODE_DEFAULTS`` behind every other config provider (idempotent)."""
    providers = Container()[PluggableRunContext].providers
    if CODE_DEFAULTS_PROVIDER not in providers:
        providers.add_provider(
            CustomLoaderDocProvider(
                CODE_DEFAULTS_PROVIDER, lambda: CODE_DEFAULTS, supports_secrets=False
            )
        )


def configured_workers(workers: int | None = None) -> int:
    """``workers`` if given, else ``sources.hostedsuite.workers``, else the default."""
    return workers or dlt.config.get("sources.hostedsuite.workers", int) or DEFAULT_WORKERS


def configured_lookback_hours() -> float:
    """``sources.hostedsuite.lookback_hours``, else the default."""
    lookback = dlt.config.get("sources.hostedsuite.lookback_hours", float)
    return DEFAULT_LOOKBACK_HOURS if lookback is None else float(lookback)


def configured_text(key: str) -> str | None:
    """A text setting by its full key (``serving.path``, ``report.path``), None when unset.

    Read with ``dlt.config.get`` on the full key: a ``path`` argument injected by
    ``with_config`` would fall back to the ``PATH`` environment variable when unset.
    """
    value = dlt.config.get(key, str)
    return None if value is None else str(value)


def where(key: str) -> str:
    """Where a setting is written: its TOML section and key, and its environment variable."""
    section, _, name = key.rpartition(".")
    env = key.replace(".", "__").upper()
    return f"[{section}] {name} in .dlt/config.toml, or env {env}" if section else f"env {env}"


def checked_setting(
    key: str, kind: type[T], rule: str = "", valid: Callable[[T], bool] | None = None
) -> T | None:
    """The setting ``key`` as ``kind`` (None when unset), or one line naming the key, where it
    is set and the rule it breaks (exit code 2)."""
    try:
        value = dlt.config.get(key, kind)
    except ConfigValueCannotBeCoercedException as exc:
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"{key} must be {_kind_name(kind)}, got {exc.field_value!r} ({where(key)})",
        ) from None
    if value is None:
        return None
    if kind is float and not math.isfinite(float(value)):
        raise RunError(ExitCode.BAD_CONFIG, f"{key} must be a finite number ({where(key)})")
    if valid is not None and not valid(value):
        raise RunError(ExitCode.BAD_CONFIG, f"{key} {rule}, got {value!r} ({where(key)})")
    return value


def _kind_name(kind: type[Any]) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "text")
