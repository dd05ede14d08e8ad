-- grain: one row per center_id × interval_start_local × interval_start_utc × direction
-- Intervals are the center's local wall time floored to interval_minutes (int_call_flags), so a
-- DST change day has fewer local intervals (spring), never shifted ones. On the fall-back day the
-- repeated hour's local intervals occur twice: interval_start_utc (the interval's start as an
-- instant) keeps the two apart, so no interval row holds twice the real time.
-- The measures are those of fct_call_metrics_daily, defined once in
-- intermediate.int_call_metrics_rollup.

with

rollup as (

    select * from intermediate.int_call_metrics_rollup
    where {{ affected_days }} and metric_grain = 'interval'

),

settings as (

    select interval_minutes from intermediate.int_settings

),

final as (

    select
        rollup.center_id,
        rollup.interval_start_local,
        rollup.interval_start_utc,
        rollup.direction,
        cast(rollup.interval_start_local as date) as local_date,
        settings.interval_minutes,
        -- every measure, in the rollup's order (listed: not every destination has * exclude)
        rollup.calls_offered,
        rollup.calls_answered,
        rollup.calls_abandoned,
        rollup.calls_short_abandoned,
        rollup.calls_within_service_level,
        rollup.service_level_pct,
        rollup.abandon_rate_pct,
        rollup.avg_speed_of_answer_seconds,
        rollup.handle_seconds_total,
        rollup.avg_handle_time_seconds,
        rollup.talk_seconds_total,
        rollup.avg_talk_seconds,
        rollup.calls_held,
        rollup.hold_rate_pct,
        rollup.hold_seconds_total,
        rollup.avg_hold_seconds,
        rollup.max_hold_seconds,
        rollup.calls_transferred,
        rollup.transfer_rate_pct,
        rollup.calls_flagged,
        rollup.forms_completed,
        rollup.calls_repeated,
        rollup.repeat_call_rate_pct

    from rollup
    cross join settings

)

select * from final
