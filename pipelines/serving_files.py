"""The file work of publishing a serving copy: copying, durability, modes, the link swap.

No DuckDB and no dlt here: ``serving.py`` decides what to publish, and writes into the copy
through the pipeline's own connection, and calls these.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path
from typing import Final

# Free space asked for beyond the size of the copy: DuckDB's stamp of load_health and its WAL.
SPACE_MARGIN_BYTES: Final = 16 * 1024 * 1024
COPY_CHUNK_BYTES: Final = 1 << 30


def wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def discard(*paths: Path) -> None:
    """Best-effort clean-up after a failure: the failure itself is what gets reported."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def require_space(warehouse: Path, folder: Path) -> None:
    """Fails before writing when the copy cannot fit: filling the disk would also stop the
    next load of the live warehouse, which usually shares it."""
    need = warehouse.stat().st_size + SPACE_MARGIN_BYTES
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OSError(
            errno.ENOSPC,
            f"needs {need / 1e6:,.0f} MB free, {free / 1e6:,.0f} MB left",
        )


def copy_file(source: Path, target: Path) -> None:
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


def make_durable_read_only(path: Path) -> None:
    fsync_path(path)
    # Read-only on disk: a session opened read-write by mistake fails at once (except for
    # root) instead of writing into a copy that a later publish updates. Only the write bits
    # go: the copy was created with the umask applied (``copy_file`` opens it 0o666 & ~umask),
    # and it holds callers' names and numbers, so whoever the umask shuts out stays out.
    path.chmod(stat.S_IMODE(path.stat().st_mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(path: Path) -> None:
    """Gives the owner back the write bit a publish took away, to update the file in place."""
    path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


def point_link(serving: Path, target: Path) -> None:
    """Makes ``serving`` a symbolic link to ``target`` (relative, so the folder can move),
    atomically: a new link renamed over the old path, whatever it was. The rename is made
    durable.

    A read-write session on the old copy (root ignores the read-only mode) leaves a WAL next to
    the serving path; DuckDB would replay it onto the *new* file when a reader opens it, so it
    is removed just before and just after the rename.
    """
    link = serving.with_name(f".{serving.name}.link")
    remove(link)
    os.symlink(os.path.relpath(target, serving.parent), link)
    remove(wal(serving))
    os.replace(link, serving)
    remove(wal(serving))
    fsync_path(serving.parent)


def fsync_path(path: Path) -> None:
    """``fsync`` of a file, or of a folder (which makes a rename in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def written_bytes() -> int | None:
    """The bytes this process has caused to be written to storage so far (the kernel's I/O
    accounting), or None where the kernel does not keep it."""
    try:
        with open("/proc/self/io", encoding="ascii") as accounting:
            for line in accounting:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def os_message(exc: OSError, serving: Path) -> str:
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.ENOTDIR: "a part of the path is not a folder",
    }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    # require_space says how much was needed; the kernel's own ENOSPC says nothing more.
    detail = f" ({exc.strerror})" if exc.strerror and "needs" in exc.strerror else ""
    return f"cannot publish the serving copy {serving}: {reason}{detail}"
