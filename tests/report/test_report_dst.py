"""The heat map across DST changes, against hand-worked cells; and ``[report] after_load``.

A Chicago client's incoming calls only (the emulator generates no others), loaded by the real
``hostedsuite load`` with the report switched on after the load:

- 2024-03-10 (Sunday, spring forward 02:00 CST -> 03:00 CDT): 07:55 UTC = 01:55 CST and
  08:10 UTC = 03:10 CDT. The 02:00-02:45 intervals never occurred that day.
- 2024-11-03 (Sunday, fall back 02:00 CDT -> 01:00 CST): 06:10 UTC = 01:10 CDT, 07:10 UTC =
  01:10 CST (the repeated hour) and 07:50 UTC = 01:50 CST. 01:00-01:45 occurred twice.

A cell is calls offered ÷ occurrences of that weekday and local interval in the range.

``verify`` then finds one more call in the API on 2024-11-02 than in the warehouse: the data
health section must say not to trust the numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hostedsuite_emulator import Emulator
from tests.cli import assert_fails
from tests.pipeline.loader import Loader

from .report_page import number, page_tables, report_cli

CHICAGO_CLIENT = "54e4a6f1-f481-5712-83dd-3641e4c3d304"  # Northside Pediatrics, Chicago center
CALLS_UTC = [
    datetime(2024, 3, 10, 7, 55, tzinfo=UTC),
    datetime(2024, 3, 10, 8, 10, tzinfo=UTC),
    datetime(2024, 11, 3, 6, 10, tzinfo=UTC),
    datetime(2024, 11, 3, 7, 10, tzinfo=UTC),
    datetime(2024, 11, 3, 7, 50, tzinfo=UTC),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("dst")
    with Emulator(calls=0, start="2024-03-09", days=240) as emulator:
        for n, moment in enumerate(CALLS_UTC):
            emulator.add_call(CHICAGO_CLIENT, moment, f"+1312555{n:04d}")
        loader = Loader(emulator, folder / "warehouse.duckdb", folder / "pipelines")
        env = {
            "REPORT__AFTER_LOAD": "true",
            "REPORT__PATH": str(folder / "after-load.html"),
            "SOURCES__HOSTEDSUITE__WINDOW_HOURS": "2000",
        }
        done = loader.cli(*loader.load_until_now(), env=env)
        assert done.returncode == 0, done.stderr
        # A call the API has and the warehouse has not (not loaded yet): verify finds that
        # center-day different and publishes the finding with the serving copy.
        emulator.add_call(CHICAGO_CLIENT, datetime(2024, 11, 2, 15, 0, tzinfo=UTC), "+13125559999")
        verify = loader.cli("verify", "--start", "2024-10-28", "--end", "2024-11-03")
        assert verify.returncode == 6, verify.stderr
        # A report that cannot be written fails the run with one line; the load committed.
        (folder / "a-file").write_text("not a folder")
        env["REPORT__PATH"] = str(folder / "a-file" / "report.html")
        failed = loader.cli(*loader.load_until_now(), env=env)
    assert assert_fails(failed, 1) == (
        f"error: report: cannot write {folder / 'a-file' / 'report.html'}: File exists; "
        "the run itself committed"
    )
    assert [line for line in failed.stdout.splitlines() if line.startswith("serving: ")]
    return folder, done.stdout


def _sunday(folder: Path, start: str, end: str) -> dict[str, dict[str, float | None]]:
    out = folder / f"{start}.html"
    done = report_cli("--db", str(folder / "warehouse.serving.duckdb"), "--out", str(out),
                      "--start", start, "--end", end)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (table,) = [rows for key, rows in page_tables(out).items() if key.endswith("-offered")]
    assert len(table) == 96  # every interval of a day, occurred or not
    return {
        row["slot"]["text"]: {day: number(row[day]) for day in row if day != "slot"}
        for row in table
    }


def test_spring_forward_day_has_no_skipped_hour_and_loses_no_call(loaded) -> None:
    folder, _ = loaded
    cells = _sunday(folder, "2024-03-10", "2024-03-10")
    sunday = {slot: days["Sun"] for slot, days in cells.items()}
    assert [slot for slot, v in sunday.items() if v is None] == [
        "02:00", "02:15", "02:30", "02:45"
    ]  # fmt: skip
    assert sunday["01:45"] == 1.0 and sunday["03:00"] == 1.0
    assert sum(v for v in sunday.values() if v) == 2.0  # both calls, nothing invented
    # Over two weeks the skipped hour occurred once (2024-03-03), the others twice.
    two_weeks = _sunday(folder, "2024-03-03", "2024-03-16")
    assert two_weeks["02:00"]["Sun"] == 0.0
    assert two_weeks["01:45"]["Sun"] == 0.5 and two_weeks["03:00"]["Sun"] == 0.5


def test_fall_back_day_counts_the_repeated_hour_twice(loaded) -> None:
    folder, _ = loaded
    cells = _sunday(folder, "2024-11-03", "2024-11-03")
    sunday = {slot: days["Sun"] for slot, days in cells.items()}
    assert None not in sunday.values()  # every interval occurred at least once
    assert sunday["01:00"] == 1.0  # two calls, 01:00 CDT and 01:00 CST
    assert sunday["01:45"] == 0.5  # one call, in two occurrences of 01:45
    assert sunday["00:45"] == 0.0 and sunday["02:00"] == 0.0
    # Two Sundays (2024-10-27, 2024-11-03): 01:00 occurred three times.
    two_weeks = _sunday(folder, "2024-10-27", "2024-11-09")
    assert two_weeks["01:00"]["Sun"] == pytest.approx(2 / 3)
    assert two_weeks["01:45"]["Sun"] == pytest.approx(1 / 3)
    assert two_weeks["01:00"]["Mon"] == 0.0


def test_after_load_switch_writes_the_report_of_the_published_copy(loaded) -> None:
    folder, stdout = loaded
    out = folder / "after-load.html"
    # Default range: 30 local days up to the newest call (2024-11-03): its three calls.
    assert f"report: {out}  (2024-10-05..2024-11-03, 3 incoming calls, " in stdout
    headline = page_tables(out)["headline"]
    assert [(r["center"]["text"], number(r["calls_offered"])) for r in headline] == [
        ("Lakeshore Answering Chicago", 3.0)
    ]
    assert headline[0]["zone"]["text"] == "America/Chicago"


def test_a_verify_difference_says_do_not_trust(loaded) -> None:
    folder, _ = loaded
    out = folder / "verified.html"
    done = report_cli("--db", str(folder / "warehouse.serving.duckdb"), "--out", str(out),
                      "--start", "2024-10-28", "--end", "2024-11-03")  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "Do not trust these numbers yet" in html
    assert "1 center-days of the range differ from the API (verify)" in html
    tables = page_tables(out)
    (difference,) = tables["verify-differences"]
    assert (difference["local_date"]["text"], number(difference["api_count"]),
            number(difference["warehouse_count"])) == ("2024-11-02", 1.0, 0.0)  # fmt: skip
    facts = {r["fact"]["text"]: r["value"]["text"] for r in tables["freshness"]}
    assert facts["Center-days of the range verified"] == "35"  # 5 centers x 7 days
