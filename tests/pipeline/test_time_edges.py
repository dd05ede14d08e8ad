"""Loads at the time edges: calls spanning a repeated fall-back hour, and calls whose center is
missing from /api/centers. The warehouse is compared with the emulator's truth (computed with
``zoneinfo``, see ``hostedsuite_emulator.timefmt``) and with hand-written expectations."""

from __future__ import annotations

import pytest

from hostedsuite_emulator import EmulatorSettings
from pipelines.summary import summary_lines

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


def test_calls_of_an_unknown_center_are_read_in_the_default_zone_flagged_and_listed(
    loader_factory,
) -> None:
    """Six calls served with a CenterId missing from /api/centers (an unknown id, "" and null,
    twice each): loaded in the default zone, each flagged, counted in the run summary and
    listed by ``verify``; the other calls carry no such flag."""
    loader = loader_factory(calls=600, seed=5, settings=EmulatorSettings(orphan_center_calls=6))
    summary = loader.load(default_timezone="America/Chicago")
    truth = loader.emulator.truth("America/Chicago")
    assert_matches_truth(loader.duckdb_path, truth)
    known = {c["id"] for c in truth.centers}
    orphans = {c["id"]: c["center_id"] for c in truth.calls if c["center_id"] not in known}
    assert len(orphans) == 6
    flagged = dict(
        rows(
            loader.duckdb_path,
            "SELECT id, dq_issues FROM hostedsuite.calls WHERE dq_issues LIKE '%CenterId%'",
        )
    )
    assert flagged == {
        call_id: (
            f"unknown CenterId {center_id}: local time read in America/Chicago"
            if center_id
            else "missing CenterId: local time read in America/Chicago"
        )
        for call_id, center_id in orphans.items()
    }
    assert "calls with an unknown center: 6 (read in America/Chicago; see dq_issues)" in (
        summary_lines([summary])
    )

    verify = loader.cli(
        "verify",
        "--start",
        "2024-03-01",
        "--end",
        "2024-04-15",
        env={"SOURCES__HOSTEDSUITE__DEFAULT_TIMEZONE": "America/Chicago"},
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "calls with an unknown center: 6 (read in America/Chicago" in verify.stdout
    for call_id, center_id in orphans.items():
        assert f"  {call_id} center {center_id!r}" in verify.stdout


def test_a_known_center_run_reports_no_unknown_center(loader_factory) -> None:
    loader = loader_factory(calls=300, seed=6)
    summary = loader.load()
    assert not [line for line in summary_lines([summary]) if "unknown center" in line]
    assert rows(
        loader.duckdb_path, "SELECT count(*) FROM hostedsuite.calls WHERE dq_issues IS NOT NULL"
    ) == [(0,)]
