"""A server that reads StartDate/EndDate in a zone outside the centers' UTC offsets.

The emulator's centers span UTC-7 (Phoenix) to UTC+11 (Sydney, daylight time until
2024-04-07 03:00 local = 2024-04-06 16:00 UTC; UTC+10 after). Requests are widened by that span
(UTC included) plus ``window_margin_hours`` on each side. A server reading windows in
Pacific/Kiritimati (UTC+14, no DST) compares a call's UTC start t as t + 14 h < EndDate, and
EndDate is the window's end + the largest offset at the window's start or end + the margin:

- default margin (2): EndDate = end + 13 h while Sydney is on +11 at one of the window's
  ends, end + 12 h when on +10 at both, so the calls of the window's last hour (last two hours)
  are never served: with 24 h windows from midnight UTC, the calls starting at 23:xx UTC, and
  from the window of 2024-04-07 on also those at 22:xx;
- margin 4 (= 14 - 10): EndDate >= end + 14 h in every window: nothing is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hostedsuite_emulator import EmulatorSettings
from tests.cli import assert_fails

from .warehouse import assert_matches_truth, calls_by_id

KIRITIMATI = EmulatorSettings(window_zone="Pacific/Kiritimati")
SYDNEY_ON_PLUS_10_ALL_DAY = datetime(2024, 4, 7, tzinfo=UTC)


def test_default_margin_loses_the_calls_at_window_ends(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=61, settings=KIRITIMATI)
    loader.load(page_size=200)  # 24 h windows from midnight UTC (see conftest)
    truth = {c["id"]: c["start_time"] for c in loader.emulator.truth().calls}
    stored = calls_by_id(loader.duckdb_path)
    assert stored.keys() <= truth.keys()
    expected_lost = {
        call_id
        for call_id, start in truth.items()
        if start.hour == 23 or (start.hour == 22 and start >= SYDNEY_ON_PLUS_10_ALL_DAY)
    }
    assert len(expected_lost) > 50  # the README's "needs a wider margin" is not hypothetical
    assert truth.keys() - stored.keys() == expected_lost


def test_configured_margin_is_exact(loader_factory) -> None:
    loader = loader_factory(calls=1500, seed=61, settings=KIRITIMATI)
    result = loader.cli(
        "load",
        "--until",
        loader.emulator.now.isoformat(),
        "--no-transform",
        env={"SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOURS": "4"},
    )
    assert result.returncode == 0, result.stderr
    assert_matches_truth(loader.duckdb_path, loader.emulator.truth())


def test_negative_margin_is_bad_configuration(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=61)
    result = loader.cli("load", env={"SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOURS": "-1"})
    assert_fails(result, 2, "sources.hostedsuite.window_margin_hours must be >= 0")
