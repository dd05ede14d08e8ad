-- grain: one row per center
-- The API nests the address ({"Address": {"City": ...}}); the pipeline flattens it to
-- address_city etc. Both the flattened and the bare names are accepted so either load works.

with

source as (

    select * from {{ raw }}.centers

),

renamed as (

    select
        cast(id as varchar) as center_id,
        nullif(trim(cast({{ col:centers.name }} as varchar)), '') as center_name,
        coalesce(
            cast({{ col:centers.address_line1 }} as varchar), cast({{ col:centers.line1 }} as varchar)
        ) as address_line1,
        coalesce(
            cast({{ col:centers.address_city }} as varchar), cast({{ col:centers.city }} as varchar)
        ) as city,
        coalesce(
            cast({{ col:centers.address_state }} as varchar), cast({{ col:centers.state }} as varchar)
        ) as state,
        coalesce(
            cast({{ col:centers.address_postal_code }} as varchar),
            cast({{ col:centers.postal_code }} as varchar)
        ) as postal_code,
        coalesce(
            cast({{ col:centers.address_country }} as varchar),
            cast({{ col:centers.country }} as varchar)
        ) as country,
        cast({{ col:centers.time_zone_id }} as varchar) as time_zone_id,
        cast({{ col:centers.iana_time_zone }} as varchar) as iana_time_zone,
        cast({{ col:centers.support_email_address }} as varchar) as support_email_address,
        cast({{ col:centers.third_party_account_id }} as varchar) as third_party_account_id,
        -- try_cast: ServiceStack may send '/Date(...)/' text; an odd date must not stop the build
        {{ try_timestamptz({{ col:centers.date_last_modified }}) }} as date_last_modified

    from source

)

select * from renamed
