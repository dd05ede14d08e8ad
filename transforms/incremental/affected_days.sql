-- grain: one row per (center_id, local_date) of a rebuilt call in analytics.fct_calls
-- The center-days whose daily, interval and agent rows an incremental refresh replaces. Run
-- twice: before fct_calls is updated (where the rebuilt calls were: an edit may move a call to
-- another center) and after (where they are now); fct_calls holds the one derivation of both.
-- Every rebuilt call's row starts within the scope's range, before and after (affected_calls),
-- or has no start time: the range lets the zone maps of the time-ordered table skip history
-- before the id search runs (an OR of the two conditions would keep them from it), and the
-- calls without one are searched for only when there are some (DuckDB skips a semi join's scan
-- when its list of ids is empty; a filter on NULL alone scanned 10M rows once fct_calls had
-- rows inserted in the refresh's transaction).

with

rebuilt_calls as (

    select call_id from intermediate.affected_calls where is_rebuilt

),

rebuilt_without_start as (

    select call_id from intermediate.affected_calls where is_rebuilt and is_without_start

),

scope_range as (

    select
        min(scope_first_start_utc) as first_start_utc,
        max(scope_last_start_utc) as last_start_utc
    from intermediate.affected_calls

),

final as (

    select center_id, local_date
    from analytics.fct_calls
    where
        start_time_utc between (select first_start_utc from scope_range)
        and (select last_start_utc from scope_range)
        and call_id in (select call_id from rebuilt_calls)

    union

    select center_id, local_date
    from analytics.fct_calls
    where
        start_time_utc is null
        and call_id in (select call_id from rebuilt_without_start)

)

select * from final
