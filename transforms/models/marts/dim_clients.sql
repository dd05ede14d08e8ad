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

calls as not materialized (

    -- the mart, not staging: an incremental refresh restricts the staging views to the calls
    -- it rebuilds, while this table is rebuilt whole. Read twice below, and not materialized:
    -- DuckDB would otherwise copy every call's every column first (8 s at 10M calls)
    select * from analytics.fct_calls

),

unknown_client as (

    select
        '(unknown)' as client_id,
        'Unknown client' as client_name,
        '(unknown)' as center_id,
        'Unknown center' as center_name

),

called_clients as (

    -- every client id the calls name, once: the anti join below then probes a few ids, not
    -- every call (as a LEFT JOIN of the calls it emitted every call before its filter ran)
    select distinct client_id from calls

),

unlisted_client_ids as (

    select called_clients.client_id

    -- an anti join as a LEFT JOIN, not NOT EXISTS: DuckDB 1.4 runs a correlated NOT EXISTS as a
    -- "delim join" that buffers its whole outer side first (at 10M calls, when that side was
    -- every call: 0.13 s, 0.46 s spilling under a 224 MB cap)
    from called_clients
    left join clients on called_clients.client_id = clients.client_id
    where
        called_clients.client_id <> '(unknown)'
        and clients.client_id is null

),

calls_per_center as (

    -- the unlisted clients' calls per center (none to read when every client is listed: DuckDB
    -- then skips the scan; grouping every call by two keys took 0.05 s at 10M calls)
    select
        client_id,
        center_id,
        count(*) as calls_named
    from calls
    where client_id in (select client_id from unlisted_client_ids)
    group by client_id, center_id

),

unlisted_centers_ranked as (

    select
        client_id,
        center_id,
        -- one center per client, as for listed clients: the one most of its calls name (ties:
        -- the first in sort order, the same on every destination); a NULL center ranks last,
        -- so it comes first only when no call names one
        row_number() over (
            partition by client_id
            order by
                case when center_id is null then 1 else 0 end,
                calls_named desc,
                center_id
        ) as center_rank
    from calls_per_center

),

unlisted_clients as (

    select
        client_id,
        'Unlisted client' as client_name,
        center_id
    from unlisted_centers_ranked
    where center_rank = 1

),

members as (

    select client_id, client_name, center_id, center_name from unknown_client

    union all

    select client_id, client_name, center_id, cast(null as varchar) from unlisted_clients

),

final as (

    select
        client_id,
        client_name,
        coalesce(center_id, '(unknown)') as center_id,
        center_name,
        third_party_account_id,
        industry_id,
        industry_name,
        location,
        call_allowance_type,
        call_allowance_amount,
        date_last_modified

    from clients

    union all

    -- these members have no attributes beyond their names (the rest are NULL); listed, not
    -- by name: not every destination has UNION BY NAME
    select
        client_id,
        client_name,
        center_id,
        center_name,
        cast(null as varchar) as third_party_account_id,
        cast(null as varchar) as industry_id,
        cast(null as varchar) as industry_name,
        cast(null as varchar) as location,
        cast(null as varchar) as call_allowance_type,
        cast(null as double precision) as call_allowance_amount,
        cast(null as timestamptz) as date_last_modified

    from members

)

select * from final
