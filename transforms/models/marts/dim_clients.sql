-- grain: one row per client: those /api/clients lists, the unknown member '(unknown)', and one
-- row per client id that calls name but /api/clients does not list
-- Calls the API sent without a ClientId are counted under client_id '(unknown)' (int_call_flags),
-- Kimball's unknown member: the row is always here, so every fct_* row joins a client and the
-- marts' totals still add up to every call. A real client with that id would fail
-- unique_dim_clients. A client without a CenterId points at the unknown center likewise. A
-- ClientId that /api/clients does not list gets a row of its own, 'Unlisted client', with the
-- center of its calls, so that joining a mart to its clients loses no call.

with

clients as (

    select * from staging.stg_clients

),

calls as (

    -- the mart, not staging: an incremental refresh restricts the staging views to the calls
    -- it rebuilds, while this table is rebuilt whole
    select * from analytics.fct_calls

),

unknown_client as (

    select
        '(unknown)' as client_id,
        'Unknown client' as client_name,
        '(unknown)' as center_id,
        'Unknown center' as center_name

),

unlisted_clients as (

    select
        calls.client_id,
        'Unlisted client' as client_name,
        -- one center per client, as for listed clients: the one most of its calls name
        mode(calls.center_id) as center_id

    from calls
    anti join clients using (client_id)
    where calls.client_id <> '(unknown)'
    group by calls.client_id

),

final as (

    select
        * replace (coalesce(center_id, '(unknown)') as center_id)

    from clients

    -- by name: these members have no attributes beyond their names (the rest are NULL)
    union all by name

    select * from unknown_client

    union all by name

    select * from unlisted_clients

)

select * from final
