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
        -- every measure, in the rollup's order
        * exclude (
            metric_grain,
            client_id,
            center_id,
            local_date,
            interval_start_local,
            interval_start_utc,
            direction
        )

    from rollup

)

select * from final
