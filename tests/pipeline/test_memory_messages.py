"""The one line a run prints when DuckDB runs out of its memory cap: it names the step and the
setting to raise, and says what is already safe. Built from a real ``OutOfMemoryException`` of
a DuckDB connection capped at 2 MB, also as the cause of another error (the chain is searched)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.errors import ExitCode
from pipelines.failures import describe_failure


@pytest.fixture(scope="module")
def out_of_memory() -> BaseException:
    connection = duckdb.connect(config={"memory_limit": "2MB", "threads": 1})
    try:
        connection.sql("select count(distinct i::varchar) from range(3000000) t(i)").fetchall()
    except duckdb.OutOfMemoryException as exc:
        return exc
    finally:
        connection.close()
    raise AssertionError("DuckDB did not run out of 2 MB")


RAISE = "raise [destination.duckdb] memory_limit and rerun"


def test_a_load_keeps_its_package(out_of_memory: BaseException) -> None:
    failure = describe_failure(out_of_memory, "load")
    assert failure.code == ExitCode.DESTINATION
    assert str(failure) == (
        f"DuckDB ran out of its memory cap in the load step; {RAISE} "
        "(the load package is kept; the next run finishes it)"
    )


def test_a_step_after_committed_ones_says_they_committed(out_of_memory: BaseException) -> None:
    try:
        raise RuntimeError("the report's query failed") from out_of_memory
    except RuntimeError as wrapped:
        failure = describe_failure(wrapped, "report", committed=["the load's result"])
    assert str(failure) == (
        f"DuckDB ran out of its memory cap in the report step; {RAISE} "
        "(the steps before it committed)"
    )
    assert failure.committed == ["the load's result"]


def test_a_first_step_says_nothing_of_a_package(out_of_memory: BaseException) -> None:
    failure = describe_failure(out_of_memory, "transform")
    assert str(failure) == f"DuckDB ran out of its memory cap in the transform step; {RAISE}"
