"""``hostedsuite privacy-apply``: rewrite the stored history under a stricter ``[privacy]``
policy (``steps/privacy_apply.py``), then publish at once."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pipelines.commands.common import access_options
from pipelines.plan import Plan, WarehouseAccess
from pipelines.steps.privacy_apply import PrivacyApply
from pipelines.steps.publish import Publish

NAME = "privacy-apply"


@dataclass(frozen=True)
class PrivacyApplyOptions:
    access: WarehouseAccess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments of its own: the policy is ``[privacy]``."""


def options(args: argparse.Namespace) -> PrivacyApplyOptions:
    return PrivacyApplyOptions(access_options(args))


def plan(opts: PrivacyApplyOptions) -> Plan:
    return Plan(NAME, (PrivacyApply(), Publish(now=True)), access=opts.access)
