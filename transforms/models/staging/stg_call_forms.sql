-- grain: one row per completed form id of a call; tombstone rows removed
-- Tombstones are the pipeline's merge bookkeeping (see stg_call_interactions), not forms.

with

source as (

    select * from {{ raw }}.calls__completed_form_ids
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
        cast({{ col:calls__completed_form_ids.form_id }} as varchar) as form_id

    from source
    where coalesce(cast({{ col:calls__completed_form_ids.is_tombstone }} as boolean), false) = false

)

select * from renamed
