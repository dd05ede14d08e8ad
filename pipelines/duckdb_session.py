"""The settings of every DuckDB connection a run opens on a warehouse file or its copies.

One memory cap (``[destination.duckdb] memory_limit``) for every step: dlt's connections for
the load and the transforms (publishing writes through the latter), and the connections of our
own that rewrite the file after an erasure and read it for the report. A module of its own,
apart from the DuckDB destination, so that the modules the destination imports can use it too.
"""

from __future__ import annotations

from typing import Any, Final

import dlt

# 512 MB: a full rebuild of 10M calls (in slices) then peaks under 1 GB of process memory
# (README, Benchmark); the cap leaves 250-300 MB for Python, dlt and DuckDB's own bookkeeping.
# Under 256 MB a rebuild of 10M calls ran out of memory after 248 s (its uniqueness checks group
# millions of string keys, which DuckDB 1.4 cannot spill), and one of 1M calls still peaked at
# 530-550 MB (by hand, 2026-12-06): not the default.
DEFAULT_DUCKDB_MEMORY_LIMIT: Final = "512MB"
MEMORY_LIMIT_KEY: Final = "destination.duckdb.memory_limit"


def session_config(warehouse: str) -> dict[str, Any]:
    """DuckDB settings of a connection a run opens: the memory cap (``memory_limit``, default
    512MB; "" for DuckDB's 80 % of RAM), and a step that would exceed it spills to
    ``<warehouse>.tmp`` beside the warehouse file instead of growing the process."""
    limit = dlt.config.get(MEMORY_LIMIT_KEY, str)
    limit = DEFAULT_DUCKDB_MEMORY_LIMIT if limit is None else limit
    config: dict[str, Any] = {"temp_directory": f"{warehouse}.tmp"}
    if limit:
        config["memory_limit"] = limit
    return config
