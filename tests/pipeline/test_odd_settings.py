"""Odd values for every setting: a clean exit 2 naming the setting, or a clean run; never a hang.

The grid throws the same odd values at every number setting of the source (through the
environment, as a scheduler sets them) and checks the one property: the checks either accept
the value or refuse it with ``RunError(2)`` naming the setting, and never raise anything else.
The hand-written cases pin what must be refused and what must be accepted. The CLI cases are
the ones that used to hang and eat memory: each must end in seconds, under a memory cap.
"""

from __future__ import annotations

import resource
import subprocess

import pytest

from pipelines.errors import ExitCode, RunError
from pipelines.validation import SOURCE_RANGES, check_configured_settings
from tests.cli import ROOT, assert_fails, cli_command, run_cli

ODD = ["0", "-1", "-0.5", "1e-9", "1e300", "nan", "inf", "-inf", "", "abc", "true", "2.5", " "]


@pytest.mark.parametrize("key", sorted(SOURCE_RANGES))
@pytest.mark.parametrize("value", ODD)
def test_any_odd_value_is_accepted_or_refused_in_one_line(
    key: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"SOURCES__HOSTEDSUITE__{key.upper()}", value)
    try:
        check_configured_settings()
    except RunError as exc:
        assert exc.code == ExitCode.BAD_CONFIG
        assert f"sources.hostedsuite.{key}" in str(exc)
        assert "\n" not in str(exc)


# (key, value, accepted): worked out by hand from what each setting means
PINNED = [
    ("window_hours", "-1", False),
    ("window_hours", "1e-6", False),  # windows of 3.6 ms: millions of requests
    ("window_hours", "0", False),
    ("window_hours", "0.5", True),
    ("workers", "0", False),
    ("workers", "2.5", False),
    ("workers", "4", True),
    ("page_size", "0", False),
    ("page_size", "500", True),
    ("lookback_hours", "0", True),  # no re-read: allowed, the README says what it costs
    ("lookback_hours", "-2", False),
    ("lookback_hours", "nan", False),
    ("request_timeout", "0", False),
    ("request_backoff_factor", "0", True),
    ("window_margin_hours", "-1", False),
    ("calls_per_load", "0", False),
]


@pytest.mark.parametrize(("key", "value", "accepted"), PINNED)
def test_pinned_values(key: str, value: str, accepted: bool, monkeypatch) -> None:
    monkeypatch.setenv(f"SOURCES__HOSTEDSUITE__{key.upper()}", value)
    if accepted:
        check_configured_settings()
    else:
        with pytest.raises(RunError) as refused:
            check_configured_settings()
        assert refused.value.code == ExitCode.BAD_CONFIG


def test_empty_texts_and_a_bad_start_date_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("SOURCES__HOSTEDSUITE__DEFAULT_TIMEZONE", "")
    with pytest.raises(RunError, match=r"sources\.hostedsuite\.default_timezone must not be empty"):
        check_configured_settings()
    monkeypatch.delenv("SOURCES__HOSTEDSUITE__DEFAULT_TIMEZONE")
    monkeypatch.setenv("SOURCES__HOSTEDSUITE__START_DATE", "last tuesday")
    with pytest.raises(RunError, match="start_date is not a date"):
        check_configured_settings()
    monkeypatch.setenv("SOURCES__HOSTEDSUITE__START_DATE", "2024-03-01")
    monkeypatch.setenv("TRANSFORMS__INTERVAL_MINUTES", "7")
    with pytest.raises(RunError, match=r"\[transforms\] .*interval_minutes must divide a day"):
        check_configured_settings()


BACKFILL = ["backfill", "--start", "2024-01-01", "--end", "2024-07-01"]
CLI_CASES = {
    "negative window": ([*BACKFILL, "--window-hours", "-1"], {}, "--window-hours must be"),
    "tiny window": ([*BACKFILL, "--window-hours", "1e-6"], {}, "--window-hours must be"),
    "zero window": ([*BACKFILL, "--window-hours", "0"], {}, "--window-hours must be"),
    "configured negative window": (
        BACKFILL,
        {"SOURCES__HOSTEDSUITE__WINDOW_HOURS": "-1"},
        "sources.hostedsuite.window_hours must be",
    ),
    "too many windows": (
        ["backfill", "--start", "2000-01-01", "--end", "2024-01-01", "--window-hours", "0.02"],
        {},
        "windows (at most 200,000)",
    ),
    "zero workers": ([*BACKFILL, "--workers", "0"], {}, "--workers must be"),
    "negative lock wait": (["load", "--lock-wait", "-5"], {}, "--lock-wait must be"),
    "nan db wait": (["load", "--db-wait", "nan"], {}, "--db-wait must be"),
    "load workers": (["load", "--workers", "-3"], {}, "--workers must be"),
    "bad until": (["load", "--until", "tomorrow"], {}, "--until is not a date"),
}


def _cap_memory() -> None:
    cap = 3 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@pytest.mark.parametrize("case", CLI_CASES)
def test_odd_command_lines_end_at_once_with_exit_2(case: str, tmp_path) -> None:
    args, env, said = CLI_CASES[case]
    result = subprocess.run(
        cli_command(*args),
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            **env,
            "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "w.duckdb"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_cap_memory,
        check=False,
    )
    assert_fails(result, 2, said)
    assert not (tmp_path / "w.duckdb").exists()


def test_a_quote_in_the_folders_is_refused_or_works(loader_factory, tmp_path) -> None:
    """dlt's DuckDB loader writes load-file paths into SQL unquoted: a quote in the pipelines
    folder is refused in one line; a quote in the warehouse's own path works."""
    loader = loader_factory(calls=40, seed=92)
    quoted = tmp_path / "it's here"
    quoted.mkdir()
    refused = run_cli(
        *loader.load_until_now(), "--pipelines-dir", str(quoted / "pipelines"), env=loader.cli_env()
    )
    assert_fails(refused, 2, "--pipelines-dir must not contain a single quote")
    assert not (quoted / "pipelines").exists()
    works = run_cli(
        *loader.load_until_now(),
        "--duckdb",
        str(quoted / "warehouse.duckdb"),
        "--pipelines-dir",
        str(tmp_path / "pipelines"),
        env=loader.cli_env(),
    )
    assert works.returncode == 0, works.stderr[-3000:]
    assert (quoted / "warehouse.serving.duckdb").exists()
