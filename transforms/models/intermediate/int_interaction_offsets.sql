-- grain: one row per interaction (call_id, seq)
-- Places each event on the call's time line: seconds since the call started and until the next
-- event of the same call. Ordered by seq (the API's list order), not by time, because equal or
-- out-of-order timestamps happen and the list order is what the vendor recorded.

with

interactions as (

    select * from staging.stg_call_interactions

),

calls as (

    -- a duplicated raw call id would multiply its events here; the grain checks then fail on
    -- both fct_calls and fct_call_interactions, which is the truth about such a load
    select call_id, start_time_utc from staging.stg_calls

),

next_events as (

    -- each event's successor by seq, joined rather than found by lead() over the call: the seqs
    -- of a call are 0, 1, 2, ... (the API's list order), and a hash join spills to disk where
    -- the window over every interaction of a big history did not fit the memory cap
    select
        call_id,
        seq - 1 as seq,
        started_at_utc as next_started_at_utc

    from interactions

),

offsets as (

    select
        interactions.call_id,
        interactions.seq,
        interactions.interaction_type,
        interactions.started_at_utc,
        interactions.started_at_local,
        interactions.description,
        {{ epoch(interactions.started_at_utc) }} - {{ epoch(calls.start_time_utc) }} as offset_seconds,
        {{ epoch(next_events.next_started_at_utc) }}
            - {{ epoch(interactions.started_at_utc) }} as seconds_to_next

    from interactions
    left join calls on interactions.call_id = calls.call_id
    left join next_events
        on interactions.call_id = next_events.call_id
        and interactions.seq = next_events.seq

)

select * from offsets
