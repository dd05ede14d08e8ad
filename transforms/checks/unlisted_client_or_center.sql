-- check: unlisted_client_or_center
-- table: dim_centers
-- severity: warn
-- Calls naming a ClientId or CenterId that /api/clients or /api/centers does not list. They are
-- not lost: dim_clients / dim_centers carry an 'Unlisted client' / 'Unlisted center' row for each
-- such id. But names and time zones are unknown (the pipeline read the call's times in its
-- default zone and says so in the raw call's dq_issues): the vendor's data, a warning. Checked
-- over all calls on every refresh (table dim_centers: not a per-call check), so a center listed
-- later clears its calls' findings at once.

with

calls as (

    select * from analytics.fct_calls

),

listed_clients as (

    select client_id from staging.stg_clients

),

listed_centers as (

    select center_id from staging.stg_centers

),

unlisted as (

    select
        calls.call_id,
        calls.client_id,
        calls.center_id,
        calls.client_id <> '(unknown)'
            and calls.client_id not in (select client_id from listed_clients)
            as is_client_unlisted,
        calls.center_id <> '(unknown)'
            and calls.center_id not in (select center_id from listed_centers)
            as is_center_unlisted

    from calls

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
