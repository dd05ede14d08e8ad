"""Loads at the time edges: calls spanning a repeated fall-back hour, and calls whose center is
missing from /api/centers. The warehouse is compared with the emulator's truth (computed with
``zoneinfo``, see ``hostedsuite_emulator.timefmt``) and with hand-written expectations."""

from __future__ import annotations

import pytest

from hostedsuite_emulator import EmulatorSettings

from .warehouse import assert_matches_truth, rows


@pytest.mark.parametrize("time_format", ["iso", "us"])
def test_calls_spanning_the_fall_back_hour_keep_their_events_in_order(
    loader_factory, time_format: str
) -> None:
    """US (Nov 3) and UK (Oct 27) fall-backs: events after the change have wall times that
    occurred twice; each must be read after its call's start, as its true instant."""
    loader = loader_factory(
        calls=1500,
        seed=9,
        start="2024-10-20",
        days=20,
        settings=EmulatorSettings(time_format=time_format),
    )
    loader.load()
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    path = loader.duckdb_path
    # No event before its call, no event before the previous one: no negative offsets or holds.
    before_call = rows(
        path,
        """
        SELECT i.call_id, i.seq FROM hostedsuite.calls__interactions i
        JOIN hostedsuite.calls c ON c.id = i.call_id WHERE i.start_time < c.start_time
        """,
    )
    assert before_call == []
    backwards = rows(
        path,
        """
        SELECT call_id, seq FROM (
            SELECT call_id, seq, start_time,
                   lag(start_time) OVER (PARTITION BY call_id ORDER BY seq) AS previous
            FROM hostedsuite.calls__interactions)
        WHERE start_time < previous
        """,
    )
    assert backwards == []
    # The data really has such calls: local wall time going back while UTC goes forward,
    # one an hour apart (the repeated hour), in Chicago and in London.
    spanning = rows(
        path,
        """
        SELECT DISTINCT c.time_zone_id FROM hostedsuite.calls__interactions i
        JOIN hostedsuite.calls c ON c.id = i.call_id
        WHERE i.start_time_local < c.start_time_local AND i.start_time > c.start_time
        """,
    )
    assert {("America/Chicago",), ("Europe/London",)} <= set(spanning)
