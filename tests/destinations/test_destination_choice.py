"""The destination choice read through dlt's config, and the merge corrections' guard."""

from __future__ import annotations

import logging

import pytest
from dlt.destinations.impl.duckdb.duck import DuckDbClient

from pipelines import destinations
from pipelines.destinations import duckdb as duckdb_destination
from pipelines.destinations import duckdb_merge


def test_destination_from_env_or_config_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESTINATION_NAME", raising=False)
    monkeypatch.delenv("PIPELINE__DESTINATION", raising=False)
    assert destinations.destination_name() == "duckdb"
    monkeypatch.setenv("PIPELINE__DESTINATION", "postgres")  # [pipeline] destination
    assert destinations.destination_name() == "postgres"
    monkeypatch.setenv("DESTINATION_NAME", "DuckDB")
    assert destinations.destination_name() == "duckdb"


def test_merge_corrections_only_for_the_dlt_they_were_written_for(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = DuckDbClient._create_merge_followup_jobs
    monkeypatch.setattr(DuckDbClient, "_create_merge_followup_jobs", original)
    monkeypatch.setattr(duckdb_destination, "version", lambda package: "1.32.0")
    with caplog.at_level(logging.WARNING, logger="hostedsuite"):
        assert duckdb_destination.install_merge_corrections() is False
    assert "dlt 1.32.0 is not 1.31.0: using dlt's own merge SQL" in caplog.text
    assert DuckDbClient._create_merge_followup_jobs is original
    monkeypatch.setattr(duckdb_destination, "version", lambda package: "1.31.0")
    assert duckdb_destination.install_merge_corrections() is True
    assert DuckDbClient._create_merge_followup_jobs is duckdb_merge._duckdb_merge_jobs
