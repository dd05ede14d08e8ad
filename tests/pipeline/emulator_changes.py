"""Changes to the emulator's data between two runs, as the vendor's users make them."""

from __future__ import annotations

import duckdb

from .loader import Loader
from .warehouse import call_id_column


def late_edits(loader: Loader, n: int) -> None:
    """New calls, then edits of recent calls: notes, form ids removed, an interaction added.
    Every call keeps at least one interaction, so "a call without interactions" in a copy can
    only mean a copy that mixes two loads. Of the ``n`` calls edited, half (rounded up) are the
    newest of those there before, which a warehouse loaded earlier holds, and the rest the
    newest of the new calls."""
    emulator = loader.emulator
    old = sorted(emulator.truth().calls, key=lambda c: c["start_time"])[-(n - n // 2) :]
    emulator.advance(minutes=45, new_calls=40)
    new = (
        sorted(emulator.truth().calls, key=lambda c: c["start_time"])[-(n // 2) :] if n > 1 else []
    )
    for i, call in enumerate(old + new):
        if i % 3 == 0:
            emulator.edit_call(call["id"], notes=f"late edit {i}")
        elif i % 3 == 1:
            emulator.edit_call(call["id"], completed_form_ids=[])
        else:
            emulator.edit_call(
                call["id"],
                interactions=[
                    {"offset_seconds": 1.0, "type": "Answer", "description": "late"},
                    {"offset_seconds": 9.5, "type": "Hangup", "description": "late"},
                ],
            )


def recent_calls_with_children(loader: Loader) -> list[str]:
    """Calls with interactions and form ids that started in the last 40 hours: inside the
    default 48 h look-back, so the next run re-reads them."""
    truth = loader.emulator.truth()
    with_forms = {f["call_id"] for f in truth.completed_form_ids}
    with_interactions = {i["call_id"] for i in truth.interactions}
    return [
        c["id"]
        for c in truth.calls
        if c["id"] in with_forms
        and c["id"] in with_interactions
        and (loader.emulator.now - c["start_time"]).total_seconds() < 40 * 3600
    ]


def reload_after_tampering(loader: Loader, table: str, call_id: str, assignment: str) -> None:
    """Sets ``assignment`` on the stored rows of the call in the raw call table ``table``, as no
    load writes them, then edits the call in the emulator and loads: the call is re-loaded."""
    where = f"{call_id_column(table)} = '{call_id}'"
    with duckdb.connect(str(loader.duckdb_path)) as con:
        con.execute(f"UPDATE hostedsuite.{table} SET {assignment} WHERE {where}")
    loader.emulator.edit_call(call_id, notes="edited after the load")
    loader.load()
