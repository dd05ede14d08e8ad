"""Which reports were written from which database, so that an erasure can list the reports
written before it: a report is a file of its own that the pipeline never edits afterwards.

Each report appends its path and time to ``.hostedsuite-reports.json`` beside the database it
read (the serving copy, or the warehouse with publishing off). Nothing personal is recorded.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

logger = logging.getLogger("hostedsuite")

REGISTRY_NAME: Final = ".hostedsuite-reports.json"


def registry(db: Path) -> Path:
    return db.resolve().parent / REGISTRY_NAME


def remember_report(db: Path, report: Path) -> None:
    """Records that ``report`` was written from ``db``; a registry that cannot be written
    costs a warning, never the report."""
    entries = _read(registry(db))
    entries[str(report.resolve())] = datetime.now(UTC).isoformat()
    try:
        registry(db).write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
    except OSError as exc:
        logger.warning("could not record the report in %s: %s", registry(db), exc.strerror)


def reports_before(db: Path | None, moment: datetime) -> list[Path]:
    """The recorded reports of ``db`` that still exist and were last written before
    ``moment``."""
    if db is None:
        return []
    found = []
    for path in sorted(_read(registry(db))):
        report = Path(path)
        try:
            written = datetime.fromtimestamp(report.stat().st_mtime, UTC)
        except OSError:
            continue
        if written < moment:
            found.append(report)
    return found


def _read(path: Path) -> dict[str, str]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in entries.items()} if isinstance(entries, dict) else {}
