"""Our settings, known from the code that reads them, and the check that stops a misspelled one.

dlt never complains about a key nobody asks for: ``lookback_hour = 24`` used to run on the
default of 48, and ``SOURCES__HOSTEDSUITE__WINDOW_MARGIN_HOUR`` was ignored. So before anything
is written, every run checks the keys of our sections in the project's ``.dlt/config.toml`` and
``.dlt/secrets.toml`` and our environment variables against the keys the code reads, and stops
with exit code 2 and a "did you mean" hint on any other.

The known keys come from the code: the source's and the client's parameters (dlt injects each
of them from ``[sources.hostedsuite]``; listed in ``SOURCE_SETTINGS``, which a test keeps equal
to the two signatures), the transforms' ``MetricSettings`` fields and ``rebuild_slice_calls``,
and the ``[serving]``, ``[report]``, ``[pipeline]`` and ``[alerts]`` keys their readers declare.
dlt's own sections (``runtime``, ``destination``, ``load``, ...) stay dlt's.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

from pipelines.alerts import ALERTS_SETTINGS
from pipelines.destinations import PIPELINE_SETTINGS
from pipelines.destinations.serving_copy import SERVING_SETTINGS
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.settings import SOURCE_SETTINGS
from pipelines.project import SETTINGS_DIR
from pipelines.steps.report import REPORT_SETTINGS
from transforms.settings import CONFIG_SECTION as TRANSFORMS_SECTION
from transforms.settings import REBUILD_SLICE_CALLS, MetricSettings

SOURCE_SECTION: Final = "sources.hostedsuite"
SETTINGS_FILES: Final = ("config.toml", "secrets.toml")


def known_settings() -> dict[str, frozenset[str]]:
    """Our sections and the keys the code reads in each."""
    return {
        SOURCE_SECTION: SOURCE_SETTINGS,
        TRANSFORMS_SECTION: frozenset(f.name for f in fields(MetricSettings))
        | {REBUILD_SLICE_CALLS},
        **_by_section((*SERVING_SETTINGS, *REPORT_SETTINGS, *PIPELINE_SETTINGS, *ALERTS_SETTINGS)),
    }


def check_settings(settings_dir: Path, environ: Mapping[str, str]) -> None:
    """Raises one ``RunError`` (exit 2) naming every unknown key of our sections in the TOML
    files of ``settings_dir`` and in ``environ``, each with its closest known key."""
    known = known_settings()
    problems: list[str] = []
    for name in SETTINGS_FILES:
        document = _read_toml(settings_dir / name)
        for section, keys in known.items():
            table = _table(document, section)
            for key in sorted(set(table) - keys):
                close = _closest(key, keys)
                problems.append(
                    f"unknown setting [{section}] {key} in {SETTINGS_DIR}/{name}"
                    + (f"; did you mean {close}?" if close else "")
                )
    for variable in sorted(environ):
        for section, keys in known.items():
            prefix = section.replace(".", "__").upper() + "__"
            key = variable[len(prefix) :].lower()
            if variable.startswith(prefix) and key not in keys:
                close = _closest(key, keys)
                problems.append(
                    f"unknown setting {variable} (environment)"
                    + (f"; did you mean {prefix}{close.upper()}?" if close else "")
                )
    if problems:
        raise RunError(ExitCode.BAD_CONFIG, "; ".join(problems))


def _by_section(keys: tuple[str, ...]) -> dict[str, frozenset[str]]:
    sections: dict[str, set[str]] = {}
    for full in keys:
        section, _, key = full.rpartition(".")
        sections.setdefault(section, set()).add(key)
    return {section: frozenset(names) for section, names in sections.items()}


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise RunError(ExitCode.BAD_CONFIG, f"{path} is not valid TOML: {exc}") from None


def _table(document: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    """The table ``section`` (dotted) of a TOML document; empty when absent."""
    current: Any = document
    for part in section.split("."):
        current = current.get(part, {}) if isinstance(current, Mapping) else {}
    return current if isinstance(current, Mapping) else {}


def _closest(key: str, known: frozenset[str]) -> str | None:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return close[0] if close else None
