-- grain: one row per call that has at least one interaction
-- What the event list says about a call: transfer attempts and their outcome, and the holds
-- derived from the events, to set beside the vendor's HoldCount / HoldTimeInSeconds.

with

interactions as (

    select call_id, lower(interaction_type) as event
    from staging.stg_call_interactions

),

hold_segments as (

    -- a table: restricted here like the staging views are
    select * from intermediate.int_hold_segments
    where {{ affected_calls:call_id }}

),

events_per_call as (

    select
        call_id,
        count(*) as interaction_count,
        cast({{ count_if(event = 'transferattempt') }} as bigint) as transfer_attempts,
        cast({{ count_if(event = 'transfercompleted') }} as bigint) as transfers_completed,
        cast({{ count_if(event = 'transferstopped') }} as bigint) as transfers_stopped

    from interactions
    group by call_id

),

holds_per_call as (

    select
        call_id,
        count(*) as derived_hold_count,
        -- a hold of unknown length (never ended, call end unknown) makes the sum unknown: a
        -- partial sum would understate it without saying so
        case when count(hold_seconds) = count(*) then sum(hold_seconds) end
            as derived_hold_seconds

    from hold_segments
    group by call_id

),

final as (

    select
        events_per_call.*,
        coalesce(holds_per_call.derived_hold_count, 0) as derived_hold_count,
        -- 0 for a call with no holds; NULL kept for a hold of unknown length
        case
            when holds_per_call.call_id is null then 0 else holds_per_call.derived_hold_seconds
        end as derived_hold_seconds

    from events_per_call
    left join holds_per_call on events_per_call.call_id = holds_per_call.call_id

)

select * from final
