-- grain: one row per completed form id of a call; tombstone rows removed
-- Tombstones are the pipeline's merge bookkeeping (see stg_call_interactions), not forms.

with

source as (

    select * from {{ raw }}.calls__completed_form_ids
    where {{ affected_calls:call_id }}

),

renamed as (

    select
        cast(call_id as varchar) as call_id,
        cast({{ col:calls__completed_form_ids.form_id }} as varchar) as form_id

    from source
    where coalesce(cast({{ col:calls__completed_form_ids.is_tombstone }} as boolean), false) = false

)

select * from renamed
