"""The analysts' serving copy: a consistent, read-only copy of the DuckDB warehouse.

DuckDB lets one process write a file, or many read it, never both: an analyst's open session on
the live warehouse would block every load. So the live file is the pipeline's alone, and after
every run that changed it the pipeline publishes a copy at one stable path, which analysts open.

The serving path is a symbolic link to a generation file in a hidden folder beside it
(``serving_generations.py``). Publishing, under the run lock (no other run writes the live file
meanwhile):

1. ``CHECKPOINT`` the live warehouse, so the ``.duckdb`` file alone holds every committed row;
2. bring the previous generation up to date (``serving_delta.py``): attached to the pipeline's
   own connection, only the rows that changed since it was published are replaced, in one
   transaction. It is not the file the serving path points to, so no new session can open it
   meanwhile; if an analyst still holds it open (DuckDB's lock says so), or the update could be
   wrong (see ``serving_delta``), or a run asks for a full copy (after an erasure), the whole
   warehouse is copied instead into a new generation, beside it (``.<name>.publishing``, with
   ``copy_file_range``: in-kernel, a reflink on XFS and Btrfs);
3. stamp ``analytics.load_health`` in it with the time of publication, still attached to the
   pipeline's connection (one DuckDB database, so one memory cap), and checkpoint it once;
4. ``fsync`` it, make it read-only, point the serving path at it (a new link renamed over the
   path: atomic), ``fsync`` the folder. A reader opens either the old generation or the new
   one, never a half-written file. A session already open keeps the file it opened and the data
   it saw; a new connection sees the new generation. Older generations than the previous one are
   deleted (a session holding one keeps reading it until it closes).

A crash at any point leaves the serving path on its generation, untouched; the next publish
updates or replaces the other one again.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines import load_health, serving_delta
from pipelines import sql_literals as lit
from pipelines.serving_catalog import Executor
from pipelines.serving_delta import DeltaResult, Mark
from pipelines.serving_files import (
    copy_file,
    discard,
    make_durable_read_only,
    make_writable,
    os_message,
    point_link,
    remove,
    require_space,
    wal,
    written_bytes,
)
from pipelines.serving_generations import Generations
from transforms import scope_log


class PublishError(Exception):
    """The serving copy could not be published (the run itself has committed)."""


class NotAServingCopy(PublishError):
    """The serving path holds a file no publish wrote (a user's own database, a document):
    it is left alone. A configuration mistake rather than a failed publish."""


@dataclass(frozen=True)
class Published:
    """What one publish did, for the run summary and the benchmark."""

    path: Path
    seconds: float
    size_bytes: int
    published_at: datetime
    # bytes this process wrote to publish, after the warehouse's own checkpoint (None: the
    # kernel does not say)
    written_bytes: int | None = None
    # the rows the update replaced; None: the whole file was copied, and why
    delta: DeltaResult | None = None
    why_copied: str = ""

    def line(self) -> str:
        how = (
            f"updated {self.delta.raw_calls:,} calls' rows, {self.delta.calls:,} calls and "
            f"{self.delta.days:,} center-days of the marts"
            if self.delta is not None
            else f"copied whole: {self.why_copied}"
        )
        written = (
            f", {self.written_bytes / 1e6:,.1f} MB written"
            if self.written_bytes is not None
            else ""
        )
        return (
            f"serving: {self.path}  (published {self.published_at:%Y-%m-%d %H:%M:%S} UTC "
            f"in {self.seconds:.2f} s, {self.size_bytes / 1e6:,.0f} MB; {how}{written})"
        )


def default_serving_path(warehouse: str | Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.serving.duckdb`` beside it.

    DuckDB names a file's catalog after its name up to the first dot, so the copy's catalog is
    ``warehouse`` too and a query written against the live file runs unchanged on the copy.
    """
    live = Path(warehouse)
    return live.with_name(f"{live.stem}.serving{live.suffix or '.duckdb'}")


def temp_path(serving: Path) -> Path:
    """Where a whole copy is built: beside the serving path (same file system, so ``rename`` is
    atomic), hidden, and always the same name so a crashed publish leaves at most one."""
    return serving.with_name(f".{serving.name}.publishing")


def publish(
    warehouse: Path,
    serving: Path,
    execute: Executor,
    raw_schema: str,
    health: dict[str, Any],
    now: Callable[[], datetime],
    full: bool = False,
) -> Published:
    """Publishes ``warehouse`` at ``serving``; raises ``PublishError`` in one line.

    ``execute``: the pipeline's own connection to the live warehouse; ``health``: the pipeline's
    view of the last load for ``load_health``; ``full``: copy the whole file and delete every
    other generation (after an erasure, none may keep what was erased).
    """
    started = time.perf_counter()
    before: int | None = None
    generations = Generations(serving)
    temp = temp_path(serving)
    try:
        check_serving_target(serving)
        generations.folder.mkdir(parents=True, exist_ok=True)
        remove(temp, wal(temp))
        # before anything is copied, so that the copy's log is the warehouse's
        _prune_log(execute, generations)
        execute.execute_sql("CHECKPOINT")
        # what publishing writes, not the warehouse's own WAL that the checkpoint wrote out
        before = written_bytes()
        mark = serving_delta.mark(execute, raw_schema)
        previous = generations.current()
        updated: DeltaResult | None = None
        target, why = None, "asked for"
        if not full:
            target, why = generations.reusable(warehouse.stat().st_size)
        if target is not None:
            updated, why = _update(execute, raw_schema, target.path, target.mark)
        if target is not None and updated is not None:
            path = target.path  # still attached, brought up to date
        else:
            path = _copy_whole(warehouse, generations.new_path(), temp)
            execute.execute_sql(f"ATTACH {lit.text(str(path))} AS {serving_delta.ALIAS}")
        published_at = now()
        _stamp(execute, health, published_at)
        make_durable_read_only(path)
        generations.record(path, mark)
        point_link(serving, path)
        generations.keep_only(path, None if full else previous)
    except OSError as exc:
        discard(temp, wal(temp))
        raise PublishError(os_message(exc, serving)) from None
    except duckdb.Error as exc:
        discard(temp, wal(temp))
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PublishError(f"cannot publish the serving copy {serving}: {first}") from None
    after = written_bytes()
    return Published(
        serving,
        time.perf_counter() - started,
        serving.stat().st_size,
        published_at,
        None if before is None or after is None else after - before,
        updated,
        why,
    )


def _update(
    execute: Executor, raw_schema: str, path: Path, since: Mark
) -> tuple[DeltaResult | None, str]:
    """Brings the generation at ``path`` up to date, and leaves it attached as
    ``serving_delta.ALIAS`` for ``_stamp``; (None, why), detached, when it may not."""
    try:
        make_writable(path)
        execute.execute_sql(f"ATTACH {lit.text(str(path))} AS {serving_delta.ALIAS}")
    except Exception as exc:
        with contextlib.suppress(OSError):
            make_durable_read_only(path)
        if "lock" in str(exc).lower():
            return None, "an analyst holds the earlier generation open"
        return None, _first(exc)
    try:
        result = serving_delta.bring_up_to_date(execute, raw_schema, since)
    except BaseException:
        execute.execute_sql(f"DETACH {serving_delta.ALIAS}")
        raise
    if isinstance(result, str):
        execute.execute_sql(f"DETACH {serving_delta.ALIAS}")
        return None, result
    return result, ""


def _stamp(execute: Executor, health: dict[str, Any], published_at: datetime) -> None:
    """Writes ``load_health`` in the copy attached as ``serving_delta.ALIAS``
    (``load_health.stamp_published``), makes the copy durable (one checkpoint for the update
    and the stamp) and detaches it.

    The copy is attached to the pipeline's own connection, not opened in a second DuckDB
    database: each database has its own buffer pool, so a second one could hold up to a second
    memory cap beside the first, which a rebuild just filled.
    """
    try:
        load_health.stamp_published(execute.execute_sql, serving_delta.ALIAS, health, published_at)
        execute.execute_sql(f"CHECKPOINT {serving_delta.ALIAS}")
    finally:
        execute.execute_sql(f"DETACH {serving_delta.ALIAS}")


def _copy_whole(warehouse: Path, path: Path, temp: Path) -> Path:
    require_space(warehouse, path.parent)
    copy_file(warehouse, temp)
    os.replace(temp, path)
    return path


def _prune_log(execute: Executor, generations: Generations) -> None:
    """Keeps in the warehouse's refresh log only what a generation on disk may still need."""
    seqs = [m.refresh.seq for m in generations.marks() if m.refresh is not None]
    scope_log.prune(execute, min(seqs) if seqs else None)


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# Bytes 8..11 of every DuckDB database file (its storage header).
DUCKDB_MAGIC = b"DUCK"


def check_serving_target(serving: Path) -> None:
    """Raises ``NotAServingCopy`` unless ``serving`` is absent, a symbolic link (the link is
    replaced, never what it points to) or a copy an earlier publish wrote: a DuckDB file
    with ``analytics.load_health.published_at``."""
    try:
        info = serving.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    refusal = NotAServingCopy(
        f"refusing to replace {serving}: it is not a serving copy this pipeline published "
        "(no DuckDB file with analytics.load_health.published_at); move it away or choose "
        "another --serving path"
    )
    if not stat.S_ISREG(info.st_mode):
        raise refusal
    with serving.open("rb") as handle:
        if handle.read(12)[8:12] != DUCKDB_MAGIC:
            raise refusal
    try:
        conn = duckdb.connect(str(serving), read_only=True)
    except duckdb.Error as exc:
        # A session that opened the copy read-write (root ignores its mode) holds DuckDB's
        # lock; a DuckDB file nobody may write is one a publish made read-only.
        if "lock" in str(exc).lower() and not info.st_mode & 0o222:
            return
        raise refusal from None
    try:
        published = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'analytics' "
            "AND table_name = 'load_health' AND column_name = 'published_at'"
        ).fetchone()
    finally:
        conn.close()
    if published != (1,):
        raise refusal


# ------------------------------------------------------------------------------------------
# Publishing every N runs
# ------------------------------------------------------------------------------------------
@dataclass
class PublishSchedule:
    """Counts runs between publishes in the pipeline's working folder. A failed publish is
    retried by the next run, whatever ``every_n_runs`` says."""

    path: Path
    every_n_runs: int = 1

    def _read(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
            return data
        except (FileNotFoundError, ValueError):
            return {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temp, self.path)

    def due(self, serving: Path) -> bool:
        data = self._read()
        if data.get("failed") or not serving.exists():
            return True
        return int(data.get("runs_since_publish", 0)) + 1 >= self.every_n_runs

    def runs_until_due(self) -> int:
        return max(1, self.every_n_runs - int(self._read().get("runs_since_publish", 0)))

    def skipped(self) -> None:
        data = self._read()
        data["runs_since_publish"] = int(data.get("runs_since_publish", 0)) + 1
        self._write(data)

    def record(self, ok: bool) -> None:
        self._write({"runs_since_publish": 0, "failed": not ok})
