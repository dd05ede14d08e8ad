-- grain: one row per call (every column of stg_calls, plus the repeat-call flag)
-- A call is a repeat call (the first-call-resolution proxy) when the same caller number calls the
-- same client again within the repeat window after it. lead() over the caller's calls finds the
-- next one in a single sorted pass: 1M calls need no self-join, and since the flag is added to
-- each call row (not joined back) a duplicated raw call id cannot multiply rows downstream.
-- Only incoming calls count on both sides: an outgoing call's number is the callee's, and a
-- callback is not a failed resolution. Numbers are compared by their digits so
-- "+1 (312) 555-0001" = "13125550001"; withheld numbers ("Anonymous", "") have no digits.

with

calls as (

    select
        *,
        lower(direction) = 'incoming' and client_id is not null as is_repeat_candidate,
        nullif(regexp_replace(caller_number, '[^0-9]', '', 'g'), '') as caller_digits

    from staging.stg_calls

),

settings as (

    select repeat_call_window_hours from intermediate.int_settings

),

next_call as (

    select
        *,
        lead(call_id) over by_caller as next_call_id,
        lead(start_time_utc) over by_caller as next_start_time_utc

    from calls
    -- candidates share partitions only with candidates; the rest get no next call below
    window by_caller as (
        partition by is_repeat_candidate, client_id, caller_digits
        order by start_time_utc, call_id
    )

),

flagged as (

    select
        next_call.*,
        coalesce(
            next_call.is_repeat_candidate
            and next_call.caller_digits is not null
            and epoch(next_call.next_start_time_utc) - epoch(next_call.start_time_utc)
            <= settings.repeat_call_window_hours * 3600,
            false
        ) as is_repeat_call

    from next_call
    cross join settings

),

final as (

    select
        * exclude (is_repeat_candidate, caller_digits, next_call_id, next_start_time_utc),
        case when is_repeat_call then next_call_id end as repeat_call_id

    from flagged

)

select * from final
