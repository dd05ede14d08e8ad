-- check: non_negative_durations
-- table: fct_calls
-- severity: warn
-- A negative duration or hold count is the vendor's data, not a fault of the transforms: report
-- it, do not stop the refresh.

select
    'fct_calls' as table_name,
    call_id as record_key,
    call_id,
    concat_ws(
        ', ',
        case when duration_seconds < 0 then 'duration_seconds=' || duration_seconds end,
        case when ring_seconds < 0 then 'ring_seconds=' || ring_seconds end,
        case when talk_seconds < 0 then 'talk_seconds=' || talk_seconds end,
        case when hold_seconds < 0 then 'hold_seconds=' || hold_seconds end,
        case when transfer_seconds < 0 then 'transfer_seconds=' || transfer_seconds end,
        case when work_seconds < 0 then 'work_seconds=' || work_seconds end,
        case when hold_count < 0 then 'hold_count=' || hold_count end
    ) as details

from analytics.fct_calls
where
    (
        duration_seconds < 0
        or ring_seconds < 0
        or talk_seconds < 0
        or hold_seconds < 0
        or transfer_seconds < 0
        or work_seconds < 0
        or hold_count < 0
    )
    and {{ affected_calls:call_id }}
