"""What a scheduled run imports (issue #22): a ``load --quiet`` into DuckDB, every 5 minutes,
imports nothing that only another command or another destination uses.

The run is the real CLI in its own process against the emulator; the process records the
modules it had imported (at start or later in the run) as it exits. The
commands and the destinations are registries of names (``pipelines/commands/__init__.py``,
``pipelines/destinations/__init__.py``), imported by ``importlib`` for the one a run uses; the
registry tests below hold them to the modules they name.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.commands import BY_NAME, COMMANDS
from pipelines.destinations import REGISTERED, destination_class
from pipelines.hostedsuite_pipeline import build_parser, chosen_command
from tests.cli import ROOT, run_cli

from .loader import Loader

# Imported by a DuckDB load before this issue; none of them does anything in one.
NOT_FOR_A_DUCKDB_LOAD = frozenset(
    {
        # PostgreSQL's driver and the other destinations
        "psycopg2",
        "pipelines.destinations.postgres",
        "pipelines.destinations.postgres_copy",
        "pipelines.destinations.purging",
        "pipelines.destinations.ducklake",
        # the HTML report (a load writes one only with [report] after_load)
        "pipelines.report.build",
        "pipelines.report.page",
        "pipelines.report.sections",
        "pipelines.report.charts",
        "pipelines.report.staffing",
        "pipelines.report.queries",
        # the other commands, and what they alone use
        "pipelines.commands.backfill",
        "pipelines.commands.verify",
        "pipelines.commands.demo",
        "pipelines.commands.sql",
        "pipelines.commands.report",
        "pipelines.commands.erase",
        "pipelines.commands.privacy_apply",
        "pipelines.commands.reconcile",
        "pipelines.commands.transform",
        "hostedsuite_emulator",
        "pipelines.duckdb_cli",
        "pipelines.erasure",
        "pipelines.privacy_apply",
        "pipelines.steps.erase",
        "pipelines.steps.privacy_apply",
        "pipelines.steps.reconcile",
        # never needed by the pipeline itself (test and tooling dependencies)
        "jinja2",
        "moto",
        "boto3",
    }
)
# What only reading a page from the API needs (the source and PyArrow, with numpy): about 50 MB
# and 0.2 s that a command which never reads one does not pay.
ONLY_FOR_READING_THE_API = frozenset({"pyarrow", "numpy", "pipelines.hostedsuite.source"})
# What a load does use: the test would pass vacuously if the run imported next to nothing.
A_LOAD_USES = frozenset(
    {"dlt", "pipelines.commands.load", "pipelines.destinations.duckdb", "pipelines.steps.load"}
)


# The CLI as ``python -m`` runs it, writing the names in ``sys.modules`` to a file as the process
# exits. Not ``-X importtime``: it leaves out the modules ``importlib`` imports, and the
# registries import every command and destination module that way.
RECORDING_CLI = """
import atexit, runpy, sys
def record(path=sys.argv.pop(1)):
    with open(path, "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
atexit.register(record)
sys.argv[0] = "hostedsuite"
runpy.run_module("{module}", run_name="__main__", alter_sys=True)
"""


def run_recording_modules(
    loader: Loader, *args: str
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``hostedsuite <args>`` in its own process, and the modules it had imported at its exit."""
    record = loader.pipelines_dir.parent / "modules.txt"
    result = loader.observed(RECORDING_CLI, record, *args)
    return result, set(record.read_text().split())


def test_scheduled_duckdb_load_imports_only_what_it_uses(
    loader_factory: Callable[..., Loader],
) -> None:
    loader = loader_factory(calls=300, seed=5)
    load = [*loader.load_until_now(), *loader.cli_paths(), "--quiet"]
    first, _ = run_recording_modules(loader, *load)
    assert first.returncode == 0, first.stderr[-3000:]
    # the scheduled run: the cursor is up to date, a few minutes to read
    scheduled, imported = run_recording_modules(loader, *load)
    assert scheduled.returncode == 0, scheduled.stderr[-3000:]
    assert "transforms:" in scheduled.stdout
    assert imported >= A_LOAD_USES, sorted(A_LOAD_USES - imported)
    assert not NOT_FOR_A_DUCKDB_LOAD & imported, sorted(NOT_FOR_A_DUCKDB_LOAD & imported)


def test_transform_report_and_sql_import_neither_the_source_nor_pyarrow(
    loader_factory: Callable[..., Loader],
) -> None:
    loader = loader_factory(calls=300, seed=6)
    load = [*loader.load_until_now(), *loader.cli_paths(), "--quiet"]
    loaded, imported = run_recording_modules(loader, *load)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert imported >= ONLY_FOR_READING_THE_API  # the record is not vacuous
    transform, imported = run_recording_modules(loader, "transform", "--full", *loader.cli_paths())
    assert transform.returncode == 0, transform.stderr[-3000:]
    assert "full rebuild: asked for (--full)" in transform.stdout, transform.stdout
    assert {"duckdb", "pipelines.steps.transform"} <= imported
    assert not ONLY_FOR_READING_THE_API & imported, sorted(ONLY_FOR_READING_THE_API & imported)
    serving = loader.duckdb_path.with_suffix(".serving.duckdb")
    report = loader.pipelines_dir.parent / "report.html"
    shown, imported = run_recording_modules(
        loader, "report", "--db", str(serving), "--out", str(report)
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "<html" in report.read_text()
    assert not ONLY_FOR_READING_THE_API & imported, sorted(ONLY_FOR_READING_THE_API & imported)
    # sql hands its process over to DuckDB's CLI (no exit handler runs): Python's own record of
    # the imports made before that, one "import time:" line each, stands in for sys.modules
    count = "SELECT count(*) FROM hostedsuite.calls"
    queried = run_cli(
        "sql", "--csv", str(serving), "-c", count,
        env=loader.cli_env({"PYTHONPROFILEIMPORTTIME": "1"}),
    )  # fmt: skip
    assert queried.returncode == 0, queried.stderr[-3000:]
    assert queried.stdout.split()[-1] == "300", queried.stdout
    timed = {
        line.rsplit("|", 1)[-1].strip()
        for line in queried.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"dlt", "pipelines.commands.common"} <= timed  # the record is not vacuous
    assert not ONLY_FOR_READING_THE_API & timed, sorted(ONLY_FOR_READING_THE_API & timed)


def test_load_help_imports_no_other_command(loader_factory: Callable[..., Loader]) -> None:
    loader = loader_factory(calls=10)
    result, imported = run_recording_modules(loader, "load", "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--until" in result.stdout
    others = {c.module_name for c in COMMANDS if c.name != "load"}
    assert "pipelines.commands.load" in imported
    assert not others & imported, sorted(others & imported)


def test_every_command_module_is_registered_under_its_name() -> None:
    modules = {c.module_name for c in COMMANDS}
    helpers = {"pipelines.commands.common", "pipelines.commands.published"}
    on_disk = {
        f"pipelines.commands.{path.stem}"
        for path in (ROOT / "pipelines" / "commands").glob("*.py")
        if path.stem != "__init__"
    }
    assert on_disk - helpers == modules
    for command in COMMANDS:
        module = command.module()
        assert command.name == module.NAME
        for function in ("add_arguments", "options", "plan"):
            assert callable(getattr(module, function)), (command.name, function)


def test_parser_gives_the_chosen_command_its_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in COMMANDS:
        argv = ["--project", str(ROOT), command.name, "--help"]
        assert chosen_command(argv) == command.name
        with pytest.raises(SystemExit) as exited:
            build_parser(chosen_command(argv)).parse_args(argv)
        assert exited.value.code == 0
        usage = capsys.readouterr().out
        assert f"usage: hostedsuite {command.name} " in usage
        assert ("--duckdb" in usage) == command.writes, usage
    parsed = build_parser("load").parse_args(["load", "--quiet"])
    assert parsed.module is BY_NAME["load"].module() and parsed.quiet
    assert chosen_command(["frobnicate"]) is None
    assert chosen_command(["--project"]) is None
    assert chosen_command([]) is None


def test_every_registered_destination_is_its_module_class() -> None:
    for name, (module, _) in REGISTERED.items():
        kind = destination_class(name)
        assert kind.name == name
        assert kind.__module__ == module
        assert Path(sys.modules[module].__file__ or "").is_file()
