"""``hostedsuite`` with a per-step profile: ``python -m bench.profiled_cli <out.json> <args>``.

Runs the CLI's ``main`` unchanged in this process, with the steps it runs (load, transform,
publish) and their main parts (dlt's extract, normalize and load; the transforms' scope, the
scope's staging tables and views, each table's replace, checks and state; the checkpoint
before the copy) wrapped in timed spans. Each span records its seconds, the bytes this process
wrote meanwhile (``/proc/self/io`` ``write_bytes``: pages dirtied, all threads) and its peak RSS
(VmHWM, reset at the span's start through ``/proc/self/clear_refs``; a span's peak includes its
inner spans'). Written as JSON to ``out.json``; the CLI's exit code is this process's. The
reset resets the kernel's ``ru_maxrss`` of this process too: its peak is the largest span's.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()


def _write_bytes() -> int:
    with open("/proc/self/io", encoding="ascii") as io:
        for line in io:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def _hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


class Profile:
    """Nested spans in the order they started: name, depth, start, seconds, MB written, peak."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.open: list[dict[str, Any]] = []

    def _peak_into_open(self) -> None:
        peak = _hwm_mb()
        for span in self.open:
            span["peak_mb"] = max(span["peak_mb"], peak)

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        self._peak_into_open()
        _reset_hwm()
        span: dict[str, Any] = {
            "name": name,
            "depth": len(self.open),
            "start": time.perf_counter() - STARTED,
            "peak_mb": _hwm_mb(),
        }
        written = _write_bytes()
        self.spans.append(span)
        self.open.append(span)
        try:
            yield
        finally:
            self._peak_into_open()
            self.open.pop()
            span["seconds"] = time.perf_counter() - STARTED - span["start"]
            span["written_mb"] = (_write_bytes() - written) / 1e6

    def wrap(self, owner: Any, attribute: str, name: Callable[..., str] | str) -> None:
        """Replaces ``owner.attribute`` (a function or method) by one timed as a span."""
        original = getattr(owner, attribute)
        profile = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            label = name if isinstance(name, str) else name(*args, **kwargs)
            with profile.span(label):
                return original(*args, **kwargs)

        setattr(owner, attribute, timed)


def instrument(profile: Profile) -> None:
    import dlt

    from pipelines import serving, serving_delta
    from pipelines.destinations import serving_copy
    from pipelines.steps.load import LoadIncremental
    from pipelines.steps.publish import Publish
    from pipelines.steps.transform import Transform
    from transforms import full_build, incremental_build, runner

    profile.wrap(LoadIncremental, "run", "load step")
    profile.wrap(Transform, "run", "transform step")
    profile.wrap(Publish, "run", "publish step")
    for part in ("extract", "normalize", "load"):
        profile.wrap(dlt.Pipeline, part, f"dlt {part}")
    profile.wrap(runner, "plan_refresh", "plan (full or incremental)")
    profile.wrap(runner, "build_full", "full build")
    profile.wrap(incremental_build, "create_views", "staging views")
    profile.wrap(incremental_build, "create_scope_copy", lambda _, model, *a, **k: model.name)
    profile.wrap(incremental_build, "_create_scope_tables", "affected calls and days")
    profile.wrap(incremental_build, "create_model", lambda _, model, *a, **k: model.name)
    profile.wrap(incremental_build, "_replace_keys", lambda _, model, *a, **k: model.name)
    profile.wrap(full_build, "create_model", lambda _, model, *a, **k: model.name)
    profile.wrap(runner, "run_checks", "data-quality checks")
    profile.wrap(runner, "write_state", "watermark and state")
    profile.wrap(serving_copy, "publish", "publish (checkpoint, update or copy, stamp)")
    profile.wrap(serving_delta, "bring_up_to_date", "update of the earlier generation")
    profile.wrap(serving, "copy_file", "whole copy of the file")


def main() -> int:
    out = Path(sys.argv[1])
    profile = Profile()
    with profile.span("imports"):
        from pipelines.hostedsuite_pipeline import main as cli_main

        instrument(profile)
    code = 1
    try:
        code = cli_main(sys.argv[2:])
    finally:
        profile.spans.append(
            {"name": "process", "depth": -1, "seconds": time.perf_counter() - STARTED}
        )
        out.write_text(json.dumps({"exit": code, "spans": profile.spans}))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
