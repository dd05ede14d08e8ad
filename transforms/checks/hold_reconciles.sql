-- check: hold_reconciles
-- table: fct_calls
-- severity: warn
-- The holds derived from the interactions (Hold ... Retrieved/Hangup/transfer) against the
-- vendor's HoldCount and HoldTimeInSeconds: the count must match, and the length within 1 s per
-- hold (at least 1 s): interaction StartTimes usually carry whole seconds, so each derived hold
-- can be up to a second off the vendor's fractional HoldTimeInSeconds.
-- Only calls with interactions are compared: without events there is nothing to derive from.
-- A derived length that is unknown (a hold with no end and no usable call end) compares as
-- NULL, so only its count is checked: an unknown length is not a disagreement.

select
    'fct_calls' as table_name,
    call_id as record_key,
    call_id,
    'hold_count=' || coalesce(hold_count, 0) || ', hold_seconds=' || coalesce(hold_seconds, 0)
    || ' but interactions give ' || derived_hold_count || ' holds, '
    || derived_hold_seconds || ' s' as details

from analytics.fct_calls
where
    interaction_count > 0
    and {{ affected_calls:call_id }}
    and (
        coalesce(hold_count, 0) <> derived_hold_count
        or abs(coalesce(hold_seconds, 0) - derived_hold_seconds) > greatest(1, derived_hold_count)
    )
