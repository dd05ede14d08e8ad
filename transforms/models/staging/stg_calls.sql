-- grain: one row per call (as loaded; duplicates, if any, are left for the grain checks to see),
-- calls marked deleted upstream (reconcile: is_deleted) left out
-- Renames the API's fields to the warehouse vocabulary and casts them; no business logic.
-- Optional fields go through the runner's col: placeholder: dlt only creates a column once it has seen a
-- non-null value: a quiet field must not break the build.

with

source as (

    select * from {{ raw }}.calls
    -- every call in a full rebuild; the calls an incremental refresh touches otherwise
    where {{ affected_calls:id }}
        -- a call the API no longer returns is not in the marts (it stays in the raw table)
        and coalesce(cast({{ col:calls.is_deleted }} as boolean), false) = false

),

renamed as (

    select
        cast(id as varchar) as call_id,
        -- keys too: a "" (or blank) ClientId / CenterId names no client or center
        nullif(trim(cast({{ col:calls.client_id }} as varchar)), '') as client_id,
        nullif(trim(cast({{ col:calls.client_name }} as varchar)), '') as client_name,
        nullif(trim(cast({{ col:calls.center_id }} as varchar)), '') as center_id,
        cast(start_time as timestamptz) as start_time_utc,
        cast(start_time_local as timestamp) as start_time_local,
        cast({{ col:calls.time_zone_id }} as varchar) as time_zone_id,
        -- The API's Type is a free string; an absent one still needs a value for the grain.
        coalesce(nullif(trim(cast({{ col:calls.type }} as varchar)), ''), 'Unknown') as direction,
        nullif(trim(cast({{ col:calls.caller_name }} as varchar)), '') as caller_name,
        nullif(trim(cast({{ col:calls.caller_number }} as varchar)), '') as caller_number,
        nullif(trim(cast({{ col:calls.transfer_to_name }} as varchar)), '') as transfer_to_name,
        nullif(trim(cast({{ col:calls.transfer_to_number }} as varchar)), '')
            as transfer_to_number,
        nullif(trim(cast({{ col:calls.answered_by }} as varchar)), '') as agent,
        nullif(cast({{ col:calls.notes }} as varchar), '') as notes,
        nullif(cast({{ col:calls.server }} as varchar), '') as server,
        nullif(cast({{ col:calls.screen_pop }} as varchar), '') as screen_pop,
        coalesce(cast({{ col:calls.flagged }} as boolean), false) as is_flagged,
        nullif(cast({{ col:calls.flag_notes }} as varchar), '') as flag_notes,
        cast({{ col:calls.duration_in_seconds }} as double precision) as duration_seconds,
        cast({{ col:calls.ring_time_in_seconds }} as double precision) as ring_seconds,
        cast({{ col:calls.talk_time_in_seconds }} as double precision) as talk_seconds,
        cast({{ col:calls.hold_time_in_seconds }} as double precision) as hold_seconds,
        cast({{ col:calls.transfer_time_in_seconds }} as double precision) as transfer_seconds,
        cast({{ col:calls.work_time_in_seconds }} as double precision) as work_seconds,
        cast({{ col:calls.hold_count }} as bigint) as hold_count

    from source

)

select * from renamed
