"""The serving copy's generations: the files the serving path has pointed to, and their record.

The serving path is a symbolic link to one generation, a DuckDB file in a hidden folder beside
it (``.<serving name>.generations/``). The folder keeps at most two: the current one, and the
one before it, which the next publish brings up to date (``serving_delta.py``) unless an analyst
still holds it open or it cannot be trusted. ``generations.json`` there records, per file, what
the warehouse reflected when the file was last published (``serving_delta.Mark``) and the file's
size and modification time then: a file changed since (a session that wrote into it, as root
may) is never updated in place, only replaced.

The record is written after the file is durable; a crash before that leaves the file with its
older record, and updating it again from the older mark redoes a superset of the same changes,
which is harmless: every change is "replace these rows with the warehouse's".
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pipelines.serving_delta import Mark

RECORD: Final = "generations.json"
# An updated copy keeps the space of the rows it replaced; past this much more than the
# warehouse (and past GROWTH_SLACK_BYTES more: a small file's row groups are rewritten whole, and
# copying one costs little anyway), the next publish copies the file afresh instead.
MAX_GROWTH: Final = 1.25
GROWTH_SLACK_BYTES: Final = 64 * 2**20


@dataclass(frozen=True)
class Generation:
    """One generation file and what it reflected when it was last published."""

    path: Path
    mark: Mark
    size: int
    mtime_ns: int

    def unchanged(self) -> bool:
        """Whether the file is still exactly as it was published (size and mtime)."""
        try:
            info = self.path.stat()
        except OSError:
            return False
        return (info.st_size, info.st_mtime_ns) == (self.size, self.mtime_ns)


class Generations:
    """The generation folder of one serving path."""

    def __init__(self, serving: Path) -> None:
        self.serving = serving
        self.folder = serving.with_name(f".{serving.name}.generations")

    def current(self) -> Path | None:
        """The generation the serving path points to, if it is one of ours."""
        try:
            target = os.readlink(self.serving)
        except OSError:
            return None
        path = (self.serving.parent / target).resolve()
        return path if path.parent == self.folder.resolve() else None

    def reusable(self, live_size: int) -> tuple[Generation | None, str]:
        """The generation to bring up to date: the newest recorded one that is not current,
        unchanged since its publish, and not grown past ``MAX_GROWTH`` of the warehouse (or
        ``GROWTH_SLACK_BYTES`` more); else None and why none is."""
        current = self.current()
        earlier = [g for g in self._recorded() if g.path.resolve() != current]
        if not earlier:
            return None, "no earlier generation"
        unchanged = [g for g in earlier if g.unchanged()]
        if not unchanged:
            return None, "the earlier generation changed since its publish"
        limit = max(live_size * MAX_GROWTH, live_size + GROWTH_SLACK_BYTES)
        fit = [g for g in unchanged if g.size <= limit]
        if not fit:
            largest = max(g.size for g in unchanged)
            return None, (
                f"the earlier generation grew past {MAX_GROWTH:g} times the warehouse "
                f"({largest / 1e6:,.0f} MB against {live_size / 1e6:,.0f} MB)"
            )
        return max(fit, key=lambda g: _number(g.path)), ""

    def new_path(self) -> Path:
        """A name no generation has had: one past the highest number in the folder."""
        numbers = [_number(p) for p in self._files()]
        stem = self.serving.name.split(".")[0] or "serving"
        return self.folder / f"{stem}.{max(numbers, default=0) + 1}.duckdb"

    def record(self, path: Path, mark: Mark) -> None:
        """Records ``path`` as published with ``mark`` (after it is durable)."""
        info = path.stat()
        data = self._read()
        data[path.name] = {**mark.as_json(), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
        known = {p.name for p in self._files()}
        data = {name: entry for name, entry in data.items() if name in known}
        temp = self.folder / f".{RECORD}.tmp"
        temp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temp, self.folder / RECORD)

    def keep_only(self, *paths: Path | None) -> None:
        """Deletes every other generation file (and its WAL). An analyst who holds one open
        keeps reading it: the file lives on until the session closes."""
        keep = {p.resolve() for p in paths if p is not None}
        for path in self._files():
            if path.resolve() not in keep:
                for doomed in (path, path.with_name(path.name + ".wal")):
                    with contextlib.suppress(FileNotFoundError):
                        doomed.unlink()

    def marks(self) -> list[Mark]:
        """The marks of the generation files that exist."""
        return [g.mark for g in self._recorded()]

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [p for p in self.folder.iterdir() if p.suffix == ".duckdb" and _number(p) > 0]

    def _recorded(self) -> list[Generation]:
        data = self._read()
        found = []
        for path in self._files():
            entry = data.get(path.name)
            if entry:
                found.append(
                    Generation(
                        path, Mark.from_json(entry), int(entry["size"]), int(entry["mtime_ns"])
                    )
                )
        return found

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / RECORD).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _number(path: Path) -> int:
    """``warehouse.7.duckdb`` -> 7; 0 for any other name."""
    parts = path.name.split(".")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else 0
