-- grain: one row per interaction (call_id, seq) of a call; tombstone rows removed
-- The pipeline writes one "tombstone" row per re-read call so that a merge replaces the call's
-- old children; those rows are bookkeeping, never events, and must not reach the models.

with

source as (

    select * from {{ raw }}.calls__interactions
    where {{ affected_calls:call_id }}
        -- the children of a call marked deleted upstream go with it (see stg_calls)
        and cast(call_id as varchar) not in (
            select cast(id as varchar) from {{ raw }}.calls
            where coalesce(cast({{ col:calls.is_deleted }} as boolean), false)
        )

),

renamed as (

    select
        cast(call_id as varchar) as call_id,
        cast(seq as bigint) as seq,
        coalesce(nullif(trim(cast({{ col:calls__interactions.type }} as varchar)), ''), 'Unknown')
            as interaction_type,
        cast({{ col:calls__interactions.start_time }} as timestamptz) as started_at_utc,
        cast({{ col:calls__interactions.start_time_local }} as timestamp) as started_at_local,
        nullif(cast({{ col:calls__interactions.description }} as varchar), '') as description

    from source
    where coalesce(cast({{ col:calls__interactions.is_tombstone }} as boolean), false) = false

)

select * from renamed
