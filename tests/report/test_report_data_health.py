"""The data-health section with something to show: data-quality findings, quarantined records
and a verify difference, all produced by the real pipeline from bad data the emulator serves.

The emulator serves no regular calls, only its injected ones over 7 days from 2024-03-04:
one bad record of each kind (``hostedsuite_emulator.BAD_KINDS``) and three valid calls at
centers ``/api/centers`` does not list (a closed center's id, "" and null). Worked out by hand:

- quarantined: the four records that cannot be placed or merged (no usable Id or StartTime)
  and the three kept with a value dropped (``tests/pipeline/bad_record_policy.py``): 7;
- findings, all warnings: the negative duration (``non_negative_durations`` and, as its parts
  still add up to a positive time, ``duration_reconciles``), the two calls without a center
  (``missing_client_or_center``) and the closed center (``unlisted_client_or_center``);
- verify: the API counts the four records the warehouse could not place, one on each of four
  center-days (api 1, warehouse 0): the verdict is red.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hostedsuite_emulator import Emulator, EmulatorSettings
from tests.cli import assert_fails
from tests.pipeline.bad_record_policy import DROPPED_A_VALUE, QUARANTINE_ONLY
from tests.pipeline.loader import Loader

from .report_page import number, page_tables, report_cli, verdict

START, END = "2024-03-04", "2024-03-10"
SETTINGS = EmulatorSettings(bad_records=11, orphan_center_calls=3)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The report of the verified range, and the emulator's truth."""
    folder = tmp_path_factory.mktemp("data-health")
    with Emulator(calls=0, seed=3, start=START, days=7, settings=SETTINGS) as emulator:
        loader = Loader(emulator, folder / "warehouse.duckdb", folder / "pipelines")
        loaded = loader.cli(*loader.load_until_now())
        assert loaded.returncode == 0, loaded.stderr
        verify = loader.cli("verify", "--start", START, "--end", END)
        assert_fails(verify, 6, "4 center-days differ from the API")
        truth = emulator.truth()
    out = folder / "report.html"
    serving = folder / "warehouse.serving.duckdb"
    done = report_cli("--db", str(serving), "--out", str(out), "--start", START, "--end", END)
    assert done.returncode == 0, done.stderr
    return out, truth


def test_the_verdict_is_red_and_names_every_problem(written: tuple[Path, Any]) -> None:
    out, _ = written
    assert verdict(out) == (
        "bad",
        "✖ Do not trust these numbers yet",
        [
            "4 center-days of the range differ from the API (verify)",
            "duration_reconciles: 1 rows (warning)",
            "missing_client_or_center: 2 rows (warning)",
            "non_negative_durations: 1 rows (warning)",
            "unlisted_client_or_center: 1 rows (warning)",
            "7 records quarantined (not in the numbers)",
        ],
    )


def test_the_findings_table_lists_each_failing_check(written: tuple[Path, Any]) -> None:
    out, _ = written
    shown = [
        (r["check_name"]["text"], r["severity"]["text"], r["table_name"]["text"],
         number(r["failing_rows"]))
        for r in page_tables(out)["findings"]
    ]  # fmt: skip
    assert shown == [
        ("duration_reconciles", "warn", "fct_calls", 1.0),
        ("missing_client_or_center", "warn", "fct_calls", 2.0),
        ("non_negative_durations", "warn", "fct_calls", 1.0),
        ("unlisted_client_or_center", "warn", "dim_centers", 1.0),
    ]


def test_the_quarantine_table_counts_records_by_reason(written: tuple[Path, Any]) -> None:
    out, truth = written
    kinds = Counter(bad["kind"] for bad in truth.bad_records)
    assert all(kinds[kind] == 1 for kind in QUARANTINE_ONLY | DROPPED_A_VALUE), kinds
    (sent,) = [b["raw"]["DurationInSeconds"] for b in truth.bad_records
               if b["kind"] == "string_duration"]  # fmt: skip
    shown = [(r["reason"]["text"], number(r["records"])) for r in page_tables(out)["quarantine"]]
    # most records first, then by reason
    assert shown == [
        ("missing or empty Id", 2.0),  # null_id, empty_id
        ("kept with issues: CompletedFormIds is not a list", 1.0),
        (f"kept with issues: DurationInSeconds is not a number: {sent!r}", 1.0),
        ("kept with issues: Interactions is not a list of objects", 1.0),
        ("missing StartTime", 1.0),
        ("unparseable StartTime", 1.0),
    ]


def test_the_verify_table_shows_the_days_the_api_has_more(written: tuple[Path, Any]) -> None:
    out, truth = written
    tables = page_tables(out)
    rows = [
        (r["center_id"]["text"], r["local_date"]["text"], number(r["api_count"]),
         number(r["warehouse_count"]), r["status"]["text"])
        for r in tables["verify-differences"]
    ]  # fmt: skip
    unplaced = [b["raw"] for b in truth.bad_records if b["kind"] in QUARANTINE_ONLY]
    assert Counter(row[0] for row in rows) == Counter(raw["CenterId"] for raw in unplaced)
    assert all(row[2:] == (1.0, 0.0, "missing") for row in rows), rows
    # the two whose StartTime (the center's wall time) is readable, on their own local date
    for raw in unplaced:
        if raw["Id"] in (None, "") and raw.get("StartTime"):
            assert (raw["CenterId"], raw["StartTime"][:10]) in {row[:2] for row in rows}
    facts = {r["fact"]["text"]: r["value"]["text"] for r in tables["freshness"]}
    assert facts["Center-days of the range verified"] == str(len(truth.centers) * 7)
