"""The privacy policy and the erasure list applied to a parsed page (Arrow), before any row is
built from it (the policy itself, without PyArrow, is in ``privacy.py``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyarrow as pa

from .calls_page import CallsPage
from .privacy import KEEP, PERSONAL_FIELDS, ErasureList, PrivacyPolicy


def treat_page(policy: PrivacyPolicy, page: CallsPage) -> CallsPage:
    """``page`` with every personal field treated, the rejected records' included."""
    if policy.keeps_all:
        return page
    return replace(
        page,
        items=_treat_items(policy, page.items),
        rejected=[(policy.treat_record(raw), why) for raw, why in page.rejected],
    )


def _treat_items(policy: PrivacyPolicy, items: pa.StructArray) -> pa.StructArray:
    names = items.type.names
    arrays = []
    for position, name in enumerate(names):
        column = items.field(position)
        if name in PERSONAL_FIELDS and policy.treatment(name) != KEEP:
            values = [policy.treat(name, v) for v in column.to_pylist()]
            column = pa.array(values, pa.string())
        arrays.append(column)
    return pa.StructArray.from_arrays(arrays, fields=list(items.type), mask=items.is_null())


def drop_erased(page: CallsPage, policy: PrivacyPolicy, erased: ErasureList | None) -> CallsPage:
    """``page`` without the erased calls (and the calls of erased numbers and names), read
    before any treatment: the list holds hashes of the values as the API sends them."""
    if not erased:
        return page
    items = page.items

    def values(name: str) -> list[Any]:
        return items.field(name).to_pylist() if name in items.type.names else [None] * len(items)

    flags = erased.erased_rows(policy, page.ids, values("CallerNumber"), values("CallerName"))
    rejected = [
        (raw, why)
        for raw, why in page.rejected
        if not (
            isinstance(raw, dict)
            and erased.erased_rows(
                policy, [raw.get("Id")], [raw.get("CallerNumber")], [raw.get("CallerName")]
            )[0]
        )
    ]
    if not any(flags) and len(rejected) == len(page.rejected):
        return page
    keep = pa.array([not flag for flag in flags], pa.bool_())
    return replace(page, items=items.filter(keep), rejected=rejected)
