"""Bad records never stop good calls and are never silently dropped; bad config is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostedsuite_emulator import EmulatorSettings
from tests.cli import assert_fails

from .bad_record_policy import DROPPED_A_VALUE, FLAGGED, QUARANTINE_ONLY
from .warehouse import assert_matches_truth, rows


def test_bad_records_are_quarantined_or_flagged_and_good_calls_load(loader_factory) -> None:
    loader = loader_factory(calls=1200, seed=41, settings=EmulatorSettings(bad_records=22))
    summary = loader.load(page_size=100)
    truth = loader.emulator.truth()
    kinds = {b["kind"] for b in truth.bad_records}
    assert kinds >= QUARANTINE_ONLY | FLAGGED
    flagged = {b["raw"]["Id"]: b["kind"] for b in truth.bad_records if b["kind"] in FLAGGED}
    # Every valid call (incl. unknown fields, long strings, control characters) is exact.
    assert_matches_truth(loader.duckdb_path, truth, ignore_ids=frozenset(flagged))
    issues = dict(
        rows(
            loader.duckdb_path,
            "SELECT id, dq_issues FROM hostedsuite.calls WHERE dq_issues IS NOT NULL",
        )
    )
    assert set(flagged) <= set(issues), "a call with a bad field was dropped"
    quarantined = rows(
        loader.duckdb_path, "SELECT raw_record, reason FROM hostedsuite.calls_quarantine"
    )
    raw_texts = [r[0] for r in quarantined]
    for bad in truth.bad_records:
        if bad["kind"] in QUARANTINE_ONLY | DROPPED_A_VALUE:
            marker = bad["raw"]["CallerNumber"]
            assert sum(marker in text for text in raw_texts) == 1, (
                f"{bad['kind']} not quarantined once"
            )
    assert all(reason for _, reason in quarantined)
    assert summary.row_counts["calls_quarantine"] >= len(QUARANTINE_ONLY | DROPPED_A_VALUE)


def test_unknown_new_fields_become_columns(loader_factory) -> None:
    loader = loader_factory(calls=400, seed=42, settings=EmulatorSettings(bad_records=11))
    loader.load()
    extra = [b for b in loader.emulator.truth().bad_records if b["kind"] == "unknown_field"]
    assert extra
    for bad in extra:
        stored = rows(
            loader.duckdb_path,
            f"SELECT sentiment_score FROM hostedsuite.calls WHERE id = '{bad['raw']['Id']}'",
        )
        assert stored == [(bad["raw"]["SentimentScore"],)]


BAD_ARGS = {
    "malformed-start": (["backfill", "--start", "2024-13-45", "--end", "2024-02-01"], "--start"),
    "end-before-start": (["backfill", "--start", "2024-03-01", "--end", "2024-02-01"], "after"),
    "unknown-option": (["load", "--frobnicate"], "unrecognized arguments"),
    "unknown-command": (["frobnicate"], "invalid choice"),
}


@pytest.mark.parametrize("case", BAD_ARGS.values(), ids=BAD_ARGS.keys())
def test_bad_arguments_give_one_line_and_exit_2(loader_factory, case) -> None:
    args, expected = case
    loader = loader_factory(calls=10, seed=1)
    result = loader.cli(*args)
    assert_fails(result, 2, expected)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_credential_is_one_line(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=1)
    result = loader.cli("load", env={"SOURCES__HOSTEDSUITE__PASSWORD": ""})
    assert "password" in assert_fails(result, 2).lower()


def test_unwritable_duckdb_path_is_one_line(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=1)
    loader.duckdb_path = Path("/proc/warehouse.duckdb")  # unwritable even for root
    assert_fails(loader.cli("load"), 5, "not writable")


def test_duckdb_path_in_missing_folder_is_one_line(loader_factory, tmp_path) -> None:
    loader = loader_factory(calls=10, seed=1)
    loader.duckdb_path = tmp_path / "no" / "such" / "w.duckdb"
    assert_fails(loader.cli("load"), 5, "does not exist")


def test_unreachable_host_is_one_line(loader_factory) -> None:
    loader = loader_factory(calls=10, seed=1)
    result = loader.cli(
        "load",
        env={
            "SOURCES__HOSTEDSUITE__BASE_URL": "http://127.0.0.1:9",
            "SOURCES__HOSTEDSUITE__REQUEST_MAX_ATTEMPTS": "2",
        },
    )
    assert_fails(result, 4)
