-- check: non_negative_event_times
-- table: fct_call_interactions
-- severity: warn
-- Negative times on the call's time line: an interaction before the call's StartTime
-- (offset_seconds), an interaction timed before the one listed ahead of it (seconds_to_next), and
-- so a hold that ends before it started (hold_seconds of a hold ended by an interaction). Each
-- is a difference of two StartTimes as the vendor sent them, in the vendor's list order: the
-- vendor's data, not a fault of the transforms. Report it, do not stop the refresh.
-- Holds closed at the call's end are the SQL's own arithmetic: non_negative_call_end_holds.

select
    'fct_call_interactions' as table_name,
    call_id || '|' || seq as record_key,
    call_id,
    concat_ws(
        ', ',
        case when offset_seconds < 0 then 'offset_seconds=' || offset_seconds end,
        case when seconds_to_next < 0 then 'seconds_to_next=' || seconds_to_next end
    ) as details

from analytics.fct_call_interactions
where (offset_seconds < 0 or seconds_to_next < 0) and {{ affected_calls:call_id }}

union all

select
    'fct_hold_segments' as table_name,
    call_id || '|' || hold_seq as record_key,
    call_id,
    'hold_seconds=' || hold_seconds || ' (ended by ' || ended_by || ')' as details

from analytics.fct_hold_segments
where hold_seconds < 0 and ended_by <> 'CallEnd' and {{ affected_calls:call_id }}
