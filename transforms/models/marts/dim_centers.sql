-- grain: one row per center: those /api/centers lists, the unknown member '(unknown)', and one
-- row per center id that calls name but /api/centers does not list
-- Calls the API sent without a CenterId are counted under center_id '(unknown)' (int_call_flags),
-- Kimball's unknown member: the row is always here, so every fct_* row joins a center. A real
-- center with that id would fail unique_dim_centers. A CenterId that /api/centers does not list
-- (the pipeline reads those calls in its default zone and flags them in dq_issues) gets a row of
-- its own, 'Unlisted center', so that joining a mart to its centers loses no call.

with

centers as (

    select * from staging.stg_centers

),

calls as (

    -- the mart, not staging: an incremental refresh restricts the staging views to the calls
    -- it rebuilds, while this table is rebuilt whole
    select * from analytics.fct_calls

),

unknown_center as (

    select
        '(unknown)' as center_id,
        'Unknown center' as center_name

),

called_centers as (

    -- every center id the calls name, once: the anti join below then probes a few ids, not
    -- every call (as a LEFT JOIN of the calls it emitted every call before its filter ran:
    -- 0.05-0.06 s at 10M calls, now about 0.02 s)
    select distinct center_id from calls

),

unlisted_centers as (

    select
        called_centers.center_id,
        'Unlisted center' as center_name

    -- an anti join as a LEFT JOIN, not NOT EXISTS (see dim_clients.sql: DuckDB buffers the
    -- outer side for a correlated NOT EXISTS)
    from called_centers
    left join centers on called_centers.center_id = centers.center_id
    where
        called_centers.center_id <> '(unknown)'
        and centers.center_id is null

),

members as (

    select * from unknown_center

    union all

    select * from unlisted_centers

),

final as (

    select * from centers

    union all

    -- these members have no attributes beyond their names (the rest are NULL); listed, not
    -- by name: not every destination has UNION BY NAME
    select
        center_id,
        center_name,
        cast(null as varchar) as address_line1,
        cast(null as varchar) as city,
        cast(null as varchar) as state,
        cast(null as varchar) as postal_code,
        cast(null as varchar) as country,
        cast(null as varchar) as time_zone_id,
        cast(null as varchar) as iana_time_zone,
        cast(null as varchar) as support_email_address,
        cast(null as varchar) as third_party_account_id,
        cast(null as timestamptz) as date_last_modified

    from members

)

select * from final
