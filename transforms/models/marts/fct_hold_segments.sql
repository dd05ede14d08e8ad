-- grain: one row per hold segment (call_id, hold_seq)

with

hold_segments as (

    select * from intermediate.int_hold_segments
    where {{ affected_calls:call_id }}

),

final as (

    select
        call_id,
        hold_seq,
        hold_started_at_utc,
        hold_ended_at_utc,
        hold_seconds,
        ended_by,
        start_interaction_seq,
        end_interaction_seq

    from hold_segments

)

select * from final
