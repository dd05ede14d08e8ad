-- check: unlisted_client_or_center
-- table: dim_centers
-- severity: warn
-- Calls naming a ClientId or CenterId that /api/clients or /api/centers does not list. They are
-- not lost: dim_clients / dim_centers carry an 'Unlisted client' / 'Unlisted center' row for each
-- such id. But names and time zones are unknown (the pipeline read the call's times in its
-- default zone and says so in the raw call's dq_issues): the vendor's data, a warning. Checked
-- over all calls on every refresh (table dim_centers: not a per-call check), so a center listed
-- later clears its calls' findings at once.
-- The unlisted ids are the dimensions' members that the API does not list (the dimensions,
-- rebuilt just before, hold every id the calls name); the calls are searched by those few ids.
-- When there are none, as in most refreshes, no call is read: a test of every call's ids took
-- 0.25-0.3 s a refresh at 10M calls; this takes 5 ms (by hand, 2026-12-06).

with

-- not materialized: DuckDB 1.4 otherwise materializes a CTE read more than once, here every
-- call (4.3 s at 10M calls)
calls as not materialized (

    select * from analytics.fct_calls

),

listed_clients as (

    select client_id from staging.stg_clients

),

listed_centers as (

    select center_id from staging.stg_centers

),

unlisted_clients as (

    select client_id from analytics.dim_clients
    where
        client_id <> '(unknown)'
        and client_id not in (select client_id from listed_clients)

),

unlisted_centers as (

    select center_id from analytics.dim_centers
    where
        center_id <> '(unknown)'
        and center_id not in (select center_id from listed_centers)

),

flagged_calls as (

    -- a UNION of two searches, not one with an OR: each is a join that DuckDB skips when its
    -- list of ids is empty
    select call_id from calls where client_id in (select client_id from unlisted_clients)

    union

    select call_id from calls where center_id in (select center_id from unlisted_centers)

),

unlisted as (

    select
        calls.call_id,
        calls.client_id,
        calls.center_id,
        calls.client_id in (select client_id from unlisted_clients) as is_client_unlisted,
        calls.center_id in (select center_id from unlisted_centers) as is_center_unlisted

    from calls
    where calls.call_id in (select call_id from flagged_calls)

)

select
    'fct_calls' as table_name,
    call_id as record_key,
    call_id,
    concat_ws(
        ' and ',
        case when is_client_unlisted then 'ClientId ' || client_id end,
        case when is_center_unlisted then 'CenterId ' || center_id end
    ) || ' not listed by the API' as details

from unlisted
where is_client_unlisted or is_center_unlisted
