"""The warehouse equals the emulator's truth under every unconfirmed API behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from hostedsuite_emulator import EmulatorSettings

from .warehouse import assert_matches_truth, rows

SWITCHES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "page-base-1": {"page_base": 1},
    "page-cap-below-asked": {"max_page_size": 70},
    "time-iso-fraction": {"time_format": "iso_fraction"},
    "time-offset": {"time_format": "offset"},
    "time-us": {"time_format": "us"},
    "tz-iana": {"tz_style": "iana"},
    "window-utc": {"window_zone": "UTC"},
    "window-new-york": {"window_zone": "America/New_York"},
    "end-inclusive": {"end_inclusive": True},
    "everything-at-once": {
        "page_base": 1,
        "max_page_size": 90,
        "time_format": "us",
        "tz_style": "iana",
        "window_zone": "UTC",
        "end_inclusive": True,
        "date_only_end": "end_of_day",
    },
}


@pytest.mark.parametrize("switches", SWITCHES.values(), ids=SWITCHES.keys())
def test_load_equals_truth(loader_factory, switches: dict[str, Any]) -> None:
    loader = loader_factory(calls=1500, seed=7, settings=EmulatorSettings(**switches))
    summary = loader.load(page_size=200)
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())
    assert summary.row_counts["calls"] == len(loader.emulator.truth().calls)


def test_disable_stats_zeroed_totals_still_page_to_the_end(loader_factory) -> None:
    loader = loader_factory(calls=1200, seed=3, settings=EmulatorSettings(max_page_size=50))
    loader.load(page_size=100, disable_stats=True)
    assert all(r.get("DisableStats") for r in loader.emulator.requests)
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_every_request_is_bounded_and_sorted(loader_factory) -> None:
    loader = loader_factory(calls=600, seed=5)
    loader.load()
    requests = loader.emulator.requests
    assert requests
    for body in requests:
        assert body["EndDate"] and body["StartDate"]
        assert (body["SortField"], body["SortDir"]) == ("StartTime", "Asc")
        assert body["Password"] == "***"  # the emulator's own log is redacted


def test_utc_and_local_times_across_dst(loader_factory) -> None:
    """Calls on both sides of the US and EU DST changes keep their true instant and wall time."""
    loader = loader_factory(calls=3000, seed=11)
    loader.load()
    truth = {c["id"]: c for c in loader.emulator.truth().calls}
    stored = rows(
        loader.duckdb_path,
        """
        SELECT c.id, c.start_time, c.start_time_local, c.time_zone_id
        FROM hostedsuite.calls c
        WHERE c.time_zone_id IN ('America/Chicago', 'Europe/London')
          AND c.start_time_local::date IN ('2024-03-09', '2024-03-11', '2024-03-30', '2024-04-01')
    """,
    )
    offsets = set()
    for call_id, utc, local, zone in stored:
        assert (utc, local) == (truth[call_id]["start_time"], truth[call_id]["start_time_local"])
        offsets.add((zone, round((local - utc.replace(tzinfo=None)).total_seconds() / 3600)))
    # Both offsets of each zone occur: the data really straddles the changes.
    assert {("America/Chicago", -6), ("America/Chicago", -5)} <= offsets
    assert {("Europe/London", 0), ("Europe/London", 1)} <= offsets


def test_centers_and_clients_one_row_per_id(loader_factory) -> None:
    loader = loader_factory(calls=300, seed=2)
    loader.load()
    truth = loader.emulator.truth()
    centers = rows(loader.duckdb_path, "SELECT id, iana_time_zone FROM hostedsuite.centers")
    assert sorted(centers) == sorted((c["id"], c["iana_time_zone"]) for c in truth.centers)
    clients = rows(loader.duckdb_path, "SELECT id FROM hostedsuite.clients")
    assert sorted(r[0] for r in clients) == sorted(c["id"] for c in truth.clients)
