-- grain: one row per interaction (call_id, seq)

with

interaction_offsets as (

    select * from intermediate.int_interaction_offsets

),

final as (

    select
        call_id,
        seq,
        interaction_type,
        started_at_utc,
        started_at_local,
        offset_seconds,
        seconds_to_next,
        description

    from interaction_offsets

)

select * from final
