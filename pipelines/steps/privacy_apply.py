"""The privacy-apply step: the stored history rewritten under ``[privacy]``
(``pipelines/privacy_apply.py``), the new policy recorded, the marts rebuilt, the destination
purged; the plan publishes at once. Rerun after a crash, it finds nothing left to rewrite and
purges again."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.plan import LinesResult, RunContext
from pipelines.privacy import configured_policy, describe, record_policy, stored_policy
from pipelines.privacy_apply import rewrite_history
from pipelines.steps.erase import rebuild_and_purge
from pipelines.steps.load import finish_pending


@dataclass(frozen=True)
class PrivacyApplyResult(LinesResult):
    """What was rewritten, as summary lines."""


@dataclass(frozen=True)
class PrivacyApply:
    name: str = "privacy-apply"

    def run(self, context: RunContext) -> PrivacyApplyResult:
        destination, pipeline = context.writer()
        policy = configured_policy()
        finish_pending(pipeline)
        with pipeline.sql_client() as sql, sql.begin_transaction():
            stored = stored_policy(sql, pipeline.dataset_name)
            if stored is None:
                lines = ["privacy-apply: nothing loaded yet; the next load records [privacy]"]
            else:
                lines = rewrite_history(sql, pipeline.dataset_name, stored, policy)
                record_policy(sql, pipeline.dataset_name, policy)
        lines.append(f"privacy: {describe(policy.fingerprint())}")
        if stored is not None:
            lines += rebuild_and_purge(destination, pipeline)
        return PrivacyApplyResult(self.name, tuple(lines))
