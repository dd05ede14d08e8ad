"""The settings of every DuckDB connection a run opens on a warehouse file or its copies.

One memory cap (``[destination.duckdb] memory_limit``) for every step: dlt's connections for
the load and the transforms (publishing writes through the latter), and the connections of our
own that rewrite the file after an erasure and read it for the report. A module of its own,
apart from the DuckDB destination, so that the modules the destination imports can use it too.
"""

from __future__ import annotations

from typing import Any, Final

import dlt

# 256 MB: a full rebuild of 1M calls then peaks at about 480-500 MB of process memory, one of 10M
# calls (in slices) at about 550 MB, and scheduled runs write what they wrote under 512 MB
# (README, Benchmark). The process holds about 95 MB of Python and dlt (a load, with PyArrow,
# about 165 MB), and DuckDB 100-150 MB of its own beyond the cap. Below about 224 MB scheduled
# runs spill (at 100k calls, 40 MB written a run under 200 MB, 73 MB under 160 MB, 22 MB under
# 224 MB and more; by hand, 2026-12-06): 256 MB leaves them some room. 512 MB until 2026-12-06:
# each model and check now fits the smaller cap (transforms/README.md: the uniqueness checks
# group hashes first, a refresh's checks run one at a time, the dimensions' anti joins no longer
# buffer every call).
DEFAULT_DUCKDB_MEMORY_LIMIT: Final = "256MB"
MEMORY_LIMIT_KEY: Final = "destination.duckdb.memory_limit"


def session_config(warehouse: str) -> dict[str, Any]:
    """DuckDB settings of a connection a run opens: the memory cap (``memory_limit``, default
    256MB; "" for DuckDB's 80 % of RAM), and a step that would exceed it spills to
    ``<warehouse>.tmp`` beside the warehouse file instead of growing the process."""
    limit = dlt.config.get(MEMORY_LIMIT_KEY, str)
    limit = DEFAULT_DUCKDB_MEMORY_LIMIT if limit is None else limit
    config: dict[str, Any] = {"temp_directory": f"{warehouse}.tmp"}
    if limit:
        config["memory_limit"] = limit
    return config
