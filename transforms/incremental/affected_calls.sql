-- grain: one row per call an incremental refresh reads (call_id); is_rebuilt: its rows in the
-- per-call tables are replaced (else it is only read, as context for the repeat-call window);
-- is_new: the per-call tables have no rows of it yet
-- The runner fills {{ watermark }} (the newest raw _dlt_load_id the marts reflect),
-- {{ repeat_window_seconds }} and {{ old_rows_by_range }} (see searched_by_id);
-- staging.stg_calls is the unrestricted view here.
--
-- Changed: every call whose raw row a later load wrote. A re-read call is merged again with its
-- load's id, and its children are replaced in the same load (also when an edit removed them
-- all: the call row itself carries the new id), so the calls table alone would do; the child
-- tables are read too so that no stamped row can go unseen.
-- Repeat calls: a call is a repeat call when the next call of its caller comes within the
-- window (int_repeat_calls). A changed call can start or stop being that next call for the
-- earlier calls of its number within the window, before or after the edit: those are rebuilt
-- too. Every call of the number within the window on either side is read, so that each rebuilt
-- call still sees its own next call. Numbers are matched by digits alone, a superset of the
-- (client, digits) partition int_repeat_calls uses: more context is harmless, less is wrong.

with

changed_ids as (

    select cast(id as varchar) as call_id
    from {{ raw }}.calls
    where _dlt_load_id > {{ watermark }}

    union

    select cast(call_id as varchar)
    from {{ raw }}.calls__interactions
    where _dlt_load_id > {{ watermark }}

    union

    select cast(call_id as varchar)
    from {{ raw }}.calls__completed_form_ids
    where _dlt_load_id > {{ watermark }}

),

new_versions as (

    -- after the edit: the raw rows the loads since the watermark wrote; the load id, a
    -- constant, lets the zone maps of the load-ordered table skip history
    select cast(id as varchar) as call_id, cast(start_time as timestamptz) as start_time_utc
    from {{ raw }}.calls
    where _dlt_load_id > {{ watermark }}

),

searched_by_id as (

    -- The changed calls whose old version is searched for by id: those without a raw row of a
    -- later load that has a start time (changed through their children alone, or without a
    -- start time now), or all of them when the runner says so (false: PostgreSQL, or a
    -- refresh whose search by range missed an old row, see runner.py)
    select call_id
    from changed_ids
    where
        not {{ old_rows_by_range }}
        or call_id not in (
            select call_id from new_versions where start_time_utc is not null
        )

),

old_versions as (

    -- before the edit, as the marts have it. A re-read call starts where it started, so its
    -- old version is searched for between the earliest and the latest start time of the new
    -- versions: constants for the zone maps of the time-ordered table, where a search by id
    -- reads all of it (0.3 s at 10M calls). An edit that moved a call's start out of that range
    -- leaves its old row unfound: the refresh then keeps both rows, fct_calls holds one more
    -- row than staging.stg_calls, and the runner redoes the refresh with every old version
    -- searched for by id.
    select call_id, caller_number, start_time_utc
    from analytics.fct_calls
    where
        start_time_utc between (select min(start_time_utc) from new_versions)
        and (select max(start_time_utc) from new_versions)
        and call_id in (select call_id from changed_ids)

    union

    select call_id, caller_number, start_time_utc
    from analytics.fct_calls
    where call_id in (select call_id from searched_by_id)

),

without_start as (

    -- changed calls with a version, before or after the edit, that has no start time (a
    -- grain-check error): outside any range of start times, affected_days finds them by id
    select call_id from old_versions where start_time_utc is null
    union
    select call_id from new_versions where start_time_utc is null

),

changed_range as (

    -- The changed calls' start times, before and after the edit (the raw row is the call after
    -- it), widened by the repeat window: every call read below starts in it, and so does every
    -- rebuilt call's row in fct_calls, before and after (affected_days searches it so). A range
    -- on the start time is what lets the staging reads skip most of history (the raw table is
    -- in load order, so its zone maps hold) before the view's casts and trims run on its rows.
    -- A call changed through its children alone kept its row, so its start time is in
    -- old_versions already (the marts held it as of the watermark), or staging leaves it out
    -- (deleted upstream) and nothing of it is read.
    select
        {{ add_seconds(min(start_time_utc), -{{ repeat_window_seconds }}) }} as first_start_utc,
        {{ add_seconds(max(start_time_utc), {{ repeat_window_seconds }}) }} as last_start_utc
    from (
        select start_time_utc from old_versions
        union all
        select start_time_utc from new_versions
    ) as versions

),

changed_versions as (

    select call_id, caller_number, start_time_utc from old_versions

    union all

    -- after the edit, as staging has it
    select call_id, caller_number, start_time_utc
    from staging.stg_calls
    where
        call_id in (select call_id from changed_ids)
        and start_time_utc between (select first_start_utc from changed_range)
        and (select last_start_utc from changed_range)

),

changed_numbers as (

    select distinct
        nullif(regexp_replace(caller_number, '[^0-9]', '', 'g'), '') as caller_digits,
        start_time_utc
    from changed_versions

),

days_in_reach as (

    -- UTC day numbers within the window of a changed call: a cheap filter on every call
    -- before the regex runs on the few left
    select distinct {{ integer_rows(
        cast(floor(({{ epoch(start_time_utc) }} - {{ repeat_window_seconds }}) / 86400) as bigint),
        cast(floor(({{ epoch(start_time_utc) }} + {{ repeat_window_seconds }}) / 86400) as bigint)
    ) }} as utc_day
    from changed_numbers
    where caller_digits is not null

),

nearby_calls as (

    select
        call_id,
        start_time_utc,
        nullif(regexp_replace(caller_number, '[^0-9]', '', 'g'), '') as caller_digits
    from staging.stg_calls
    where
        start_time_utc between (select first_start_utc from changed_range)
        and (select last_start_utc from changed_range)
        and cast(floor({{ epoch(start_time_utc) }} / 86400) as bigint)
        in (select utc_day from days_in_reach)

),

same_caller as (

    select
        nearby_calls.call_id,
        -- at or before a changed call: its next call may have changed
        bool_or(nearby_calls.start_time_utc <= changed_numbers.start_time_utc) as is_rebuilt

    from nearby_calls
    inner join changed_numbers
        on nearby_calls.caller_digits = changed_numbers.caller_digits
        and abs({{ epoch(nearby_calls.start_time_utc) }} - {{ epoch(changed_numbers.start_time_utc) }})
        <= {{ repeat_window_seconds }}
    group by nearby_calls.call_id

),

scope as (

    -- is_new: a changed call the marts do not hold yet, so it has no rows to delete (the
    -- refresh then skips searching the tables for them: most scheduled runs only add calls).
    -- Only the changed calls' own row says it (a changed call is also among the calls of its
    -- number, where nothing is known of it); the calls read around them are never new.
    -- The calls read around them start within the range (they were found in it).
    select
        call_id,
        bool_or(is_rebuilt) as is_rebuilt,
        bool_or(is_new) as is_new,
        bool_or(is_without_start) as is_without_start
    from (
        select
            call_id,
            true as is_rebuilt,
            not exists (
                select 1 from old_versions where old_versions.call_id = changed_ids.call_id
            ) as is_new,
            call_id in (select call_id from without_start) as is_without_start
        from changed_ids
        union all
        select call_id, is_rebuilt, false, false from same_caller
    ) as calls
    group by call_id

),

final as (

    -- the range on every row (one per refresh): affected_days narrows its search of fct_calls
    -- by it, and finds the calls without a start time apart
    select
        scope.call_id,
        scope.is_rebuilt,
        scope.is_new,
        scope.is_without_start,
        changed_range.first_start_utc as scope_first_start_utc,
        changed_range.last_start_utc as scope_last_start_utc
    from scope
    cross join changed_range

)

select * from final
