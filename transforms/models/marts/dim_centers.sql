-- grain: one row per center, plus the unknown member '(unknown)'
-- Calls the API sent without a CenterId are counted under center_id '(unknown)' (int_call_flags),
-- Kimball's unknown member: the row is always here, so every fct_* row joins a center. A real
-- center with that id would fail unique_dim_centers.

with

centers as (

    select * from staging.stg_centers

),

unknown_center as (

    select
        '(unknown)' as center_id,
        'Unknown center' as center_name

),

final as (

    select * from centers

    -- by name: the unknown member has no attributes beyond its name (the rest are NULL)
    union all by name

    select * from unknown_center

)

select * from final
