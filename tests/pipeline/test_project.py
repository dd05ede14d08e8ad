"""One project, one warehouse: a run finds its project's settings and warehouse wherever it is
started, or refuses in one line; it never starts a second warehouse in the current folder, a
failed run creates nothing, and the summary names the files by absolute path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines.errors import ExitCode, RunError
from pipelines.project import find_project
from tests.cli import ROOT, cli_command

from .loader import Loader
from .project_copy import closed_port
from .warehouse import rows


def hostedsuite(
    loader: Loader, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args),
        cwd=cwd,
        env=loader.cli_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_project_is_the_clone_installed_else_the_folder_named_else_a_refusal(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".dlt").mkdir(parents=True)
    # this environment is installed from this clone: it wins over any folder it is run from
    assert find_project(None, tmp_path) == ROOT
    assert find_project(None, elsewhere) == ROOT
    # named explicitly (relative to where it is typed), another project
    assert find_project("elsewhere", tmp_path) == elsewhere
    # an installation that is not a clone: the current folder if it holds .dlt/, else refused
    site = tmp_path / "site-packages"
    site.mkdir()
    assert find_project(None, elsewhere, installed=site) == elsewhere
    with pytest.raises(RunError) as refused:
        find_project(None, tmp_path, installed=site)
    assert refused.value.code == ExitCode.BAD_CONFIG
    assert f"no project found: this installation is not a clone and {tmp_path} has no .dlt/" in (
        str(refused.value)
    )
    with pytest.raises(RunError) as not_a_project:
        find_project(str(tmp_path / "typo"), tmp_path)
    assert "is not a project folder (no .dlt/ in it)" in str(not_a_project.value)


def test_a_run_from_another_folder_writes_the_projects_warehouse_by_absolute_path(
    loader_factory, tmp_path: Path
) -> None:
    loader = loader_factory(calls=200, seed=81, days=2)
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    started_in = tmp_path / "somewhere-else"
    started_in.mkdir()
    env = {"HOSTEDSUITE_PROJECT": str(project)}
    until = loader.emulator.now.isoformat()

    done = hostedsuite(loader, started_in, "load", "--until", until, env=env)

    assert done.returncode == 0, done.stderr
    assert rows(project / "warehouse.duckdb", "SELECT count(*) FROM hostedsuite.calls") == [(200,)]
    assert (project / "var" / "pipelines" / "hostedsuite").is_dir()
    assert list(started_in.iterdir()) == []  # nothing where it was started
    assert f"warehouse: {project}/warehouse.duckdb" in done.stdout.splitlines()
    (serving,) = [line for line in done.stdout.splitlines() if line.startswith("serving: ")]
    assert serving.startswith(f"serving: {project}/warehouse.serving.duckdb  (published ")

    # paths typed on the command line mean what they mean where they were typed
    typed = ["--duckdb", "mine.duckdb", "--pipelines-dir", "work", "--serving", ""]
    done = hostedsuite(loader, started_in, "load", "--until", until, *typed, env=env)
    assert done.returncode == 0, done.stderr
    assert f"warehouse: {started_in}/mine.duckdb" in done.stdout.splitlines()
    assert sorted(p.name for p in started_in.iterdir()) == ["mine.duckdb", "work"]
    assert not (project / "mine.duckdb").exists() and not (project / "work").exists()


@pytest.mark.parametrize("failure", ["unreachable", "credentials", "missing-setting"])
def test_a_failed_first_run_creates_nothing(loader_factory, tmp_path: Path, failure: str) -> None:
    loader = loader_factory(calls=50, seed=82, days=1)
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    env = {
        "HOSTEDSUITE_PROJECT": str(project),
        **{
            "unreachable": {"SOURCES__HOSTEDSUITE__BASE_URL": f"http://127.0.0.1:{closed_port()}"},
            "credentials": {"SOURCES__HOSTEDSUITE__PASSWORD": "wrong-password"},
            "missing-setting": {"SOURCES__HOSTEDSUITE__START_DATE": ""},
        }[failure],
    }
    done = hostedsuite(loader, tmp_path, "load", env=env)
    assert done.returncode == {"unreachable": 4, "credentials": 3, "missing-setting": 2}[failure]
    assert sorted(p.name for p in project.iterdir()) == [".dlt"], done.stderr
