-- grain: one row per client

with

source as (

    select * from {{ raw }}.clients

),

renamed as (

    select
        cast(id as varchar) as client_id,
        nullif(trim(cast({{ col:clients.name }} as varchar)), '') as client_name,
        nullif(trim(cast({{ col:clients.center_id }} as varchar)), '') as center_id,
        cast({{ col:clients.center_name }} as varchar) as center_name,
        cast({{ col:clients.third_party_account_id }} as varchar) as third_party_account_id,
        cast({{ col:clients.industry_id }} as varchar) as industry_id,
        cast({{ col:clients.industry_name }} as varchar) as industry_name,
        cast({{ col:clients.location }} as varchar) as location,
        cast({{ col:clients.call_allowance_type }} as varchar) as call_allowance_type,
        cast({{ col:clients.call_allowance_amount }} as double precision) as call_allowance_amount,
        -- try_cast: ServiceStack may send '/Date(...)/' text; an odd date must not stop the build
        {{ try_timestamptz({{ col:clients.date_last_modified }}) }} as date_last_modified

    from source

)

select * from renamed
