"""The analysts' serving copy: a consistent, read-only copy of the DuckDB warehouse.

DuckDB lets one process write a file, or many read it, never both: an analyst's open session on
the live warehouse would block every load. So the live file is the pipeline's alone, and after
every run that changed it the pipeline publishes a copy at one stable path, which analysts open.

Publishing, under the run lock (no other run writes the live file meanwhile):

1. ``CHECKPOINT`` the live warehouse, so the ``.duckdb`` file alone holds every committed row;
2. copy it beside the serving path (``.<name>.publishing``) with ``copy_file_range``: the kernel
   copies without passing the bytes through this process, and reflinks where the file system
   can (XFS, Btrfs), so the copy then costs no data I/O at all;
3. stamp ``analytics.load_health`` in the copy with the time of publication;
4. ``fsync`` the copy, make it read-only, ``rename`` it over the serving path, ``fsync`` the
   folder. ``rename`` is atomic: a reader opens either the old copy or the new one, never a
   half-written file. A session already open keeps the old file (its inode lives on until it
   closes) and the data it opened; a new connection sees the new copy.

A crash at any point leaves the previous serving copy untouched; the temporary file has a fixed
name, so the next publish replaces it rather than leaving a new one each time.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines import load_health

# Free space asked for beyond the size of the copy: DuckDB's stamp of load_health and its WAL.
SPACE_MARGIN_BYTES = 16 * 1024 * 1024
COPY_CHUNK_BYTES = 1 << 30


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

    def line(self) -> str:
        return (
            f"serving: {self.path}  (published {self.published_at:%Y-%m-%d %H:%M:%S} UTC "
            f"in {self.seconds:.2f} s, {self.size_bytes / 1e6:,.0f} MB)"
        )


def default_serving_path(warehouse: str | Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.serving.duckdb`` beside it.

    DuckDB names a file's catalog after its name up to the first dot, so the copy's catalog is
    ``warehouse`` too and a query written against the live file runs unchanged on the copy.
    """
    live = Path(warehouse)
    return live.with_name(f"{live.stem}.serving{live.suffix or '.duckdb'}")


def temp_path(serving: Path) -> Path:
    """Where a copy is built: beside the serving path (same file system, so ``rename`` is
    atomic), hidden, and always the same name so a crashed publish leaves at most one."""
    return serving.with_name(f".{serving.name}.publishing")


def publish(
    warehouse: Path,
    serving: Path,
    checkpoint: Callable[[], None],
    health: dict[str, Any],
    now: Callable[[], datetime],
) -> Published:
    """Publishes ``warehouse`` at ``serving``; raises ``PublishError`` in one line.

    ``checkpoint`` flushes the live warehouse's WAL into its file (through the pipeline's own
    connection); ``health`` holds the pipeline's view of the last load for ``load_health``.
    """
    started = time.perf_counter()
    temp = temp_path(serving)
    try:
        check_serving_target(serving)
        serving.parent.mkdir(parents=True, exist_ok=True)
        _remove(temp, _wal(temp))
        checkpoint()
        _require_space(warehouse, serving.parent)
        _copy_file(warehouse, temp)
        published_at = now()
        _stamp_load_health(temp, health, published_at)
        _make_durable_read_only(temp)
        _swap_in(temp, serving)
    except OSError as exc:
        _discard(temp, _wal(temp))
        raise PublishError(_os_message(exc, serving)) from None
    except duckdb.Error as exc:
        _discard(temp, _wal(temp))
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PublishError(f"cannot publish the serving copy {serving}: {first}") from None
    return Published(serving, time.perf_counter() - started, serving.stat().st_size, published_at)


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


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _discard(*paths: Path) -> None:
    """Best-effort clean-up after a failure: the failure itself is what gets reported."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _require_space(warehouse: Path, folder: Path) -> None:
    """Fails before writing when the copy cannot fit: filling the disk would also stop the
    next load of the live warehouse, which usually shares it."""
    need = warehouse.stat().st_size + SPACE_MARGIN_BYTES
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OSError(
            errno.ENOSPC,
            f"needs {need / 1e6:,.0f} MB free, {free / 1e6:,.0f} MB left",
        )


def _copy_file(source: Path, target: Path) -> None:
    """Copies with ``copy_file_range`` (in-kernel; a reflink on XFS/Btrfs); falls back to
    ``shutil.copyfile`` where the kernel or file system refuses it (e.g. across devices)."""
    with source.open("rb") as src, target.open("wb") as dst:
        remaining = os.fstat(src.fileno()).st_size
        try:
            while remaining > 0:
                copied = os.copy_file_range(
                    src.fileno(), dst.fileno(), min(remaining, COPY_CHUNK_BYTES)
                )
                if copied == 0:
                    break
                remaining -= copied
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    shutil.copyfile(source, target)


def _stamp_load_health(copy: Path, health: dict[str, Any], published_at: datetime) -> None:
    """Writes ``analytics.load_health`` in the copy (``load_health.stamp_published``)."""
    conn = duckdb.connect(str(copy))
    try:
        present = {row[0] for row in conn.execute(load_health.COLUMNS_SQL).fetchall()}
        load_health.stamp_published(conn.execute, present, health, published_at)
        conn.execute("CHECKPOINT")
    finally:
        conn.close()


def _make_durable_read_only(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    # Read-only on disk: a session opened read-write by mistake fails at once (except for
    # root) instead of writing into a copy that the next publish replaces. Only the write bits
    # go: the copy was created with the umask applied (``_copy_file`` opens it 0o666 & ~umask),
    # and it holds callers' names and numbers, so whoever the umask shuts out stays out.
    path.chmod(stat.S_IMODE(path.stat().st_mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _swap_in(temp: Path, serving: Path) -> None:
    """Renames the new copy over the serving path and makes the rename durable.

    A read-write session on the old copy (root ignores the read-only mode) leaves a WAL next to
    the serving path; DuckDB would replay it onto the *new* file when a reader opens it, so it
    is removed just before and just after the rename.
    """
    _remove(_wal(serving))
    os.replace(temp, serving)
    _remove(_wal(serving))
    folder = os.open(serving.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _os_message(exc: OSError, serving: Path) -> str:
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.ENOTDIR: "a part of the path is not a folder",
    }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    # _require_space says how much was needed; the kernel's own ENOSPC says nothing more.
    detail = f" ({exc.strerror})" if exc.strerror and "needs" in exc.strerror else ""
    return f"cannot publish the serving copy {serving}: {reason}{detail}"


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
