-- grain: one row per client, plus the unknown member '(unknown)'
-- Calls the API sent without a ClientId are counted under client_id '(unknown)' (int_call_flags),
-- Kimball's unknown member: the row is always here, so every fct_* row joins a client and the
-- marts' totals still add up to every call. A real client with that id would fail unique_dim_clients.

with

clients as (

    select * from staging.stg_clients

),

unknown_client as (

    select
        '(unknown)' as client_id,
        'Unknown client' as client_name,
        '(unknown)' as center_id,
        'Unknown center' as center_name

),

final as (

    select
        * replace (coalesce(center_id, '(unknown)') as center_id)

    from clients

    -- by name: the unknown member has no attributes beyond its names (the rest are NULL)
    union all by name

    select * from unknown_client

)

select * from final
