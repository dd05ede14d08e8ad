"""The transform step: refresh the analytics schema through the destination's own connection.

What the loads since the last refresh changed, or everything when ``full`` (see
``transforms/README.md``). The destination says how the transforms run on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import dlt

from pipelines.destinations import Destination, kind_of
from pipelines.plan import RunContext, StepResult
from pipelines.validation import SLICE_CALLS, SLICE_CALLS_KEY, configured_number
from transforms import MetricSettings, RawTablesMissing, TransformResult, run_transforms
from transforms.settings import DEFAULT_REBUILD_SLICE_CALLS


@dataclass(frozen=True)
class TransformStepResult(StepResult):
    """The transforms' own result (row counts, checks, scope); None when nothing has been
    loaded yet (an empty first run is a success: there is nothing to build)."""

    result: TransformResult | None


@dataclass(frozen=True)
class Transform:
    """``hostedsuite transform [--full]``, and the step after a load."""

    full: bool = False
    name: str = "transform"

    def run(self, context: RunContext) -> TransformStepResult:
        destination, pipeline = context.writer()
        try:
            return TransformStepResult(self.name, transform(pipeline, type(destination), self.full))
        except RawTablesMissing:
            return TransformStepResult(self.name, None)


def transform(
    pipeline: dlt.Pipeline, destination: type[Destination], full: bool = False
) -> TransformResult:
    """Runs the transforms on ``pipeline``'s warehouse (``destination``: its kind)."""
    slice_calls: int | None = None
    if destination.slices_full_rebuild:
        slice_calls = configured_number(SLICE_CALLS_KEY, SLICE_CALLS) or DEFAULT_REBUILD_SLICE_CALLS
    with pipeline.sql_client() as client:
        destination.prepare_transforms(client)
        return run_transforms(
            client,
            raw_schema=pipeline.dataset_name,
            settings=MetricSettings.from_dlt_config(),
            full=full,
            scope_log=destination.logs_refresh_scope,
            slice_calls=slice_calls,
        )


def transform_pipeline(pipeline: dlt.Pipeline, full: bool = False) -> TransformResult:
    """``transform`` for code that holds only a pipeline (tests, the benchmark)."""
    return transform(pipeline, kind_of(pipeline), full)
