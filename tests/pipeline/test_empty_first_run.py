"""A first run that finds no calls is a success, and the next run loads normally.

A new center with no calls yet, a ``start_date`` in the future, or a first backfill whose filter
matches nothing: exit 0, a summary that says no calls were found, and nothing to transform.
"""

from __future__ import annotations

from tests.pipeline.warehouse import assert_matches_truth, rows


def test_a_first_backfill_that_matches_nothing_succeeds_and_the_next_load_is_normal(
    loader_factory,
) -> None:
    loader = loader_factory(calls=300, seed=81)
    empty = loader.cli(
        "backfill", "--start", "2024-03-02", "--end", "2024-03-09", "--center", "no-such-center"
    )
    assert empty.returncode == 0, empty.stderr
    assert "no calls found in the range read (yet)" in empty.stdout
    assert "transforms: nothing to build yet (no calls have been loaded)" in empty.stdout
    assert "error:" not in empty.stderr

    normal = loader.cli(*loader.load_until_now())
    assert normal.returncode == 0, normal.stderr
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    fct = rows(loader.duckdb_path, "SELECT count(*) FROM analytics.fct_calls")
    assert fct == [(len(loader.emulator.truth().calls),)]


def test_a_start_date_in_the_future_is_an_empty_success(loader_factory) -> None:
    loader = loader_factory(calls=200, seed=82)
    future = loader.emulator.now.add(days=3).to_iso8601_string()
    result = loader.cli(*loader.load_until_now(), env={"SOURCES__HOSTEDSUITE__START_DATE": future})
    assert result.returncode == 0, result.stderr
    assert "no calls found in the range read (yet)" in result.stdout
    assert "transforms: nothing to build yet" in result.stdout
