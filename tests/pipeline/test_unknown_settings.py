"""A setting the code does not read stops the run (exit 2) with the key it was meant to be.

``lookback_hour = 24`` used to run on the default of 48, and
``SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOUR=4`` was ignored. Each case runs the CLI in a project
of its own (``HOSTEDSUITE_PROJECT``) with the emulator's account in the environment.
"""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path

import pytest

from pipelines.hostedsuite.settings import SOURCE_SETTINGS
from pipelines.hostedsuite.source import hostedsuite, make_client
from tests.cli import cli_command

from .loader import Loader


def run_in(project: Path, loader: Loader, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        cli_command(*args),
        cwd=project,
        env=loader.cli_env({**(env or {}), "HOSTEDSUITE_PROJECT": str(project)}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def project_with(tmp_path: Path, config: str = "", secrets: str = "") -> Path:
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    (project / ".dlt" / "config.toml").write_text(config)
    if secrets:
        (project / ".dlt" / "secrets.toml").write_text(secrets)
    return project


CASES = {
    # case: (config.toml, secrets.toml, environment, the error line)
    "toml": (
        "[sources.hostedsuite]\nlookback_hour = 24\n",
        "",
        {},
        "error: unknown setting [sources.hostedsuite] lookback_hour in .dlt/config.toml; "
        "did you mean lookback_hours?",
    ),
    "secrets": (
        "",
        '[sources.hostedsuite]\npasword = "x"\n',
        {},
        "error: unknown setting [sources.hostedsuite] pasword in .dlt/secrets.toml; "
        "did you mean password?",
    ),
    "env": (
        "",
        "",
        {"SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOUR": "4"},
        "error: unknown setting SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOUR (environment); "
        "did you mean SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOURS?",
    ),
    "transforms": (
        "[transforms]\ninterval_minute = 30\n",
        "",
        {},
        "error: unknown setting [transforms] interval_minute in .dlt/config.toml; "
        "did you mean interval_minutes?",
    ),
    "serving-env": (
        "",
        "",
        {"SERVING__EVERY_N_RUN": "2"},
        "error: unknown setting SERVING__EVERY_N_RUN (environment); "
        "did you mean SERVING__EVERY_N_RUNS?",
    ),
    "report-no-hint": (
        "[report]\ncolour = 'blue'\n",
        "",
        {},
        "error: unknown setting [report] colour in .dlt/config.toml",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_an_unknown_setting_stops_the_run_with_a_hint(
    case: str, loader_factory, tmp_path: Path
) -> None:
    config, secrets, env, expected = CASES[case]
    loader = loader_factory(calls=50, seed=71, days=1)
    project = project_with(tmp_path, config, secrets)
    done = run_in(project, loader, "load", "--until", loader.emulator.now.isoformat(), env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == expected
    assert "Traceback" not in done.stderr
    assert not loader.emulator.requests  # stopped before anything was read
    assert sorted(p.name for p in project.iterdir()) == [".dlt"]  # or written


def test_every_command_checks_and_two_mistakes_are_both_named(loader_factory, tmp_path) -> None:
    loader = loader_factory(calls=50, seed=72, days=1)
    project = project_with(tmp_path, "[serving]\npaht = 'x.duckdb'\n")
    env = {"REPORT__AFTER_LOADS": "true"}
    for args in (
        ["transform"],
        ["verify"],
        ["report", "--db", "x.duckdb"],
        ["sql", "-c", "select 1"],
    ):
        done = run_in(project, loader, *args, env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.splitlines()[-1] == (
            "error: unknown setting [serving] paht in .dlt/config.toml; did you mean path?; "
            "unknown setting REPORT__AFTER_LOADS (environment); did you mean REPORT__AFTER_LOAD?"
        ), args


def test_the_known_settings_and_dlts_own_sections_run(loader_factory, tmp_path) -> None:
    """Every documented key of ours, and keys of dlt's sections we do not know, are accepted."""
    loader = loader_factory(calls=120, seed=73, days=2)
    project = project_with(
        tmp_path,
        "[runtime]\nlog_level = 'WARNING'\nsome_dlt_setting = 1\n"
        "[sources.hostedsuite]\nlookback_hours = 24\nwindow_margin_hours = 4\n"
        "page_size = 50\ndefault_timezone = 'UTC'\ncalls_per_load = 100000\n"
        "request_timeout = 30\n[transforms]\ninterval_minutes = 30\n"
        "[serving]\nevery_n_runs = 1\n[report]\nafter_load = false\n"
        "[destination.duckdb]\nmemory_limit = '1GB'\n[load]\nworkers = 1\n",
    )
    env = {"SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOURS": "4", "DESTINATION__DUCKDB__SOMETHING": "1"}
    done = run_in(
        project,
        loader,
        "load",
        "--until",
        loader.emulator.now.isoformat(),
        *loader.cli_paths(),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "  calls                                   120 rows" in done.stdout


def test_the_listed_source_settings_are_the_source_and_clients_parameters() -> None:
    """The check knows ``[sources.hostedsuite]`` from a list (importing the source would cost
    every command PyArrow); the list is what dlt injects: both functions' parameters."""
    parameters = set(inspect.signature(hostedsuite).parameters)
    parameters |= set(inspect.signature(make_client).parameters)
    assert parameters == SOURCE_SETTINGS
