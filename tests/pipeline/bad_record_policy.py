"""What the pipeline must do with each kind of bad record the emulator injects
(``hostedsuite_emulator.BAD_KINDS``), written out for the tests that check it."""

from __future__ import annotations

# Our policy per kind: a call that cannot be placed in time or merged (no StartTime, no Id)
# goes to the quarantine table only; a call with a bad field loads with ``dq_issues`` set (the
# field nulled or its children empty) and, where a value had to be dropped, its raw record is
# also quarantined. A negative duration is kept as sent, flagged.
QUARANTINE_ONLY = {"unparseable_start", "missing_start", "null_id", "empty_id"}
DROPPED_A_VALUE = {"string_duration", "interactions_wrong_type", "forms_wrong_type"}
FLAGGED = {"negative_duration", *DROPPED_A_VALUE}
