-- check: non_negative_call_end_holds
-- table: fct_hold_segments
-- severity: error
-- A hold no interaction ended is closed by int_hold_segments at StartTime + DurationInSeconds,
-- and only when that is not before the hold started (else its end and length are NULL). A
-- negative length here is therefore impossible data our SQL produced, not the vendor's: the
-- marts must not be trusted. (Negative holds ended by an interaction are the vendor's
-- timestamps: non_negative_event_times, a warning.)

select
    'fct_hold_segments' as table_name,
    call_id || '|' || hold_seq as record_key,
    call_id,
    'hold_seconds=' || hold_seconds || ' (ended by ' || ended_by || ')' as details

from analytics.fct_hold_segments
where hold_seconds < 0 and ended_by = 'CallEnd' and {{ affected_calls:call_id }}
