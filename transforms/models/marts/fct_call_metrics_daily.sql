-- grain: one row per client_id × center_id × local_date × direction
-- The measures of call-metrics.md per client, center, local day and direction; they are defined
-- once, in intermediate.int_call_metrics_rollup, for this mart and fct_call_metrics_interval.

with

rollup as (

    select * from intermediate.int_call_metrics_rollup
    where {{ affected_days }} and metric_grain = 'daily'

),

final as (

    select
        client_id,
        center_id,
        local_date,
        direction,
        -- every measure, in the rollup's order (listed: not every destination has * exclude)
        calls_offered,
        calls_answered,
        calls_abandoned,
        calls_short_abandoned,
        calls_within_service_level,
        service_level_pct,
        abandon_rate_pct,
        avg_speed_of_answer_seconds,
        handle_seconds_total,
        avg_handle_time_seconds,
        talk_seconds_total,
        avg_talk_seconds,
        calls_held,
        hold_rate_pct,
        hold_seconds_total,
        avg_hold_seconds,
        max_hold_seconds,
        calls_transferred,
        transfer_rate_pct,
        calls_flagged,
        forms_completed,
        calls_repeated,
        repeat_call_rate_pct

    from rollup

)

select * from final
