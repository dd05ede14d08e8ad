"""What a scheduled run pays to resolve dlt's configuration (issue #22, the start-up cost).

dlt 1.31.0 resolves the DuckDB destination's whole configuration for every capabilities lookup:
16 times a scheduled run, 0.17 s of it. ``pipelines.destinations.duckdb.resolved_once`` keeps
the first resolution for the capabilities. The run below is the real CLI in its own process
against the emulator; the process counts dlt's resolutions of the partial configuration that
capabilities ask for, and how often capabilities were asked for, and writes both as it exits.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.common.normalizers.naming import snake_case, sql_cs_v1

from pipelines.destinations.duckdb import resolved_once

from .loader import Loader

# The CLI as ``python -m`` runs it, counting (at the level of dlt's own functions, wrapped before
# the run imports anything of ours) every resolution of a destination configuration with
# ``accept_partial`` and every ``capabilities()`` call, then writing the counts at exit.
COUNTING_CLI = """
import atexit, json, runpy, sys
from dlt.common.destination import reference
counts = {{"partial": 0, "capabilities": 0}}
resolve = reference.resolve_configuration
def counted_resolve(*args, **kwargs):
    counts["partial"] += bool(kwargs.get("accept_partial"))
    return resolve(*args, **kwargs)
reference.resolve_configuration = counted_resolve
capabilities = reference.Destination.capabilities
def counted_capabilities(self, *args, **kwargs):
    counts["capabilities"] += 1
    return capabilities(self, *args, **kwargs)
reference.Destination.capabilities = counted_capabilities
def record(path=sys.argv.pop(1)):
    with open(path, "w") as out:
        json.dump(counts, out)
atexit.register(record)
sys.argv[0] = "hostedsuite"
runpy.run_module("{module}", run_name="__main__", alter_sys=True)
"""


def run_counting(loader: Loader, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """``hostedsuite <args>`` in its own process, and its counts at exit."""
    record = loader.pipelines_dir.parent / "counts.json"
    result = loader.observed(COUNTING_CLI, record, *args)
    return result, json.loads(record.read_text())


def test_a_scheduled_run_resolves_the_capabilities_configuration_once(
    loader_factory: Callable[..., Loader],
) -> None:
    loader = loader_factory(calls=300, seed=8)
    load = [*loader.load_until_now(), *loader.cli_paths(), "--quiet"]
    first, _ = run_counting(loader, *load)
    assert first.returncode == 0, first.stderr[-3000:]
    scheduled, counts = run_counting(loader, *load)
    assert scheduled.returncode == 0, scheduled.stderr[-3000:]
    assert "transforms:" in scheduled.stdout
    # the record is not vacuous: capabilities were asked for many times (67 calls counted,
    # nested ones included, and 16 partial resolutions without resolved_once)
    assert counts["capabilities"] >= 10, counts
    # one destination for the run and one on its held connection (a small run): one each
    assert counts["partial"] == 2, counts


@pytest.mark.parametrize(
    "naming", [None, snake_case.NamingConvention(), sql_cs_v1.NamingConvention()]
)
def test_capabilities_from_the_kept_configuration_equal_dlts(naming: Any, tmp_path: Path) -> None:
    credentials = {"database": str(tmp_path / "w.duckdb")}
    kept = resolved_once(dlt.destinations.duckdb(credentials=credentials))
    plain = dlt.destinations.duckdb(credentials=credentials)
    for _ in range(3):  # the first call resolves, the later ones reuse
        assert dict(kept.capabilities(naming=naming)) == dict(plain.capabilities(naming=naming))
    # each call still builds its own capabilities: a caller that changes one changes no other's
    first, second = kept.capabilities(), kept.capabilities()
    assert first is not second
    first.max_identifier_length = 7
    assert second.max_identifier_length != 7
    # a client's configuration is still resolved in full, from the configuration it is given
    for dataset in ("first_dataset", "second_dataset"):
        config = kept.configuration(kept.spec()._bind_dataset_name(dataset_name=dataset))
        assert config.is_resolved() and config.dataset_name == dataset
        assert config.credentials.database == credentials["database"]
