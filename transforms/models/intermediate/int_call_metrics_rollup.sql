-- grain: one row per metric_grain × group:
--   'daily':    client_id × center_id × local_date × direction
--   'interval': center_id × interval_start_local × interval_start_utc × direction (local_date
--     is set on these rows too: the date of interval_start_local)
--     (interval_start_utc tells the two local 01:00 hours of the DST fall-back day apart)
-- The measures of call-metrics.md, written once for both aggregate marts: GROUPING SETS computes
-- both groupings in one scan of fct_calls, and the ratios below are the only copy of their
-- formulas. Sums of seconds are exact (the dialect's exact_sum: the same whatever the order of
-- the rows, so an incremental refresh equals a full rebuild to the bit). Totals are 0 when nothing
-- qualifies; a ratio whose denominator is 0 is NULL;
-- "incoming only" measures are NULL on other directions. Each grain is checked (unique, not
-- null) on the mart that selects it.

with

calls as (

    select * from analytics.fct_calls
    -- every day in a full rebuild; the center-days an incremental refresh touches otherwise
    where {{ affected_days }}

),

settings as (

    select * from intermediate.int_settings

),

aggregated as (

    select
        -- grouping() tells the two sets apart: a NULL client_id is data, not a missing column
        case when grouping(interval_start_local) = 0 then 'interval' else 'daily' end
            as metric_grain,
        client_id,
        center_id,
        local_date,
        interval_start_local,
        interval_start_utc,
        direction,
        bool_and(is_incoming) as is_incoming,
        count(*) as calls_offered,
        cast({{ count_if(is_answered) }} as bigint) as calls_answered,
        cast({{ count_if(is_abandoned) }} as bigint) as calls_abandoned,
        cast({{ count_if(is_short_abandon) }} as bigint) as calls_short_abandoned,
        cast({{ count_if(is_within_service_level) }} as bigint) as calls_within_service_level,
        {{ exact_sum(speed_of_answer_seconds) }} as speed_of_answer_total,
        {{ exact_sum(coalesce(handle_time_seconds, 0)) }} as handle_seconds_total,
        {{ exact_sum(case when is_answered then coalesce(talk_seconds, 0) else 0 end) }}
            as talk_seconds_total,
        cast({{ count_if(is_answered and is_held) }} as bigint) as calls_held,
        -- answered calls only: calls_held (the divisor) are answered calls
        {{ exact_sum(case when is_answered then coalesce(hold_seconds, 0) else 0 end) }}
            as hold_seconds_total,
        max(case when is_answered then coalesce(hold_seconds, 0) end) as max_hold_seconds,
        cast({{ count_if(is_transferred) }} as bigint) as calls_transferred,
        cast({{ count_if(is_flagged) }} as bigint) as calls_flagged,
        cast(sum(forms_completed) as bigint) as forms_completed,
        cast({{ count_if(is_repeat_call) }} as bigint) as calls_repeated

    from calls
    group by grouping sets (
        (client_id, center_id, local_date, direction),
        -- local_date adds no group (it is the date of interval_start_local) but keys the
        -- interval rows by day too, as the incremental refresh replaces them
        (center_id, local_date, interval_start_local, interval_start_utc, direction)
    )

),

final as (

    select
        aggregated.metric_grain,
        aggregated.client_id,
        aggregated.center_id,
        aggregated.local_date,
        aggregated.interval_start_local,
        aggregated.interval_start_utc,
        aggregated.direction,
        aggregated.calls_offered,
        aggregated.calls_answered,
        aggregated.calls_abandoned,
        aggregated.calls_short_abandoned,
        aggregated.calls_within_service_level,
        case
            when aggregated.is_incoming then
                100.0 * cast(aggregated.calls_within_service_level as double precision) / nullif(
                    case settings.service_level_formula
                        when 'answered_and_abandoned'
                            then aggregated.calls_answered + aggregated.calls_abandoned
                        when 'offered' then aggregated.calls_offered
                        when 'answered' then aggregated.calls_answered
                    end,
                    0
                )
        end as service_level_pct,
        case
            when aggregated.is_incoming then
                100.0 * cast(aggregated.calls_abandoned as double precision)
                / nullif(aggregated.calls_offered, 0)
        end as abandon_rate_pct,
        case
            when aggregated.is_incoming
                then aggregated.speed_of_answer_total / nullif(aggregated.calls_answered, 0)
        end as avg_speed_of_answer_seconds,
        aggregated.handle_seconds_total,
        aggregated.handle_seconds_total / nullif(aggregated.calls_answered, 0)
            as avg_handle_time_seconds,
        aggregated.talk_seconds_total,
        aggregated.talk_seconds_total / nullif(aggregated.calls_answered, 0) as avg_talk_seconds,
        aggregated.calls_held,
        100.0 * cast(aggregated.calls_held as double precision) / nullif(aggregated.calls_answered, 0) as hold_rate_pct,
        aggregated.hold_seconds_total,
        aggregated.hold_seconds_total / nullif(aggregated.calls_held, 0) as avg_hold_seconds,
        aggregated.max_hold_seconds,
        aggregated.calls_transferred,
        100.0 * cast(aggregated.calls_transferred as double precision) / nullif(aggregated.calls_answered, 0)
            as transfer_rate_pct,
        aggregated.calls_flagged,
        aggregated.forms_completed,
        aggregated.calls_repeated,
        100.0 * cast(aggregated.calls_repeated as double precision) / nullif(aggregated.calls_answered, 0)
            as repeat_call_rate_pct

    from aggregated
    cross join settings

)

select * from final
