-- grain: one row per repeat call (call_id), with the later call that made it one
-- A call is a repeat call (the first-call-resolution proxy) when the same caller number calls the
-- same client again within the repeat window after it. lead() over the caller's calls finds the
-- next one in a single sorted pass: 1M calls need no self-join. The sort carries only the four
-- columns it needs and only the candidates; int_call_flags joins the (few) repeat calls back.
-- Only incoming calls count on both sides: an outgoing call's number is the callee's, and a
-- callback is not a failed resolution. Numbers are compared by their digits so
-- "+1 (312) 555-0001" = "13125550001"; withheld numbers ("Anonymous", "") have no digits.

with

calls as (

    select call_id, client_id, start_time_utc, caller_number
    from staging.stg_calls
    where lower(direction) = 'incoming' and client_id is not null

),

settings as (

    select repeat_call_window_hours from intermediate.int_settings

),

candidates as (

    select
        call_id,
        client_id,
        start_time_utc,
        nullif(regexp_replace(caller_number, '[^0-9]', '', 'g'), '') as caller_digits

    from calls

),

next_call as (

    select
        call_id,
        caller_digits,
        start_time_utc,
        lead(call_id) over by_caller as next_call_id,
        lead(start_time_utc) over by_caller as next_start_time_utc

    from candidates
    -- withheld numbers share a NULL partition and are dropped after the window: a filter on
    -- caller_digits here would be pushed below the projection and run the regex twice
    window by_caller as (partition by client_id, caller_digits order by start_time_utc, call_id)

),

repeats as (

    select
        next_call.call_id,
        next_call.next_call_id

    from next_call
    cross join settings
    -- one expression on purpose, for the same reason (a conjunct on caller_digits alone would
    -- be pushed below the window)
    where coalesce(
        next_call.caller_digits is not null
        and {{ epoch(next_call.next_start_time_utc) }} - {{ epoch(next_call.start_time_utc) }}
        <= settings.repeat_call_window_hours * 3600,
        false
    )

),

final as (

    -- one row per call_id even if the raw table repeats an id: int_call_flags joins this back,
    -- and a fan-out there would hide the true number of duplicates from the grain check
    select call_id, min(next_call_id) as repeat_call_id
    from repeats
    group by call_id

)

select * from final
